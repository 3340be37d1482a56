"""Areas in the console (admin only) and per-commune settings (console and CLI), refused with a
reason when a value is wrong."""
import io

import pytest
from openpyxl import Workbook
from sqlalchemy import select

from gateway.areas import settings
from gateway.db import get_db
from gateway.models import Area, AudioAsset, Resident
from tests.console_helpers import login, post


def area(db, code):
    return db.scalar(select(Area).where(Area.code == code))


@pytest.fixture
def admin(client, demo):
    return login(client)


def test_only_admins_open_the_area_pages(client, demo):
    login(client, "truongkp1")
    assert client.get("/console/areas").status_code == 403
    assert client.get("/console/areas/import").status_code == 403
    assert client.get(f"/console/areas/{demo}/settings").status_code == 403
    client.post("/console/logout", data={})
    anonymous = client.application.test_client()
    assert anonymous.get("/console/areas").status_code == 302


def test_browse_search_and_page_the_tree(client, admin, demo, monkeypatch):
    monkeypatch.setattr("gateway.console.areas.PAGE", 10)
    top = client.get("/console/areas").get_data(as_text=True)
    assert "Thị trấn Tân Lập" in top and "Khu phố 1" not in top
    inside = client.get(f"/console/areas?parent={demo}&page=2").get_data(as_text=True)
    assert "14 khu vực" in inside and "Trang 2/2" in inside and "Thôn Tân Lợi" in inside
    assert "<code>TANLOI</code>" in inside and "<code>KP1</code>" not in inside
    found = client.get("/console/areas?q=tân lợi").get_data(as_text=True)
    assert "Thôn Tân Lợi" in found and "Khu phố 1<" not in found
    assert "<code>KP6</code>" in client.get("/console/areas?q=kp 6").get_data(as_text=True)
    teams = client.get("/console/areas?q=Tổ").get_data(as_text=True)
    assert "Trang 1/" in teams and "Trang sau" in teams and teams.count("<code>") == 10
    assert client.get("/console/areas?parent=99999").status_code == 404


def test_add_edit_move_merge_and_retire_from_the_console(client, admin, app, demo):
    r = post(client, "/console/areas/new", admin, {"code": "kp 11", "name": "Khu phố 11", "kind": "khu_pho",
                                                   "parent": "TANLAP", "hotline": "", "aliases": "Xóm Mới; XM"})
    assert r.status_code == 302, r.get_data(as_text=True)
    with app.app_context():
        kp11 = area(get_db(), "KP11")
        assert kp11.parent_id == demo and [a.name for a in kp11.aliases] == ["Xóm Mới", "XM"]
        kp11_id = kp11.id
    # A clash or a bad value re-shows the form with the reason, nothing saved.
    r = post(client, "/console/areas/new", admin, {"code": "KP1T1", "name": "Tổ 9", "kind": "to", "parent": "KP11"})
    assert r.status_code == 400 and "Mã KP1T1 đã dùng cho Khu phố 1, Tổ 1" in r.get_data(as_text=True)
    r = post(client, f"/console/areas/{kp11_id}", admin, {"code": "KP11", "name": "Khu phố <b>11</b> mới",
                                                           "kind": "khu_pho", "hotline": "abc"})
    assert r.status_code == 400 and "Số tổng đài" in r.get_data(as_text=True)
    r = post(client, f"/console/areas/{kp11_id}", admin, {"code": "KP11", "name": "Khu phố <b>11</b> mới",
                                                           "kind": "thon", "hotline": ""})
    assert r.status_code == 302
    page = client.get(f"/console/areas/{kp11_id}").get_data(as_text=True)
    assert "Khu phố &lt;b&gt;11&lt;/b&gt; mới" in page and "<b>11</b>" not in page  # escaped
    assert 'id="area-aliases"' in page and "Xóm Mới" in page  # its old names, in its history
    # Move a team of KP1 into KP11, then merge KP2 into KP11.
    with app.app_context():
        team_id = area(get_db(), "KP1T1").id
        kp2_households = get_db().scalar(select(Resident.id).where(
            Resident.area_id.in_(area(get_db(), "KP2").descendant_ids(get_db()))).limit(1))
        kp2_id = area(get_db(), "KP2").id
    assert post(client, f"/console/areas/{team_id}/move", admin, {"parent": "KP11"}).status_code == 302
    r = post(client, f"/console/areas/{kp11_id}/merge", admin, {"sources": str(kp2_id)})
    assert r.status_code == 400 and "ô xác nhận" in r.get_data(as_text=True)
    r = post(client, f"/console/areas/{kp11_id}/merge", admin, {"sources": str(kp2_id), "confirm": "1"},
             follow_redirects=True)
    assert r.status_code == 200 and "Đã gộp Khu phố 2 vào Khu phố &lt;b&gt;11&lt;/b&gt; mới" in r.get_data(as_text=True)
    with app.app_context():
        db = get_db()
        assert db.get(Area, team_id).parent_id == kp11_id
        assert db.get(Area, kp2_id).merged_into_id == kp11_id
        assert db.get(Resident, kp2_households).area.commune().id == demo
        assert db.get(Resident, kp2_households).area_id in db.get(Area, kp11_id).descendant_ids(db)
    merged_page = client.get(f"/console/areas/{kp2_id}").get_data(as_text=True)
    assert 'id="area-retired"' in merged_page and "Đã gộp vào" in merged_page
    assert post(client, f"/console/areas/{kp2_id}", admin, {"name": "X"}).status_code == 409
    # Retire: refused while it has teams and households, done for an empty area.
    r = post(client, f"/console/areas/{kp11_id}/retire", admin, {"confirm": "1"})
    assert r.status_code == 400 and "còn" in r.get_data(as_text=True)
    post(client, "/console/areas/new", admin, {"code": "KP12", "name": "Khu phố 12", "kind": "khu_pho",
                                               "parent": "TANLAP"})
    with app.app_context():
        kp12_id = area(get_db(), "KP12").id
    assert post(client, f"/console/areas/{kp12_id}/retire", admin, {"confirm": "1"}).status_code == 302
    assert "<code>KP12</code>" not in client.get(f"/console/areas?parent={demo}").get_data(as_text=True)
    assert "<code>KP12</code>" in client.get(f"/console/areas?parent={demo}&retired=1").get_data(as_text=True)
    # Retired and merged areas leave the compose page's area picker.
    compose = client.get("/console/announcements/new").get_data(as_text=True)
    assert "[KP3]" in compose and "[KP12]" not in compose and "[KP2]" not in compose


def xlsx(rows):
    wb = Workbook()
    for row in rows:
        wb.active.append(row)
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


def test_import_is_checked_then_confirmed(client, admin, app):
    rows = [["Mã", "Tên", "Loại", "Mã cấp trên", "Số tổng đài", "Tên cũ"],
            ["KP20", "Khu phố 20", "khu phố", "TANLAP", "", "Khu 20 cũ"],
            ["KP21", "Khu phố 21", "chợ", "TANLAP", "", ""]]
    r = client.post("/console/areas/import", data={"csrf_token": admin, "file": (io.BytesIO(xlsx(rows)), "kv.xlsx")},
                    content_type="multipart/form-data")
    html = r.get_data(as_text=True)
    assert r.status_code == 200 and "Loại &#39;chợ&#39; không rõ" in html and 'id="import-confirm"' not in html
    r = client.post("/console/areas/import", data={"csrf_token": admin, "skip_bad_rows": "1",
                                                   "file": (io.BytesIO(xlsx(rows)), "kv.xlsx")},
                    content_type="multipart/form-data")
    html = r.get_data(as_text=True)
    assert 'id="import-confirm"' in html
    with app.app_context():
        assert area(get_db(), "KP20") is None  # checked only
    token = html.split('name="token" value="')[1].split('"')[0]
    r = post(client, "/console/areas/import", admin, {"token": token, "confirm": "1", "skip_bad_rows": "1"})
    assert r.status_code == 200 and "Đã nhập: 1 mới" in r.get_data(as_text=True)
    with app.app_context():
        assert [a.name for a in area(get_db(), "KP20").aliases] == ["Khu 20 cũ"]
    again = post(client, "/console/areas/import", admin, {"token": token, "confirm": "1"})
    assert again.status_code == 400 and "không còn nữa" in again.get_data(as_text=True)
    assert post(client, "/console/areas/import", admin, {}).status_code == 400


def test_export_downloads_the_list(client, admin):
    r = client.get("/console/areas/export?format=csv")
    assert r.status_code == 200 and r.mimetype == "text/csv"
    text = r.get_data().decode("utf-8-sig")
    assert text.splitlines()[0] == "Mã,Tên,Loại,Mã cấp trên,Số tổng đài,Tên cũ"
    assert "KP5T1,Tổ 1,Tổ,KP5,," in text
    assert client.get("/console/areas/export").mimetype.endswith("spreadsheetml.sheet")


# Settings -----------------------------------------------------------------------------------

def test_console_settings_refuse_bad_values_with_reasons(client, admin, app, demo):
    url = f"/console/areas/{demo}/settings"
    assert "Số tổng đài" in client.get(url).get_data(as_text=True)
    bad = {"hotline_numbers": "0263 3822 123, 12", "duty_officer_phone": "09xx", "quiet_hours": "22h-6h",
           "sms_price": "-5", "group_target": "facebook", "group_chat_id": "x"}
    r = post(client, url, admin, bad)
    html = r.get_data(as_text=True)
    assert r.status_code == 400
    for reason in ("&#39;12&#39; không phải số điện thoại", "&#39;22h-6h&#39; không đọc được",
                   "&#39;-5&#39; không phải giá hợp lệ", "&#39;facebook&#39; không phải loại nhóm đã biết",
                   "Số cán bộ trực"):
        assert reason in html, reason
    with app.app_context():
        commune = get_db().get(Area, demo)
        assert commune.settings["quiet_hours"] == "21:00-06:30" and commune.group_target == "outbox"
    good = {"hotline_numbers": "0263 3822 123, 0263 3822 124", "duty_officer_phone": "0912 000 222",
            "quiet_hours": "22:00-06:00", "sms_price": "750", "group_target": "telegram",
            "group_chat_id": "-1001234"}
    assert post(client, url, admin, good).status_code == 302
    with app.app_context():
        commune = get_db().get(Area, demo)
        assert commune.hotline_number == "+842633822123"
        assert commune.settings["other_hotline_numbers"] == ["+842633822124"]
        assert settings.hotline_numbers(area(get_db(), "KP1T1")) == ["+842633822123", "+842633822124"]
        assert commune.duty_officer_phone == "+84912000222" and commune.settings["quiet_hours"] == "22:00-06:00"
        assert (commune.group_target, commune.group_chat_id) == ("telegram", "-1001234")
        assert settings.sms_price(area(get_db(), "KP1"), app.config) == 750
    # A neighbourhood sets its own group only; commune-wide settings are refused for it.
    with app.app_context():
        kp1_id = area(get_db(), "KP1").id
    r = post(client, f"/console/areas/{kp1_id}/settings", admin, {"group_target": "zalo", "group_chat_id": ""})
    assert r.status_code == 400 and "cần mã nhóm chat" in r.get_data(as_text=True)
    assert post(client, f"/console/areas/{kp1_id}/settings", admin,
                {"group_target": "", "group_chat_id": ""}).status_code == 302
    with app.app_context():
        assert area(get_db(), "KP1").group_target is None  # inherits the commune's group now


def test_sms_to_a_second_hotline_number_reaches_its_commune(app, demo):
    from gateway.sms.inbound import receive

    with app.app_context():
        db = get_db()
        other = Area(level="commune", kind="xa", name="Xã Tân Hòa", code="TANHOA", settings={})
        db.add(other)
        db.flush()
        settings.apply(db, other, {"hotline_numbers": "0263 3999 001, 0263 3999 002"})
        db.commit()
        inbound = receive(db, provider="twilio", sender="+84911000999", body="Cay do chan duong",
                          to="+842633999002", config=app.config)
        db.commit()
        assert inbound.report.commune_id == other.id


def run(app, *args):
    return app.test_cli_runner().invoke(args=["areas", "settings", *args])


def test_cli_settings_show_change_and_refuse(app, demo):
    shown = run(app, "TANLAP")
    assert shown.exit_code == 0 and "Giờ yên tĩnh: 21:00-06:30" in shown.output
    refused = run(app, "TANLAP", "--quiet-hours", "25:00-06:00", "--group-target", "fb", "--hotline", "0123")
    assert refused.exit_code != 0
    for reason in ("Giờ yên tĩnh: '25:00-06:00' không đọc được", "Nhóm chat (loại): 'fb' không phải loại nhóm",
                   "Số tổng đài: '0123' không phải số điện thoại"):
        assert reason in refused.output, refused.output
    with app.app_context():
        assert get_db().get(Area, demo).settings["quiet_hours"] == "21:00-06:30"
    done = run(app, "TANLAP", "--quiet-hours", "22:30-05:30", "--sms-price", "650", "--duty-officer", "0912 111 222")
    assert done.exit_code == 0, done.output
    assert "Giá một tin SMS: 650" in done.output and "Số cán bộ trực: +84912111222" in done.output
    assert "chỉ đặt cho cả xã/phường" in run(app, "KP1", "--quiet-hours", "22:00-05:00").output
    cleared = run(app, "TANLAP", "--sms-price", "")
    assert "Giá một tin SMS: (theo cấp trên)" in cleared.output


def test_prompt_recordings_must_be_known_prompts_and_real_recordings(app, demo):
    with app.app_context():
        db = get_db()
        asset = AudioAsset(kind="prompt", content_hash="a" * 64, status="ready", original_path="originals/a.wav")
        broken = AudioAsset(kind="prompt", content_hash="b" * 64, status="failed", error="im lặng",
                            original_path="originals/b.wav")
        db.add_all([asset, broken])
        db.commit()
        good_id, broken_id = asset.id, broken.id
    assert "không có lời 'nope'" in run(app, "TANLAP", "--prompt-recording", f"nope={good_id}").output
    assert "không có bản ghi âm số 999" in run(app, "TANLAP", "--prompt-recording", "greeting=999").output
    assert "im lặng" in run(app, "TANLAP", "--prompt-recording", f"greeting={broken_id}").output
    assert "viết KEY=ASSET_ID" in run(app, "TANLAP", "--prompt-recording", "greeting").output
    done = run(app, "TANLAP", "--prompt-recording", f"greeting={good_id}")
    assert done.exit_code == 0 and f"greeting={good_id}" in done.output
    with app.app_context():
        from gateway.ivr.prompts import recordings_of

        assert recordings_of(get_db().get(Area, demo)) == {"greeting": good_id}
    assert run(app, "TANLAP", "--prompt-recording", "greeting=").exit_code == 0
    with app.app_context():
        assert "prompt_recordings" not in get_db().get(Area, demo).settings


def test_console_uploads_an_officials_voice_for_a_hotline_prompt(client, admin, app, demo):
    from gateway.ivr.prompts import recordings_of
    from tests.audio_helpers import speech_wav

    url = f"/console/areas/{demo}/settings"
    assert 'value="greeting"' in client.get(url).get_data(as_text=True)
    base = {"csrf_token": admin, "hotline_numbers": "0263 3822 123", "quiet_hours": "21:00-06:30",
            "group_target": "outbox", "group_chat_id": "tanlap-main", "prompt_key": "greeting"}
    silent = client.post(url, data={**base, "prompt_file": (io.BytesIO(b"not audio at all"), "loi-chao.wav")},
                         content_type="multipart/form-data")
    assert silent.status_code == 400 and "Lời chào ghi âm" in silent.get_data(as_text=True)
    r = client.post(url, data={**base, "prompt_file": (io.BytesIO(speech_wav("Xin chào bà con")), "loi-chao.wav")},
                    content_type="multipart/form-data")
    assert r.status_code == 302, r.get_data(as_text=True)
    with app.app_context():
        db = get_db()
        mapping = recordings_of(db.get(Area, demo))
        asset = db.get(AudioAsset, mapping["greeting"])
        assert asset.kind == "prompt" and asset.original_name == "loi-chao.wav"
    r = client.post(url, data={**base, "prompt_key": "", "prompt_remove": "greeting"},
                    content_type="multipart/form-data")
    assert r.status_code == 302
    with app.app_context():
        assert recordings_of(get_db().get(Area, demo)) == {}
