"""The officials' console at the Flask level: log-in, CSRF, expiry, roles, area scope, and the
validation of every form."""
import datetime as dt
import io
import os
import re

import pytest
from sqlalchemy import func, select
from werkzeug.security import generate_password_hash

from gateway.reports.casework import change_status
from gateway.console import i18n
from gateway.models import (
    Announcement, Area, AudioAsset, Delivery, Official, OutboxMessage, Report, Resident, utcnow,
)
from gateway.queue import drain
from tests.console_helpers import csrf, login, post, post_json
from tests.test_casework import new_report

SAMPLE = os.path.join(os.path.dirname(os.path.dirname(__file__)), "gateway", "console", "static", "sample-report.ogg")


def area(db, code):
    return db.scalar(select(Area).where(Area.code == code, Area.level == "neighbourhood"))


def official(db, name):
    return db.scalar(select(Official).where(Official.login == name))


# Log-in, CSRF, expiry ------------------------------------------------------------------------

def test_pages_need_a_log_in(client, demo):
    resp = client.get("/console/reports?status=new")
    assert resp.status_code == 302 and resp.location.startswith("/console/login?next=")
    assert client.post("/console/audio/speak", json={}).status_code in (400, 401)  # no session: no token either


def test_log_in_with_the_hashed_password(client, db, demo):
    assert official(db, "admin").password_hash.startswith(("scrypt:", "pbkdf2:"))
    token = csrf(client)
    bad = client.post("/console/login", data={"login": "admin", "password": "wrong", "csrf_token": token})
    assert bad.status_code == 401 and "Sai tên đăng nhập hoặc mật khẩu." in bad.get_data(as_text=True)
    assert client.get("/console/").status_code == 302
    login(client, "admin")
    page = client.get("/console/")
    assert page.status_code == 200 and 'lang="vi"' in page.get_data(as_text=True)


def test_log_in_returns_to_the_page_asked_for_but_never_elsewhere(client, demo):
    token = csrf(client)
    resp = client.post("/console/login?next=/console/reports", data={"login": "admin", "password": "demo1234",
                                                                   "csrf_token": token})
    assert resp.location == "/console/reports"
    client.post("/console/logout", data={"csrf_token": csrf(client, "/console/")})
    token = csrf(client)
    resp = client.post("/console/login?next=https://evil.example/x", data={"login": "admin", "password": "demo1234",
                                                                         "csrf_token": token})
    assert resp.location == "/console/"


def test_inactive_official_cannot_log_in(client, db, demo):
    official(db, "tanloi").active = False
    db.commit()
    token = csrf(client)
    resp = client.post("/console/login", data={"login": "tanloi", "password": "demo1234", "csrf_token": token})
    assert resp.status_code == 401
    assert client.get("/console/").status_code == 302  # not logged in


def test_repeated_failures_lock_the_login(client, demo):
    token = csrf(client)
    for _ in range(5):
        client.post("/console/login", data={"login": "admin", "password": "nope", "csrf_token": token})
    resp = client.post("/console/login", data={"login": "admin", "password": "demo1234", "csrf_token": token})
    assert resp.status_code == 401 and "quá nhiều lần" in resp.get_data(as_text=True)


def test_every_post_needs_the_csrf_token(client, demo):
    assert client.post("/console/login", data={"login": "admin", "password": "demo1234"}).status_code == 400
    token = login(client)
    assert client.post("/console/logout").status_code == 400
    assert client.post("/console/logout", data={"csrf_token": "forged"}).status_code == 400
    assert client.post("/console/announcements/preview", json={"body": "x"}).status_code == 400
    assert client.post("/console/announcements/preview", json={"body": "x"},
                       headers={"X-CSRF-Token": "forged"}).status_code == 400
    assert client.get("/console/").status_code == 200  # still logged in: the forged posts did nothing
    assert post(client, "/console/logout", token).status_code == 302
    assert client.get("/console/").status_code == 302


def test_log_in_gives_a_fresh_session_and_token(client, demo):
    before = csrf(client)
    after = login(client)
    assert before != after


@pytest.fixture
def demo_factory(make_app, tmp_path, sqlite_template, redis_url):
    """An app with extra settings, on a fresh database with the demo commune."""
    import shutil

    import redis

    from gateway.db import get_db
    from gateway.demo import load_demo

    def build(**config):
        db_path = tmp_path / "custom.sqlite"
        shutil.copy(sqlite_template, db_path)
        redis.Redis.from_url(redis_url).flushdb()
        app = make_app(DATABASE_URL=f"sqlite:///{db_path}", REDIS_URL=redis_url, **config)
        app.testing = True
        with app.app_context():
            load_demo(get_db(), households=60)
        return app

    return build


def test_session_expires_after_inactivity(demo_factory):
    app = demo_factory(CONSOLE_SESSION_MINUTES="5")
    client = app.test_client()
    login(client)
    assert client.get("/console/").status_code == 200
    with client.session_transaction() as session:
        session["seen"] -= 6 * 60
    resp = client.get("/console/")
    assert resp.status_code == 302
    page = client.get(resp.location).get_data(as_text=True)
    assert "hết hạn sau 5 phút" in page
    with client.session_transaction() as session:
        assert "official_id" not in session


def test_activity_keeps_the_session(client, demo):
    login(client)
    with client.session_transaction() as session:
        session["seen"] -= 50 * 60  # 50 of the default 60 minutes
    assert client.get("/console/").status_code == 200
    with client.session_transaction() as session:
        assert session["seen"] > dt.datetime.now(dt.timezone.utc).timestamp() - 60


def test_production_cookies_are_secure(make_app, redis_url, tmp_path, sqlite_template):
    import shutil

    db_path = tmp_path / "prod.sqlite"
    shutil.copy(sqlite_template, db_path)
    app = make_app(GATEWAY_ENV="production", ALLOW_OUTBOX="1", DATABASE_URL=f"sqlite:///{db_path}", REDIS_URL=redis_url,
                   SECRET_KEY="s" * 32)
    assert app.config["SESSION_COOKIE_SECURE"] is True and app.config["SESSION_COOKIE_HTTPONLY"] is True
    # No official yet: the first-run page (in production it only names the setup command).
    resp = app.test_client().get("/console/setup", base_url="https://gw.example.vn")
    cookie = resp.headers["Set-Cookie"]
    assert "Secure" in cookie and "HttpOnly" in cookie and "SameSite=Lax" in cookie
    assert resp.headers["Cache-Control"] == "no-store"


def test_language_switch(client, demo):
    token = login(client)
    resp = post(client, "/console/language", token, {"lang": "en", "next": "/console/reports"})
    assert resp.location == "/console/reports"
    page = client.get("/console/reports").get_data(as_text=True)
    assert '<html lang="en">' in page and "Reports" in page and "Phản ánh</h1>" not in page
    post(client, "/console/language", token, {"lang": "xx"})
    assert '<html lang="en">' in client.get("/console/").get_data(as_text=True)


# Roles and area scope ---------------------------------------------------------------------

def test_operator_sees_only_downloads(client, demo):
    token = csrf(client)
    resp = client.post("/console/login", data={"login": "loa", "password": "demo1234", "csrf_token": token})
    assert resp.location == "/console/downloads"
    for path in ("/console/", "/console/reports", "/console/residents", "/console/announcements/new"):
        assert client.get(path).status_code == 403, path
    page = client.get("/console/downloads").get_data(as_text=True)
    assert "Tải âm thanh" in page and "Soạn thông báo" not in page


def test_leader_sees_and_acts_on_own_areas_only(client, db, demo):
    mine, theirs = new_report(db, code="KP1"), new_report(db, code="KP5")
    login(client, "truongkp1")
    listing = client.get("/console/reports").get_data(as_text=True)
    assert f"#{mine.number}<" in listing and f"#{theirs.number}<" not in listing
    assert client.get(f"/console/reports/{theirs.id}").status_code == 404
    assert client.get(f"/console/reports?area={area(db, 'KP5').id}").status_code == 404
    stranger = db.scalar(select(Resident).where(Resident.area_id.in_(area(db, "KP5").descendant_ids(db))))
    assert client.get(f"/console/residents/{stranger.id}").status_code == 404
    residents = client.get("/console/residents").get_data(as_text=True)
    assert stranger.name not in residents or "Khu phố 5" not in residents
    compose = client.get("/console/announcements/new").get_data(as_text=True)
    assert "Khu phố 1" in compose and "Khu phố 2" in compose and "Khu phố 5" not in compose
    assert client.get("/console/residents/import").status_code == 403  # lists may name any area: admins


def test_report_filters(client, db, demo):
    a = new_report(db, code="KP1", category="environment", text="Rác")
    b = new_report(db, code="KP2", category="security", text="Trộm")
    login(client)

    def numbers(query):
        html = client.get("/console/reports" + query).get_data(as_text=True)
        return {int(n) for n in re.findall(r">#(\d+)</a>", html)}

    assert numbers("") == {a.number, b.number}
    assert numbers("?category=environment") == {a.number}
    assert numbers(f"?area={area(db, 'KP2').id}") == {b.number}
    assert numbers("?status=resolved") == set()
    change_status(db, b, "resolved")
    db.commit()
    assert numbers("?status=resolved") == {b.number}


# Reports ----------------------------------------------------------------------------------

def test_status_change_with_a_note(client, db, demo):
    report = new_report(db, code="KP1")
    token = login(client, "truongkp1")
    page = client.get(f"/console/reports/{report.id}").get_data(as_text=True)
    assert "Có người lạ đi hỏi nhà ông Tư" in page
    resp = post(client, f"/console/reports/{report.id}/status", token, {"status": "acknowledged", "note": "Đã cử tổ"})
    assert resp.status_code == 302
    db.expire_all()
    assert db.get(Report, report.id).status == "acknowledged"
    sms = db.scalar(select(Delivery).where(Delivery.report_id == report.id, Delivery.channel == "sms"))
    assert sms.body == f"Phan anh #{report.number} da duoc tiep nhan. Đã cử tổ"
    thread = client.get(f"/console/reports/{report.id}").get_data(as_text=True)
    assert "Đã cử tổ" in thread and "Trần Thị Hoa" in thread


def test_status_change_errors_are_shown_on_the_form(client, db, demo):
    report = new_report(db, code="KP1")
    token = login(client)
    empty = post(client, f"/console/reports/{report.id}/status", token, {"status": ""})
    assert empty.status_code == 400 and "Chọn trạng thái mới." in empty.get_data(as_text=True)
    wrong = post(client, f"/console/reports/{report.id}/status", token, {"status": "new"})
    assert wrong.status_code == 400 and "đang ở trạng thái “Mới”, không chuyển sang “Mới” được" in wrong.get_data(as_text=True)
    unknown = post(client, f"/console/reports/{report.id}/status", token, {"status": "archived"})
    assert unknown.status_code == 400 and "“archived”" in unknown.get_data(as_text=True)
    long = post(client, f"/console/reports/{report.id}/status", token, {"status": "resolved", "note": "x" * 601})
    assert long.status_code == 400 and "600" in long.get_data(as_text=True)
    db.expire_all()
    assert db.get(Report, report.id).status == "new"


def test_report_text_is_escaped(client, db, demo):
    report = new_report(db, code="KP1", text="<script>alert(1)</script>")
    login(client)
    page = client.get(f"/console/reports/{report.id}").get_data(as_text=True)
    assert "<script>alert(1)</script>" not in page and "&lt;script&gt;" in page


# Compose ----------------------------------------------------------------------------------

def compose_data(db, **overrides):
    data = {"title": "Tiêm phòng dại", "body": "Sáng mai 14/8 tiêm phòng dại cho chó mèo tại nhà văn hóa.",
            "areas": [str(area(db, "KP1").id)], "audiences": ["everyone"], "channels": ["sms", "hotline"],
            "priority": "normal", "send_at": ""}
    data.update(overrides)
    return data


@pytest.mark.parametrize("overrides, message", [
    ({"title": ""}, "Chưa có tiêu đề."),
    ({"title": "x" * 201}, "Tiêu đề dài quá 200 ký tự."),
    ({"body": ""}, "Chưa có nội dung"),
    ({"body": "x" * 3001}, "Nội dung dài quá 3000 ký tự."),
    ({"areas": []}, "Chọn ít nhất một khu vực."),
    ({"areas": ["999999"]}, "Chọn ít nhất một khu vực."),
    ({"audiences": []}, "Chọn ít nhất một đối tượng."),
    ({"audiences": ["aliens"]}, "Chọn ít nhất một đối tượng."),
    ({"channels": []}, "Chọn ít nhất một kênh gửi."),
    ({"priority": "whenever"}, "Mức độ không hợp lệ."),
    ({"send_at": "tomorrow"}, "Thời gian gửi không đúng dạng ngày giờ."),
    ({"send_at": "2020-01-01T08:00"}, "Thời gian gửi đã qua."),
    ({"recording_id": "424242"}, "Bản ghi âm không tồn tại."),
])
def test_compose_validation(client, db, demo, overrides, message):
    token = login(client)
    resp = post(client, "/console/announcements", token, compose_data(db, **overrides))
    html = resp.get_data(as_text=True)
    assert resp.status_code == 400 and message in html
    assert db.scalar(select(func.count()).select_from(Announcement)) == 0
    assert "Tiêm phòng dại" in html or overrides.get("title") is not None  # what was typed is kept


def test_leader_cannot_send_to_another_area(client, db, demo):
    token = login(client, "truongkp1")
    resp = post(client, "/console/announcements", token, compose_data(db, areas=[str(area(db, "KP5").id)]))
    assert resp.status_code == 400 and "Khu vực không thuộc quyền của bạn." in resp.get_data(as_text=True)


def test_compose_schedules_then_cancel(client, db, demo):
    token = login(client, "truongkp1")
    later = (utcnow() + dt.timedelta(days=1)).astimezone(dt.timezone(dt.timedelta(hours=7)))
    resp = post(client, "/console/announcements", token,
                compose_data(db, send_at=later.strftime("%Y-%m-%dT%H:%M"), priority="urgent",
                             audiences=["elderly", "poor"], channels=["sms", "voice"]))
    assert resp.status_code == 302
    a = db.scalar(select(Announcement))
    assert (a.status, a.priority, a.audiences, a.channels) == ("scheduled", "urgent", ["elderly", "poor"], ["sms", "voice"])
    assert a.send_at.replace(second=0) == later.replace(second=0, microsecond=0).astimezone(dt.timezone.utc)
    assert [x.code for x in a.areas] == ["KP1"] and a.created_by.login == "truongkp1"
    page = client.get(resp.location).get_data(as_text=True)
    assert "Đã lên lịch" in page and "Hủy thông báo" in page
    progress = client.get(f"/console/announcements/{a.id}/progress").get_json()
    assert progress["status"] == "scheduled" and progress["cancellable"] and progress["total"] == 0
    assert post(client, f"/console/announcements/{a.id}/cancel", token).status_code == 302
    db.expire_all()
    assert db.get(Announcement, a.id).status == "cancelled"
    again = client.get(post(client, f"/console/announcements/{a.id}/cancel", token).location).get_data(as_text=True)
    assert "Đã hủy" in again and not client.get(f"/console/announcements/{a.id}/progress").get_json()["cancellable"]


def test_progress_counts_deliveries(client, db, demo):
    token = login(client)
    post(client, "/console/announcements", token, compose_data(db))
    a = db.scalar(select(Announcement))
    residents = list(db.scalars(select(Resident).limit(3)))
    for r, status in zip(residents, ("delivered", "delivered", "failed")):
        db.add(Delivery(idempotency_key=f"t:{r.id}", announcement_id=a.id, resident_id=r.id, area_id=r.area_id,
                        phone=r.phone, channel="sms", status=status))
    db.commit()
    progress = client.get(f"/console/announcements/{a.id}/progress").get_json()
    assert progress["total"] == 3
    assert {(row["status"], row["count"]) for row in progress["channels"]["sms"]} == {("delivered", 2), ("failed", 1)}
    other = client.get("/console/announcements/999/progress")
    assert other.status_code == 404


def test_audio_preview_renders_with_the_real_engine(app, client, db, demo):
    token = login(client)
    resp = post_json(client, "/console/audio/speak", token, {"title": "Họp dân", "body": "Tối nay 19h họp dân."})
    asset = resp.get_json()
    assert resp.status_code == 200 and asset["status"] == "pending" and asset["url"] is None
    drain(app)
    ready = client.get(f"/console/audio/{asset['id']}").get_json()
    assert ready["status"] == "ready" and ready["url"].endswith(".mp3")
    assert client.get(ready["url"]).status_code == 200
    # The announcement itself will sound the same: the same asset (content hash), rendered once.
    from gateway.media.assets import announcement_intro, ensure_text_asset

    with app.test_request_context():
        again = ensure_text_asset(db, "Tối nay 19h họp dân.", kind="announcement",
                                  intro=announcement_intro("Họp dân", "Tối nay 19h họp dân."))
    assert again.id == asset["id"]
    empty = post_json(client, "/console/audio/speak", token, {"title": "x", "body": " "})
    assert empty.status_code == 400 and empty.get_json()["error"]


def test_upload_rejects_a_corrupt_file_and_keeps_a_good_one(client, db, demo):
    token = login(client)
    bad = post(client, "/console/audio/upload", token, {"file": (io.BytesIO(b"not audio at all" * 100), "x.mp3")},
               content_type="multipart/form-data")
    assert bad.status_code == 400 and bad.get_json()["code"] == "undecodable", bad.get_json()
    none = post(client, "/console/audio/upload", token, {}, content_type="multipart/form-data")
    assert none.status_code == 400 and none.get_json()["error"] == "Chọn một tệp âm thanh."
    with open(SAMPLE, "rb") as f:
        good = post(client, "/console/audio/upload", token, {"file": (f, "giong-toi.ogg")},
                    content_type="multipart/form-data")
    data = good.get_json()
    assert good.status_code == 200 and data["name"] == "giong-toi.ogg" and data["seconds"] > 5
    # Sent with the recording and no text: the recording is the message.
    resp = post(client, "/console/announcements", token, compose_data(db, body="", recording_id=str(data["id"])))
    assert resp.status_code == 302
    assert db.scalar(select(Announcement)).recording_id == data["id"]


# Dashboard --------------------------------------------------------------------------------

def test_dashboard_shows_coverage_failures_and_queues(app, client, db, demo):
    app.config["SMS_PROVIDER"] = "esms"  # delivery reports: "Đã nhận" can be known
    token = login(client)
    post(client, "/console/announcements", token, compose_data(db, areas=[str(area(db, "KP1").id), str(area(db, "KP2").id)]))
    a = db.scalar(select(Announcement))
    a.status = "sending"
    kp1 = list(db.scalars(select(Resident).where(Resident.area_id.in_(area(db, "KP1").descendant_ids(db)))))
    states = ["confirmed", "delivered", "delivered", "failed"] + ["pending"] * (len(kp1) - 4)
    for r, status in zip(kp1, states):
        db.add(Delivery(idempotency_key=f"t:{r.id}", announcement_id=a.id, resident_id=r.id, area_id=r.area_id,
                        phone=r.phone, channel="sms", status=status,
                        error_code="30006" if status == "failed" else None,
                        last_error="Landline or unreachable carrier" if status == "failed" else None))
    db.commit()
    html = client.get("/console/").get_data(as_text=True)
    assert "Khu phố 1" in html and f"Đã nhận: 3 ({round(300 / len(kp1))}%)" in html
    assert f"Đã xác nhận: 1 ({round(100 / len(kp1))}%)" in html
    assert "30006 Landline or unreachable carrier" in html
    assert re.search(r"<th scope=\"row\">gửi hàng loạt</th>", html) and "bulk" not in html
    assert "Bộ phận xử lý" in html


# Residents --------------------------------------------------------------------------------

def test_resident_search_and_paging(client, db, demo):
    login(client)
    r = db.scalar(select(Resident).order_by(Resident.id))
    national = "0" + r.phone[3:]
    by_phone = client.get(f"/console/residents?q={national}").get_data(as_text=True)
    assert r.name in by_phone and "1 hộ" in by_phone
    by_name = client.get("/console/residents", query_string={"q": r.name}).get_data(as_text=True)
    assert r.name in by_name
    first = client.get("/console/residents").get_data(as_text=True)
    assert "60 hộ" in first and "Trang 1/2" in first and "page=2" in first


def test_resident_edit_validation(client, db, demo):
    token = login(client)
    r, other = list(db.scalars(select(Resident).order_by(Resident.id).limit(2)))
    base = {"name": "Nguyễn Văn A", "phone": "0912 345 678", "area_id": str(r.area_id), "prefers_sms": "1"}
    bad = post(client, f"/console/residents/{r.id}", token, {**base, "phone": "12345"})
    assert bad.status_code == 400 and "có 5 chữ số" in bad.get_data(as_text=True)
    taken = post(client, f"/console/residents/{r.id}", token, {**base, "phone": other.phone})
    assert taken.status_code == 400 and "Số này đã có ở hộ khác" in taken.get_data(as_text=True)
    no_area = post(client, f"/console/residents/{r.id}", token, {**base, "area_id": ""})
    assert no_area.status_code == 400 and "Chọn khu phố hoặc tổ" in no_area.get_data(as_text=True)
    ok = post(client, f"/console/residents/{r.id}", token, {**base, "is_elderly": "1"})
    assert ok.status_code == 302
    db.expire_all()
    r = db.get(Resident, r.id)
    assert (r.phone, r.name, r.is_elderly, r.prefers_voice) == ("+84912345678", "Nguyễn Văn A", True, False)


def test_leader_cannot_move_a_resident_out_of_their_areas(client, db, demo):
    token = login(client, "truongkp1")
    r = db.scalar(select(Resident).where(Resident.area_id.in_(area(db, "KP1").descendant_ids(db))))
    resp = post(client, f"/console/residents/{r.id}", token,
                {"name": r.name, "phone": r.phone, "area_id": str(area(db, "KP5").id)})
    assert resp.status_code == 400 and "thuộc quyền của bạn" in resp.get_data(as_text=True)


def test_add_a_resident(client, db, demo):
    token = login(client, "tanloi")
    resp = post(client, "/console/residents/new", token,
                {"name": "Lò Thị Mai", "phone": "+84 868 123 456", "area_id": str(area(db, "TANLOI").id),
                 "prefers_voice": "1"})
    assert resp.status_code == 302
    r = db.scalar(select(Resident).where(Resident.phone == "+84868123456"))
    assert r.consent_source == "console:tanloi" and r.prefers_voice and not r.prefers_sms


def test_opt_out_and_rejoin(client, db, demo):
    token = login(client)
    r = db.scalar(select(Resident))
    post(client, f"/console/residents/{r.id}/opt-out", token)
    db.expire_all()
    assert db.get(Resident, r.id).opted_out_at is not None
    assert "Đã từ chối nhận tin" in client.get(f"/console/residents/{r.id}").get_data(as_text=True)
    post(client, f"/console/residents/{r.id}/opt-out", token, {"rejoin": "1"})
    db.expire_all()
    assert db.get(Resident, r.id).opted_out_at is None


def test_import_checks_first_then_imports(client, db, demo):
    token = login(client)
    csv = "Họ tên,Số điện thoại,Khu phố,Người cao tuổi\nBà Năm,0912 000 001,KP3,x\nÔng Sáu,12345,KP3,\n"
    check = post(client, "/console/residents/import", token, {"file": (io.BytesIO(csv.encode()), "ds.csv")},
                 content_type="multipart/form-data")
    html = check.get_data(as_text=True)
    assert check.status_code == 200 and "chưa lưu gì" in html and "có 5 chữ số" in html
    assert "Chưa nhập được: có 1 dòng lỗi" in html and 'id="import-confirm"' not in html
    assert "<td>Ông Sáu</td><td>12345</td>" in html  # what was read, so the row can be found
    assert db.scalar(select(Resident).where(Resident.phone == "+84912000001")) is None
    skip = post(client, "/console/residents/import", token,
                {"file": (io.BytesIO(csv.encode()), "ds.csv"), "skip_bad_rows": "1"}, content_type="multipart/form-data")
    html = skip.get_data(as_text=True)
    token_value = re.search(r'name="token" value="([0-9a-f]+)"', html).group(1)
    assert ("Kiểm tra xong, chưa lưu gì. Khi bấm “Xác nhận nhập”: 1 hộ mới, 0 cập nhật, 0 không đổi. "
            "1 dòng lỗi sẽ được bỏ qua.") in html and "Chưa nhập được" not in html and "--skip" not in html
    assert re.search(r'id="import-confirm">Xác nhận nhập<', html)
    assert db.scalar(select(Resident).where(Resident.phone == "+84912000001")) is None  # still nothing saved
    done = post(client, "/console/residents/import", token,
                {"token": token_value, "confirm": "1", "skip_bad_rows": "1"})
    assert "Đã nhập: 1 hộ mới, 0 cập nhật, 0 không đổi. Đã bỏ qua 1 dòng lỗi" in done.get_data(as_text=True)
    added = db.scalar(select(Resident).where(Resident.phone == "+84912000001"))
    assert added.name == "Bà Năm" and added.is_elderly and added.consent_source == "import:ds.csv"
    again = post(client, "/console/residents/import", token, {"token": token_value, "confirm": "1"})
    assert again.status_code == 400 and "không còn nữa" in again.get_data(as_text=True)


def test_import_file_errors(client, demo):
    token = login(client)
    empty = post(client, "/console/residents/import", token, {}, content_type="multipart/form-data")
    assert empty.status_code == 400 and "Chọn tệp danh sách." in empty.get_data(as_text=True)
    headerless = post(client, "/console/residents/import", token,
                      {"file": (io.BytesIO("a,b\n1,2\n".encode()), "x.csv")}, content_type="multipart/form-data")
    assert headerless.status_code == 400 and "Không tìm thấy cột số điện thoại" in headerless.get_data(as_text=True)


def test_export(client, demo):
    login(client)
    xlsx = client.get("/console/residents/export")
    assert xlsx.status_code == 200 and xlsx.data[:2] == b"PK"
    csv = client.get("/console/residents/export?format=csv")
    assert csv.data.startswith(b"\xef\xbb\xbf") and "Số điện thoại" in csv.data.decode("utf-8-sig").splitlines()[0]


# Downloads --------------------------------------------------------------------------------

def test_downloads_lists_loudspeaker_announcements_with_their_mp3(app, client, db, demo):
    token = login(client)
    post(client, "/console/announcements", token, compose_data(db, channels=["sms", "loudspeaker"]))
    post(client, "/console/announcements", token, compose_data(db, title="Chỉ SMS", channels=["sms"]))
    for a in db.scalars(select(Announcement)):
        a.status = "sent"
    asset = AudioAsset(kind="announcement", content_hash="a" * 64, status="ready", mp3_path="x.mp3")
    db.add(asset)
    db.flush()
    db.scalar(select(Announcement).where(Announcement.title == "Tiêm phòng dại")).audio_id = asset.id
    db.commit()
    post(client, "/console/logout", token)
    login(client, "loa")
    html = client.get("/console/downloads").get_data(as_text=True)
    assert "Tiêm phòng dại" in html and f"/audio/{'a' * 64}.mp3?download=1" in html
    assert "Chỉ SMS" not in html  # not meant for loudspeakers


def test_operator_makes_and_revokes_a_private_feed_link(client, db, demo):
    from gateway.models import OperatorLink

    token = login(client, "loa")
    kp5 = area(db, "KP5")
    resp = post(client, "/console/downloads/links", token, {"area_id": str(kp5.id), "label": "Loa KP5"})
    html = resp.get_data(as_text=True)
    page_url = re.search(r'id="created-page" readonly value="([^"]+)"', html).group(1)
    feed_url = re.search(r'id="created-feed" readonly value="([^"]+)"', html).group(1)
    assert page_url.startswith("https://gw.example.vn/loa/") and feed_url.endswith("/feed.xml")
    path = page_url.replace("https://gw.example.vn", "")
    assert client.get(path).status_code == 200
    link = db.scalar(select(OperatorLink))
    assert (link.label, link.area_id, link.official_id) == ("Loa KP5", kp5.id, official(db, "loa").id)
    assert path.split("/")[2] not in client.get("/console/downloads").get_data(as_text=True)  # shown once
    post(client, f"/console/downloads/links/{link.id}/revoke", token)
    assert client.get(path).status_code == 410


def test_leader_cannot_make_a_link_for_another_area(client, db, demo):
    token = login(client, "truongkp1")
    resp = post(client, "/console/downloads/links", token, {"area_id": str(area(db, "KP5").id), "label": "x"})
    assert resp.status_code == 302
    from gateway.models import OperatorLink

    assert db.scalar(select(func.count()).select_from(OperatorLink)) == 0


# The message catalogue --------------------------------------------------------------------

def test_catalogues_have_the_same_keys_and_placeholders():
    vi, en = i18n.catalogue("vi"), i18n.catalogue("en")
    assert set(vi) == set(en)
    for key in vi:
        for form in [en[key]] if isinstance(en[key], str) else en[key]:  # each plural form
            assert set(re.findall(r"\{(\w+)\}", vi[key])) == set(re.findall(r"\{(\w+)\}", form)), key


def test_templates_and_views_use_only_known_keys():
    package = os.path.dirname(i18n.__file__)
    files = [os.path.join(package, "templates", "console", n) for n in os.listdir(os.path.join(package, "templates", "console"))]
    files += [os.path.join(package, n) for n in os.listdir(package) if n.endswith(".py") and n != "i18n.py"]
    used = set()
    for path in files:
        with open(path, encoding="utf-8") as f:
            used.update(re.findall(r"""\bt\(['"]([\w.]+)['"]\s*[,)]""", f.read()))
    assert len(used) > 100 and not used - set(i18n.catalogue("vi"))


def test_every_page_renders_in_both_languages(client, db, demo):
    report = new_report(db, code="KP1")
    token = login(client)
    for lang in ("vi", "en"):
        post(client, "/console/language", token, {"lang": lang})
        for path in ("/console/", "/console/announcements/new", "/console/announcements", "/console/reports",
                     f"/console/reports/{report.id}", "/console/residents", "/console/residents/new",
                     "/console/residents/import", "/console/downloads", "/console/simulator"):
            resp = client.get(path)
            assert resp.status_code == 200 and f'<html lang="{lang}">' in resp.get_data(as_text=True), (lang, path)


def test_json_polls_get_401_after_expiry_and_pages_redirect(client, demo):
    login(client)
    with client.session_transaction() as session:
        session["seen"] -= 61 * 60
    poll = client.get("/console/audio/1", headers={"Accept": "application/json"})
    assert poll.status_code == 401 and poll.get_json()["error"] == "Cần đăng nhập"
    page = client.get("/console/reports")
    assert page.status_code == 302


def test_sms_recipient_count_is_the_broadcasts_own(any_app):
    """The preview's COUNT agrees with the broadcast's targeting, SMS rule included."""
    from gateway.announcements.targeting import recipients
    from gateway.console.announcements import sms_recipients
    from gateway.db import get_db
    from gateway.demo import load_demo

    with any_app.app_context():
        db = get_db()
        load_demo(db, households=60)
        areas = [area(db, "KP1"), area(db, "TANLOI")]
        opted = db.scalar(select(Resident).where(Resident.area_id.in_(areas[0].descendant_ids(db))))
        opted.opted_out_at = utcnow()
        db.commit()
        for channels in (["sms"], ["sms", "voice"], ["sms", "hotline"], ["voice"]):
            for audiences in (["everyone"], ["elderly"], ["poor", "no_smartphone"]):
                draft = Announcement(areas=areas, audiences=audiences, channels=channels)
                expected = sum(1 for r in recipients(db, draft) if "sms" in r.channels)
                got = sms_recipients(db, areas, {"channels": channels, "audiences": audiences})
                assert got == expected, (channels, audiences)
        assert db.scalar(select(func.count()).select_from(Announcement)) == 0  # no draft was saved


def test_dashboard_answers_while_the_queue_is_unreachable(app, client, demo):
    import socket

    import redis as redis_lib

    login(client)
    with socket.socket() as s:  # a port nobody listens on: Redis is "down" after logging in
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    app.extensions["gateway.redis"] = redis_lib.Redis(host="127.0.0.1", port=port, socket_connect_timeout=1)
    response = client.get("/console/")
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert i18n.catalogue("vi")["dash.queue_down"] in html and "Bộ phận xử lý" not in html
