"""Areas without code: add, edit, move, merge and retire from the command line; merges keep every
row and old names keep working (SMS DK, household import, hotline picker, API)."""
import datetime as dt

import pytest
from sqlalchemy import func, select

from gateway.areas import active_children, find_by_code, match_area, spoken_name
from gateway.db import get_db
from gateway.demo import load_demo
from gateway.models import (
    Announcement, Area, AreaAlias, Bulletin, Official, OperatorLink, Report, Resident, Subscription,
)
from gateway.sms.inbound import receive


def run(app, *args):
    return app.test_cli_runner().invoke(args=["areas", *args])


def area(db, code):
    return db.scalar(select(Area).where(Area.code == code))


@pytest.fixture
def commune(app):
    """An empty install with one commune made from the command line."""
    result = run(app, "add", "TANHOA", "Xã Tân Hòa", "--kind", "xã", "--hotline", "0263 3822 123")
    assert result.exit_code == 0, result.output
    return "TANHOA"


def test_add_an_area_tree_from_the_command_line(app, commune):
    for args in (["KP1", "Khu phố 1", "--kind", "khu phố", "--parent", "TANHOA"],
                 ["tan loi", "Thôn Tân Lợi", "--kind", "thôn", "--parent", "TANHOA", "--alias", "Xóm Lợi"],
                 ["KP1T1", "Tổ 1", "--kind", "tổ", "--parent", "KP1"]):
        result = run(app, "add", *args)
        assert result.exit_code == 0, result.output
    with app.app_context():
        db = get_db()
        kp1, tanloi, team = area(db, "KP1"), area(db, "TANLOI"), area(db, "KP1T1")
        assert (kp1.level, kp1.kind, kp1.parent.code) == ("neighbourhood", "khu_pho", "TANHOA")
        assert tanloi.code == "TANLOI" and [a.name for a in tanloi.aliases] == ["Xóm Lợi"]
        assert (team.level, team.parent_id) == ("team", kp1.id)
        assert area(db, "TANHOA").hotline_number == "+842633822123"
        # The new areas are what SMS and the household import match.
        assert match_area(db, "xom loi").area is tanloi
        assert match_area(db, "KP1 To 1", levels=("team",)).area is team
    listing = run(app, "list").output
    assert "Xã Tân Hòa [TANHOA] Xã" in listing and "    Tổ 1 [KP1T1] Tổ" in listing


@pytest.mark.parametrize("args, reason", [
    (["KP2", "Khu phố 2", "--kind", "khu phố"], "phải nằm trong một xã/phường"),
    (["KP2", "Khu phố 2", "--kind", "chợ", "--parent", "TANHOA"], "Loại 'chợ' không rõ"),
    (["KP 2!", "Khu phố 2", "--kind", "khu phố", "--parent", "TANHOA"], "chỉ được có chữ không dấu"),
    (["KP2", "", "--kind", "khu phố", "--parent", "TANHOA"], "Thiếu tên"),
    (["KP2", "Khu phố 2", "--kind", "khu phố", "--parent", "NOWHERE"], "Không có khu vực mã 'NOWHERE'"),
    (["T1", "Tổ 1", "--kind", "tổ", "--parent", "TANHOA"], "cấp trên của một tổ phải là thôn/khu phố"),
    (["X", "Xã X", "--kind", "xã", "--hotline", "12345"], "Số '12345'"),
])
def test_bad_additions_are_refused_with_the_reason(app, commune, args, reason):
    result = run(app, "add", *args)
    assert result.exit_code != 0 and reason in result.output, result.output
    with app.app_context():
        assert get_db().scalar(select(func.count()).select_from(Area)) == 1


def test_codes_are_unique_within_a_commune_even_for_teams_of_different_villages(app, commune):
    run(app, "add", "KP1", "Khu phố 1", "--kind", "khu phố", "--parent", "TANHOA")
    run(app, "add", "KP2", "Khu phố 2", "--kind", "khu phố", "--parent", "TANHOA")
    assert run(app, "add", "T1", "Tổ 1", "--kind", "tổ", "--parent", "KP1").exit_code == 0
    result = run(app, "add", "T1", "Tổ 1", "--kind", "tổ", "--parent", "KP2")
    assert result.exit_code != 0
    assert "Mã T1 đã dùng cho Khu phố 1, Tổ 1 trong Xã Tân Hòa" in result.output
    # Another commune may use the same codes; then COMMUNE/CODE names one of them.
    run(app, "add", "TANLAP", "Xã Tân Lập", "--kind", "xã")
    assert run(app, "add", "KP1", "Khu phố 1", "--kind", "khu phố", "--parent", "TANLAP").exit_code == 0
    ambiguous = run(app, "add", "KP1T2", "Tổ 2", "--kind", "tổ", "--parent", "KP1")
    assert ambiguous.exit_code != 0 and "viết kèm mã xã, ví dụ TANHOA/KP1" in ambiguous.output
    assert run(app, "add", "KP1T2", "Tổ 2", "--kind", "tổ", "--parent", "TANLAP/KP1").exit_code == 0
    # Commune codes are unique across the install.
    assert "Mã TANLAP đã dùng" in run(app, "add", "TANLAP", "Phường Tân Lập", "--kind", "phường").output


def test_rename_and_recode_keep_the_old_ones_as_aliases(app, commune):
    run(app, "add", "KP5", "Khu phố 5", "--kind", "khu phố", "--parent", "TANHOA")
    result = run(app, "edit", "KP5", "--name", "Khu phố Tân Thành", "--code", "TANTHANH", "--kind", "thôn")
    assert result.exit_code == 0, result.output
    with app.app_context():
        db = get_db()
        renamed = area(db, "TANTHANH")
        assert renamed.name == "Khu phố Tân Thành" and renamed.kind == "thon"
        # "Khu phố 5" and "KP5" are one key: one alias, the name (the hotline reads it).
        assert [(a.name, a.kind, a.source) for a in renamed.aliases] == [("Khu phố 5", "name", "rename")]
        assert match_area(db, "KP5").area is renamed and match_area(db, "khu pho 5").alias == "Khu phố 5"
        assert find_by_code(db, "kp5") == [renamed]
        assert spoken_name(renamed) == "Khu phố Tân Thành, trước là Khu phố 5"
    # The old code cannot be given to a new area: residents still text it.
    taken = run(app, "add", "KP5", "Khu phố 5 mới", "--kind", "khu phố", "--parent", "TANHOA")
    assert taken.exit_code != 0 and "vẫn là mã cũ của Khu phố Tân Thành" in taken.output
    refused = run(app, "edit", "TANTHANH", "--kind", "tổ")
    assert refused.exit_code != 0 and "không đổi được thành tổ" in refused.output


def test_move_keeps_codes_unique_and_refuses_loops(app, commune):
    run(app, "add", "TANLAP", "Xã Tân Lập", "--kind", "xã")
    run(app, "add", "KP1", "Khu phố 1", "--kind", "khu phố", "--parent", "TANHOA")
    run(app, "add", "KP1T1", "Tổ 1", "--kind", "tổ", "--parent", "KP1")
    run(app, "add", "KP9", "Khu phố 9", "--kind", "khu phố", "--parent", "TANLAP")
    run(app, "add", "KP1T1", "Tổ 1", "--kind", "tổ", "--parent", "KP9")
    clash = run(app, "move", "TANHOA/KP1", "TANLAP")
    assert clash.exit_code != 0 and "Mã KP1T1 đã dùng cho Khu phố 9, Tổ 1 trong Xã Tân Lập" in clash.output
    assert run(app, "move", "TANHOA/KP1T1", "KP9").exit_code != 0  # a team of the other commune has that code
    run(app, "add", "KP2", "Khu phố 2", "--kind", "khu phố", "--parent", "TANHOA")
    moved = run(app, "move", "TANHOA/KP1T1", "KP2")
    assert moved.exit_code == 0, moved.output
    assert "phải là xã/phường" in run(app, "move", "KP2", "KP9").output
    run(app, "add", "HUE", "Thành phố Huế", "--kind", "thành phố")
    assert run(app, "move", "TANHOA", "HUE").exit_code == 0
    with app.app_context():
        db = get_db()
        assert area(db, "KP2").children[0].code == "KP1T1"
        assert area(db, "TANHOA").province().code == "HUE"


def _populate_kp6(db, commune):
    """Rows of every kind that point at KP6: the merge must move each of them."""
    from gateway.loudspeaker.links import create_link
    from gateway.reports.records import open_report

    kp5, kp6 = area(db, "KP5"), area(db, "KP6")
    follower = db.scalar(select(Resident).where(Resident.area_id.in_(kp5.descendant_ids(db))).limit(1))
    both = db.scalar(select(Resident).where(Resident.area_id.in_(kp5.descendant_ids(db))).offset(1).limit(1))
    db.add(Subscription(resident_id=follower.id, area_id=kp6.id))
    db.add(Subscription(resident_id=both.id, area_id=kp6.id))
    outsider = db.scalar(select(Resident).where(Resident.area_id.in_(area(db, "KP1").descendant_ids(db))).limit(1))
    db.add(Subscription(resident_id=outsider.id, area_id=kp6.id))
    db.add(Subscription(resident_id=outsider.id, area_id=kp5.id))
    report = open_report(db, commune=commune, channel="sms", text="Rác ở hẻm 3", area=kp6, phone="+84987000111")
    create_link(db, area=kp6, label="Ông Sáu – loa khu phố 6")
    db.add(Announcement(title="Họp", body="Họp khu phố 6", areas=[kp6], status="sent"))
    db.add(Announcement(title="Tiêm", body="Tiêm phòng", areas=[kp5, kp6], status="sent"))
    leader = Official(login="kp6", name="Trưởng KP6", role="leader", areas=[kp6])
    db.add(leader)
    today = dt.date(2026, 12, 1)
    db.add(Bulletin(area_id=kp6.id, day=today))
    db.add(Bulletin(area_id=kp6.id, day=today - dt.timedelta(days=1)))
    db.add(Bulletin(area_id=kp5.id, day=today))
    db.commit()
    return report.id


def test_merge_moves_every_row_and_keeps_history(any_app):
    with any_app.app_context():
        db = get_db()
        commune = load_demo(db, households=56)
        report_id = _populate_kp6(db, commune)
        kp6 = area(db, "KP6")
        kp6_ids = kp6.descendant_ids(db)
        households = db.scalar(select(func.count()).select_from(Resident).where(Resident.area_id.in_(kp6_ids)))
        teams = [t.id for t in kp6.children]
        assert households > 0 and teams
        total_residents = db.scalar(select(func.count()).select_from(Resident))
    result = run(any_app, "merge", "KP5", "KP6")
    assert result.exit_code == 0, result.output
    assert "Đã gộp Khu phố 6 vào Khu phố 5" in result.output and "1 phản ánh" in result.output
    with any_app.app_context():
        db = get_db()
        kp5, kp6 = area(db, "KP5"), area(db, "KP6")
        # Kept, retired, dated, pointing at the survivor.
        assert kp6 is not None and not kp6.active and kp6.merged_into_id == kp5.id
        assert kp6.merged_at is not None and kp6.retired_at == kp6.merged_at
        # Every household of KP6 (in its teams) is now in KP5's tree; none lost.
        assert db.scalar(select(func.count()).select_from(Resident)) == total_residents
        assert db.scalar(select(func.count()).select_from(Resident).where(Resident.area_id.in_(
            [kp6.id]))) == 0
        assert db.scalar(select(func.count()).select_from(Resident).where(Resident.area_id.in_(teams))) == households
        assert {db.get(Area, t).parent_id for t in teams} == {kp5.id}
        # Subscriptions: moved, without duplicates for those already following or living in KP5.
        assert db.scalar(select(func.count()).select_from(Subscription).where(Subscription.area_id == kp6.id)) == 0
        pairs = list(db.execute(select(Subscription.resident_id, Subscription.area_id)))
        assert len(pairs) == len(set(pairs))
        assert db.get(Report, report_id).area_id == kp5.id
        assert db.scalar(select(OperatorLink.area_id)) == kp5.id
        for a in db.scalars(select(Announcement)):
            assert [x.code for x in a.areas] == ["KP5"]
        assert [x.code for x in db.scalar(select(Official).where(Official.login == "kp6")).areas] == ["KP5"]
        # The bulletin of a day KP5 already has stays with KP6 (readable); the other moves.
        assert sorted((b.area_id, str(b.day)) for b in db.scalars(select(Bulletin))) == sorted(
            [(kp5.id, "2026-12-01"), (kp6.id, "2026-12-01"), (kp5.id, "2026-11-30")])
        aliases = {(a.name, a.kind, a.source) for a in kp5.aliases}
        assert {("Khu phố 6", "name", "merge")} <= aliases
        # Gone from pickers, targeting and matching; its old names lead to KP5.
        assert kp6 not in active_children(db, commune)
        assert match_area(db, "KP6").area is kp5 and match_area(db, "KP6").alias
        assert match_area(db, "Khu pho 6").area is kp5
        assert match_area(db, "KP6 To 1", levels=("team",)).area.parent is kp5
    listing = run(any_app, "list", "--all").output
    assert "Khu phố 6 [KP6] Khu phố — đã gộp vào Khu phố 5 [KP5]" in listing
    assert "Khu phố 6 [KP6]" not in run(any_app, "list").output


@pytest.mark.parametrize("args, reason", [
    (["KP5", "KP5"], "Không gộp Khu phố 5 vào chính nó"),
    (["KP5", "TANLAP"], "chỉ gộp các khu cùng cấp"),
    (["TANLAP", "KP5"], "Chỉ gộp được thôn, khu phố, tổ"),
    (["KP5", "KP6T1"], "chỉ gộp các khu cùng cấp"),
])
def test_bad_merges_are_refused(app, demo, args, reason):
    result = run(app, "merge", *args)
    assert result.exit_code != 0 and reason in result.output, result.output
    with app.app_context():
        assert area(get_db(), "KP6").active


def test_retire_only_an_empty_area(app, demo):
    assert "còn" in run(app, "retire", "KP6").output  # it has teams and households
    run(app, "add", "KP99", "Khu phố 99", "--kind", "khu phố", "--parent", "TANLAP")
    result = run(app, "retire", "KP99")
    assert result.exit_code == 0, result.output
    with app.app_context():
        db = get_db()
        kp99 = db.scalar(select(Area).where(Area.code == "KP99"))
        assert kp99.retired_at is not None and match_area(db, "KP99").area is None
        assert kp99 not in active_children(db, kp99.parent)
    assert "đã ngừng dùng" in run(app, "merge", "KP5", "KP99").output


STRANGER = "+84911222333"


def test_sms_dk_with_an_old_name_subscribes_to_the_new_area(app, demo):
    assert run(app, "merge", "KP5", "KP6").exit_code == 0
    with app.app_context():
        db = get_db()
        inbound = receive(db, provider="twilio", sender=STRANGER, body="DK khu pho 6", config=app.config)
        db.commit()
        assert inbound.reply.startswith("Khu pho 6 nay thuoc Khu pho 5. Da dang ky nhan tin.")
        resident = db.scalar(select(Resident).where(Resident.phone == STRANGER))
        assert resident.area.code == "KP5"
        # The old code works too (the reply names the old area as people know it).
        assert receive(db, provider="twilio", sender="+84911222334", body="DK KP6",
                       config=app.config).reply.startswith("Khu pho 6 nay thuoc Khu pho 5")
        assert "Khong tim thay" in receive(db, provider="twilio", sender="+84911222335", body="DK KP66",
                                           config=app.config).reply


def test_household_import_takes_old_names(app, demo):
    from gateway.residents import import_residents

    assert run(app, "merge", "KP5", "KP6").exit_code == 0
    data = "Họ tên,Số điện thoại,Khu phố,Tổ\nBà Tư,0912 000 111,Khu phố 6,Tổ 1\nÔng Năm,0912 000 222,KP6,\n"
    with app.app_context():
        db = get_db()
        report = import_residents(db, "ds.csv", data.encode("utf-8"))
        assert report.committed, [r.reason for r in report.rows]
        homes = {r.name: r.area for r in db.scalars(select(Resident).where(Resident.phone.in_(
            ["+84912000111", "+84912000222"])))}
        assert homes["Ông Năm"].code == "KP5"
        # Tổ 1 of the old KP6, now under KP5 (renamed beside KP5's own Tổ 1).
        assert homes["Bà Tư"].parent.code == "KP5" and homes["Bà Tư"].code == "KP6T1"


def test_hotline_picker_lists_active_areas_with_their_old_names(app, demo):
    with app.app_context():
        db = get_db()
        commune = db.get(Area, demo)
        before = [a.code for a in active_children(db, commune)]
    assert run(app, "merge", "KP5", "KP6").exit_code == 0
    with app.app_context():
        db = get_db()
        commune = db.get(Area, demo)
        after = active_children(db, commune)
        assert [a.code for a in after] == [c for c in before if c != "KP6"]
        kp5 = next(a for a in after if a.code == "KP5")
        assert spoken_name(kp5) == "Khu phố 5, gồm cả Khu phố 6 cũ"
        # What the hotline's area menu says (gateway.ivr.prompts reads it through these functions).
        from gateway.ivr.prompts import area_picker_text

        said = area_picker_text(db, commune)
        assert "Khu phố 5, gồm cả Khu phố 6 cũ, bấm 5." in said and "Khu phố 7, bấm 6." in said


def test_api_area_filters_follow_merges(app, demo):
    from gateway.auth import issue_token
    from gateway.reports.records import open_report

    with app.app_context():
        db = get_db()
        kp6_id = area(db, "KP6").id
        open_report(db, commune=db.get(Area, demo), channel="sms", text="Đèn hỏng", area=area(db, "KP6"),
                    phone="+84987000222")
        open_report(db, commune=db.get(Area, demo), channel="sms", text="Ngập nước", area=area(db, "KP1"),
                    phone="+84987000333")  # another area's: each filter below leaves it out
        token = issue_token(db, db.scalar(select(Official).where(Official.login == "admin")))
        db.commit()
    assert run(app, "merge", "KP5", "KP6").exit_code == 0
    client = app.test_client()
    headers = {"Authorization": f"Bearer {token}"}
    for ref in ("KP6", "KP5", str(kp6_id), "khu pho 6"):
        got = client.get(f"/api/reports?area={ref}", headers=headers)
        assert got.status_code == 200, got.json
        assert [r["text"] for r in got.json["reports"]] == ["Đèn hỏng"], ref
    assert client.get("/api/reports?area=NOWHERE", headers=headers).status_code == 400
    created = client.post("/api/announcements", headers=headers, json={
        "title": "Họp", "body": "Họp khu phố", "areas": ["KP6"], "channels": ["sms"]})
    assert created.status_code == 201, created.json
    assert [a["code"] for a in created.json["areas"]] == ["KP5"]


def test_aliases_table_keeps_keys_unique_per_area(app, demo):
    assert run(app, "edit", "KP5", "--alias", "Khu phố Năm", "--alias", "khu pho nam").exit_code == 0
    with app.app_context():
        db = get_db()
        assert [a.name for a in db.scalars(select(AreaAlias).where(AreaAlias.area_id == area(db, "KP5").id))] == \
            ["Khu phố Năm"]
