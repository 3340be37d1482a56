"""The demo commune a newcomer loads to try the gateway."""
from sqlalchemy import func, select
from werkzeug.security import check_password_hash

from gateway.models import Area, Official, Resident
from gateway.phone import normalize


def test_demo_town_has_14_neighbourhoods_households_and_officials(app):
    runner = app.test_cli_runner()
    result = runner.invoke(args=["demo", "load"])
    assert result.exit_code == 0, result.output
    from gateway.db import get_db

    with app.app_context():
        db = get_db()
        commune = db.scalar(select(Area).where(Area.parent_id.is_(None)))
        assert commune.name == "Thị trấn Tân Lập"
        assert len(commune.children) == 14
        assert all(len(n.children) >= 2 for n in commune.children)  # teams (tổ)
        people = list(db.scalars(select(Resident)))
        assert len(people) == 320
        assert all(normalize(p.phone) == p.phone for p in people)
        assert all(p.area.level == "team" for p in people)
        elderly = sum(p.is_elderly for p in people)
        assert 0.1 < elderly / len(people) < 0.35
        assert 0 < sum(p.is_poor for p in people) < 0.15 * len(people)
        assert sum(p.no_smartphone for p in people) > sum(p.no_smartphone for p in people if not p.is_elderly)
        roles = {o.login: o.role for o in db.scalars(select(Official))}
        assert roles == {"admin": "admin", "truongkp1": "leader", "tanloi": "leader", "loa": "operator"}
        leader = db.scalar(select(Official).where(Official.login == "truongkp1"))
        assert [a.code for a in leader.areas] == ["KP1", "KP2"]
        assert check_password_hash(leader.password_hash, "demo1234")
        assert commune.inherited("quiet_hours") == "21:00-06:30"
        assert leader.areas[0].inherited("hotline_number") == commune.hotline_number

    again = runner.invoke(args=["demo", "load"])
    assert "already loaded" in again.output
    with app.app_context():
        assert get_db().scalar(select(func.count()).select_from(Resident)) == 320


def test_area_listing(app, demo):
    out = app.test_cli_runner().invoke(args=["areas", "list"]).output
    assert "Thị trấn Tân Lập [TANLAP]" in out and "  Thôn Tân Lợi [TANLOI]" in out and "    Tổ 1 [TANLOIT1]" in out


def test_officials_create(app, demo):
    runner = app.test_cli_runner()
    result = runner.invoke(args=["officials", "create", "kp5", "--role", "leader", "--area", "KP5"],
                           input="s3cret-pass\ns3cret-pass\n")
    assert result.exit_code == 0, result.output
    dup = runner.invoke(args=["officials", "create", "kp5"], input="x\nx\n")
    assert dup.exit_code != 0 and "already exists" in dup.output
    unknown = runner.invoke(args=["officials", "create", "kp99", "--area", "KP99"], input="x\nx\n")
    assert unknown.exit_code != 0 and "Không có khu vực mã 'KP99'" in unknown.output
