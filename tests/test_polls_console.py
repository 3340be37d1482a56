"""Polls in the console: the form and its SMS preview, the results page and its JSON, the
exports, and the scope rule (a leader of another area sees nothing, creates nothing)."""
import datetime as dt
import io
from zoneinfo import ZoneInfo

import pytest
from openpyxl import load_workbook
from sqlalchemy import func, select

from gateway.models import Announcement, Area, Poll, Resident
from gateway.sms.inbound import receive
from tests.console_helpers import login, post, post_json

LOCAL = ZoneInfo("Asia/Ho_Chi_Minh")


def deadline(hours=48):
    return (dt.datetime.now(LOCAL) + dt.timedelta(hours=hours)).strftime("%Y-%m-%dT%H:%M")


def area_id(app, code):
    from gateway.db import get_db

    with app.app_context():
        return get_db().scalar(select(Area.id).where(Area.code == code, Area.level == "neighbourhood"))


def form(app, code="KP1", **extra):
    return {"question": "Bà con chọn ngày họp nào?", "options": "Thứ bảy | t7\nChủ nhật | cn",
            "areas": [str(area_id(app, code))], "audiences": ["everyone"], "channels": ["sms", "hotline"],
            "closes_at": deadline(), **extra}


def count(app, model):
    from gateway.db import get_db

    with app.app_context():
        return get_db().scalar(select(func.count()).select_from(model))


def create(app, client, token, code="KP1"):
    resp = post(client, "/console/polls", token, form(app, code))
    assert resp.status_code == 302, resp.get_data(as_text=True)
    return int(resp.headers["Location"].rsplit("/", 1)[1])


def answer(app, code, choice, n, intent="poll"):
    """`n` households of neighbourhood `code` text `choice`; what each text became is `intent`."""
    from gateway.db import get_db

    with app.app_context():
        db = get_db()
        area = db.scalar(select(Area).where(Area.code == code, Area.level == "neighbourhood"))
        phones = list(db.scalars(select(Resident.phone).where(Resident.area_id.in_(area.descendant_ids(db)),
                                                              Resident.opted_out_at.is_(None))
                                 .order_by(Resident.id).limit(n)))
        for phone in phones:
            assert receive(db, provider="twilio", sender=phone, body=choice, config=app.config).intent == intent
        return phones


def test_an_official_creates_a_poll_and_reads_its_results(app, demo):
    client = app.test_client()
    token = login(client, "truongkp1")  # leader of Khu phố 1 and 2
    page = client.get("/console/polls/new").get_data(as_text=True)
    assert 'name="question"' in page and "Khu phố 1" in page and "Khu phố 5" not in page
    poll_id = create(app, client, token)
    html = client.get(f"/console/polls/{poll_id}").get_data(as_text=True)
    assert "Bà con chọn ngày họp nào?" in html and "Hoi y kien: Ba con chon ngay hop nao? Tra loi 1 neu Thu bay" in html
    answer(app, "KP1", "t7", 2)
    answer(app, "KP2", "cn", 1, intent="report")  # Khu phố 2 was not asked: "cn" is no answer there
    data = client.get(f"/console/polls/{poll_id}/results").get_json()
    assert data["options"] == ["Thứ bảy", "Chủ nhật"] and data["total"]["counts"] == [2, 0]
    assert data["open"] is True and data["state"] == "Đang nhận trả lời"
    assert [row["area"] for row in data["areas"]] == ["Khu phố 1"]
    assert data["total"]["share"] == round(200 / data["total"]["asked"])
    assert "Hỏi ý kiến" in client.get("/console/polls").get_data(as_text=True)


def test_the_form_previews_the_sms_and_its_parts(app, demo):
    client = app.test_client()
    token = login(client)
    data = post_json(client, "/console/polls/preview", token,
                     {"question": "Hộ có cần hỗ trợ gạo không?", "options": "Có cần\nKhông cần"}).get_json()
    assert data == {"text": "Hoi y kien: Ho co can ho tro gao khong? Tra loi 1 neu Co can, 2 neu Khong can.",
                    "parts": 1, "summary": "1 tin nhắn, 78 ký tự, không dấu."}
    bad = post_json(client, "/console/polls/preview", token, {"question": "?", "options": "Một"}).get_json()
    assert bad["parts"] == 0 and "2 đến 9" in bad["summary"]


@pytest.mark.parametrize("change, message", [
    ({"options": "Chỉ một"}, "Cần từ 2 đến 9 lựa chọn"),
    ({"question": "  "}, "Chưa viết câu hỏi"),
    ({"closes_at": ""}, "Chưa chọn hạn trả lời"),
    ({"closes_at": "ngày mai"}, "không đúng dạng ngày giờ"),
    ({"areas": []}, "Chọn ít nhất một khu vực"),
    ({"recording_id": "999"}, "Bản ghi âm không tồn tại"),
])
def test_form_errors_are_said_plainly_and_create_nothing(app, demo, change, message):
    client = app.test_client()
    token = login(client)
    resp = post(client, "/console/polls", token, {**form(app), **change})
    assert resp.status_code == 400 and message in resp.get_data(as_text=True)
    assert count(app, Poll) == 0 and count(app, Announcement) == 0


def test_a_leader_of_another_area_sees_nothing_and_creates_nothing(app, demo):
    admin = app.test_client()
    poll_id = create(app, admin, login(admin), "KP5")
    answer(app, "KP5", "1", 2)
    other = app.test_client()
    token = login(other, "truongkp1")
    for path in (f"/console/polls/{poll_id}", f"/console/polls/{poll_id}/results",
                 f"/console/polls/{poll_id}/export.csv", f"/console/polls/{poll_id}/export.xlsx"):
        assert other.get(path).status_code == 404, path
    assert "Bà con chọn ngày họp nào?" not in other.get("/console/polls").get_data(as_text=True)
    resp = post(other, "/console/polls", token, form(app, "KP5"))
    assert resp.status_code == 403
    assert count(app, Poll) == 1 and count(app, Announcement) == 1
    assert app.test_client().get(f"/console/polls/{poll_id}/results").status_code in (302, 401)


def test_exports_mask_phones_and_carry_the_answers(app, demo):
    client = app.test_client()
    poll_id = create(app, client, login(client), "KP1")
    phones = answer(app, "KP1", "chu nhat", 2)
    csv_resp = client.get(f"/console/polls/{poll_id}/export.csv")
    assert csv_resp.status_code == 200 and csv_resp.mimetype == "text/csv"
    text = csv_resp.get_data(as_text=True)
    lines = text.lstrip("\ufeff").strip().splitlines()
    assert lines[0].startswith("Khu vực,Hộ,Số điện thoại") and len(lines) == 3
    assert all(p not in text and p[-3:] in text for p in phones)
    assert all(",2,Chủ nhật,Tin nhắn," in line for line in lines[1:])
    book = load_workbook(io.BytesIO(client.get(f"/console/polls/{poll_id}/export.xlsx").data))
    rows = list(book.active.iter_rows(values_only=True))
    assert rows[0][:3] == ("Khu vực", "Hộ", "Số điện thoại") and len(rows) == 3
    assert {r[7] for r in rows[1:]} == {"Chủ nhật"} and not any(p in str(rows) for p in phones)
    assert client.get(f"/console/polls/{poll_id}/export.pdf").status_code == 404
    assert client.get("/console/polls/999999/results").status_code == 404
