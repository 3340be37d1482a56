"""A province on one install: the demo province, one announcement to every commune (each with
its own hotline), the dashboard's coverage and failure list per official, and setting up a
real commune (command and first-run page)."""
import pytest
from sqlalchemy import func, select

from gateway.broadcast import service
from gateway.db import get_db
from gateway.demo import load_province, province_phone
from gateway.models import Area, Delivery, Official, OutboxMessage, Report, Resident
from gateway.phone import normalize
from gateway.queue import drain
from gateway.sms.replies import hotline_text
from tests.console_helpers import csrf, login

PASSWORD = "demo1234"


def test_demo_province_has_communes_villages_teams_and_households(app):
    result = app.test_cli_runner().invoke(args=["demo", "load", "--province", "--communes", "3", "--households", "40"])
    assert result.exit_code == 0, result.output
    assert "3 communes, 120 households" in result.output
    with app.app_context():
        db = get_db()
        province = db.scalar(select(Area).where(Area.level == "province"))
        communes = province.children
        assert len(communes) == 3 and all(c.level == "commune" for c in communes)
        assert all(len(c.children) == 10 and all(len(v.children) == 3 for v in c.children) for c in communes)
        assert len({c.hotline_number for c in communes}) == 3
        people = list(db.scalars(select(Resident)))
        assert len(people) == 120 and all(p.area.level == "team" for p in people)
        assert all(normalize(p.phone) == p.phone for p in people)
        assert db.scalar(select(func.count()).select_from(Report)) == 60
        roles = {o.login: o.role for o in db.scalars(select(Official))}
        assert roles == {"tinh": "province", "xa001": "admin", "xa002": "admin", "xa003": "admin"}
    again = app.test_cli_runner().invoke(args=["demo", "load", "--province", "--communes", "3"])
    assert "already loaded" in again.output


def test_province_phones_are_valid_and_distinct():
    phones = [province_phone(i) for i in range(0, 400_000, 7)]
    assert len(set(phones)) == len(phones)
    assert all(normalize(p) == p for p in phones[::97])


def test_one_announcement_reaches_every_commune_with_its_own_hotline(any_app):
    app = any_app
    with app.app_context():
        db = get_db()
        province = load_province(db, communes=3, households=6, villages=2, teams=1, password=PASSWORD)
        official = db.scalar(select(Official).where(Official.login == "tinh"))
        ann = service.create(db, official=official, title="Khẩn: mưa lũ",
                             body="Bà con vùng trũng di chuyển đến nhà văn hóa ngay.", areas=[province],
                             channels=["sms"], priority="emergency")
        db.commit()
        ann_id = ann.id
        hotlines = {c.id: c.hotline_number for c in province.children}
    drain(app)
    with app.app_context():
        db = get_db()
        rows = list(db.scalars(select(Delivery).where(Delivery.announcement_id == ann_id)))
        assert len(rows) == 18  # every household of every commune
        for d in rows:
            commune = db.get(Area, d.area_id).commune()  # kept on the row: the sender is chosen by it
            own = hotline_text(hotlines[commune.id])
            assert d.body.endswith(own), d.body
            assert all(hotline_text(h) not in d.body for i, h in hotlines.items() if i != commune.id)
        sent = {m.recipient: m.body for m in db.scalars(select(OutboxMessage).where(OutboxMessage.channel == "sms"))}
        assert len(sent) == 18 and all("mua lu" in b.lower() for b in sent.values())  # sent, without diacritics


def test_a_commune_admin_is_refused_another_commune_and_the_whole_province(app):
    with app.app_context():
        db = get_db()
        province = load_province(db, communes=2, households=2, villages=1, teams=1, password=PASSWORD)
        other = province.children[1]
        admin = db.scalar(select(Official).where(Official.login == "xa001"))
        for areas in ([other], [province]):
            with pytest.raises(service.AnnouncementError, match="not your area"):
                service.create(db, official=admin, title="x", body="y", areas=areas, channels=["sms"])


def test_dashboard_coverage_and_failures_only_in_scope(app):
    with app.app_context():
        db = get_db()
        province = load_province(db, communes=2, households=4, villages=1, teams=1, password=PASSWORD)
        official = db.scalar(select(Official).where(Official.login == "tinh"))
        ann = service.create(db, official=official, title="Cắt điện", body="Chiều nay cắt điện.", areas=[province],
                             channels=["sms"])
        db.commit()
        a, b = province.children
        names = (a.children[0].name, b.children[0].name)
        assert names == ("Bản 1", "Xóm 1")
    drain(app)
    with app.app_context():
        db = get_db()
        # Commune B's deliveries failed with a reason only B's officials (and the province) may read.
        b_area = db.scalar(select(Area).where(Area.code == "X002", Area.level == "commune"))
        in_b = b_area.descendant_ids(db)
        for d in db.scalars(select(Delivery).where(Delivery.announcement_id == ann.id, Delivery.area_id.in_(in_b))):
            d.status, d.last_error = "failed", "Thuê bao X002 không liên lạc được"
        db.commit()
    pages = {}
    for who in ("tinh", "xa001", "xa002"):
        client = app.test_client()
        login(client, who, PASSWORD)
        pages[who] = client.get(f"/console/?announcement={ann.id}").get_data(as_text=True)
    assert "Thuê bao X002" in pages["tinh"] and "Thuê bao X002" in pages["xa002"]
    assert "Thuê bao X002" not in pages["xa001"]
    # A province-wide view has a row per commune; a commune admin's, a row per village of theirs.
    assert '<th scope="row">Xã An 1</th>' in pages["tinh"] and '<th scope="row">Xã Bình 1</th>' in pages["tinh"]
    assert '<th scope="row">Bản 1</th>' in pages["xa001"] and "Xóm 1" not in pages["xa001"]
    # The API's coverage, failures and progress follow the same scope.
    from gateway.auth import issue_token

    with app.app_context():
        db = get_db()
        tokens = {o.login: issue_token(db, o) for o in db.scalars(select(Official))}
        db.commit()
    client = app.test_client()
    answers = {}
    for who in ("tinh", "xa001", "xa002"):
        headers = {"Authorization": f"Bearer {tokens[who]}"}
        cov = client.get(f"/api/announcements/{ann.id}/coverage", headers=headers).get_json()
        one = client.get(f"/api/announcements/{ann.id}", headers=headers).get_json()
        total = next(r for r in cov["rows"] if r["area"] == "*" and r["audience"] == "all")
        answers[who] = (total["targeted"], total["failed"], sum(f["count"] for f in cov["failures"]),
                        one["progress"]["total"])
    assert answers == {"tinh": (8, 4, 4, 8), "xa001": (4, 0, 0, 4), "xa002": (4, 4, 4, 4)}
    refused = client.post(f"/api/announcements/{ann.id}/cancel", headers={"Authorization": f"Bearer {tokens['xa001']}"})
    assert refused.status_code == 403  # it goes to other communes too: only the province cancels it


# Setting up a real commune -----------------------------------------------------------------

def test_setup_command_creates_province_commune_villages_and_admin(app):
    runner = app.test_cli_runner()
    args = ["setup", "--province", "Tỉnh Lâm Đồng", "--province-code", "lamdong", "--commune", "Xã Tân Lập",
            "--code", "tanlap", "--hotline", "0263 3822 123", "--admin", "quantri", "--admin-name", "Nguyễn Văn A",
            "--village", "KP5=Khu phố 5", "--village", "TANLOI=Thôn Tân Lợi"]
    short = runner.invoke(args=args + ["--password", "ngan"])
    assert short.exit_code == 1 and "Mật khẩu quá ngắn" in short.output
    same = runner.invoke(args=args + ["--password", "quantri"])
    assert same.exit_code == 1
    missing = runner.invoke(args=["setup", "--commune", "Xã Tân Lập"])
    assert missing.exit_code == 2 and "--code" in missing.output and "--password" in missing.output
    ok = runner.invoke(args=args + ["--password", "mot-mat-khau-dai"])
    assert ok.exit_code == 0, ok.output
    with app.app_context():
        db = get_db()
        commune = db.scalar(select(Area).where(Area.code == "TANLAP"))
        assert commune.level == "commune" and commune.parent.code == "LAMDONG" and commune.parent.level == "province"
        assert commune.hotline_number == "+842633822123"
        assert {(v.code, v.kind, v.name) for v in commune.children} == {("KP5", "khu_pho", "Khu phố 5"),
                                                                       ("TANLOI", "thon", "Thôn Tân Lợi")}
        admin = db.scalar(select(Official).where(Official.login == "quantri"))
        assert admin.role == "admin" and admin.areas == [commune]
    again = runner.invoke(args=args + ["--password", "mot-mat-khau-dai"])
    assert again.exit_code == 1 and "đã có" in again.output
    # A second commune of the same province reuses it.
    second = runner.invoke(args=["setup", "--province", "Tỉnh Lâm Đồng", "--province-code", "LAMDONG", "--commune",
                                 "Phường 1", "--code", "P1", "--kind", "phuong", "--admin", "p1admin",
                                 "--password", "mot-mat-khau-khac"])
    assert second.exit_code == 0, second.output
    with app.app_context():
        assert get_db().scalar(select(func.count()).select_from(Area).where(Area.level == "province")) == 1


def test_first_run_page_until_someone_can_log_in(app):
    client = app.test_client()
    assert client.get("/console/login").headers["Location"].endswith("/console/setup")
    token = csrf(client, "/console/setup")
    form = {"csrf_token": token, "commune_name": "Xã Tân Lập", "commune_code": "TANLAP", "commune_kind": "xa",
            "admin_login": "quantri", "admin_name": "Nguyễn Văn A", "villages": "KP5=Khu phố 5\nTANLOI=Thôn Tân Lợi",
            "hotline": "0263 3822 123"}
    short = client.post("/console/setup", data=form | {"password": "ngan", "password2": "ngan"})
    assert short.status_code == 400 and "Mật khẩu quá ngắn" in short.get_data(as_text=True)
    mismatch = client.post("/console/setup", data=form | {"password": "mot-mat-khau-dai", "password2": "khac-hoan-toan"})
    assert mismatch.status_code == 400
    done = client.post("/console/setup", data=form | {"password": "mot-mat-khau-dai", "password2": "mot-mat-khau-dai"})
    assert done.status_code == 302
    assert client.get("/console/").status_code == 200  # logged in as the new admin
    with app.app_context():
        commune = get_db().scalar(select(Area).where(Area.code == "TANLAP"))
        assert [v.code for v in commune.children] == ["KP5", "TANLOI"]
    # Once an official exists the page is gone, for everyone.
    assert app.test_client().get("/console/setup").status_code == 404
    fresh = csrf(client, "/console/downloads")  # logging in started a new session, with a new token
    assert client.post("/console/setup", data=form | {"csrf_token": fresh, "password": "x" * 12,
                                                      "password2": "x" * 12}).status_code == 404


def test_first_run_page_in_production_only_says_how(make_app, tmp_path, sqlite_template, redis_url):
    import shutil

    shutil.copy(sqlite_template, tmp_path / "p.sqlite")
    app = make_app(GATEWAY_ENV="production", DATABASE_URL=f"sqlite:///{tmp_path / 'p.sqlite'}", REDIS_URL=redis_url,
                   ALLOW_OUTBOX="1")
    app.testing = True
    client = app.test_client()
    page = client.get("/console/setup")
    assert page.status_code == 200 and "python -m gateway setup" in page.get_data(as_text=True)
    assert "<form method=\"post\" action=\"/console/setup\"" not in page.get_data(as_text=True)
