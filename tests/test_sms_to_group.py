"""Issue 7 end to end: a signed SMS webhook → a report → mirrored into the area's Telegram group
by a real RQ worker (burst mode, local Redis), HTTP recorded at the one seam; follow-ups land
as replies in the same thread, and a text after the window opens a new report."""
import datetime as dt
import json
import re

import pytest
import responses
from sqlalchemy import select, update

from gateway.models import Area, GroupPost, Report, Resident
from gateway.phone import mask
from gateway.queue import drain
from tests.sms_helpers import inbound_params, twiml_messages, twilio_post

TG = "https://api.telegram.org/botT:1/sendMessage"
TEXT = "PA cong thoat nuoc bi tac o hem 12, goi 0912345678"


@pytest.fixture
def telegram_app(make_app, tmp_path, sqlite_template, redis_url):
    import shutil

    import redis

    db_path = tmp_path / "gateway.sqlite"
    shutil.copy(sqlite_template, db_path)
    redis.Redis.from_url(redis_url).flushdb()
    app = make_app(DATABASE_URL=f"sqlite:///{db_path}", REDIS_URL=redis_url, TELEGRAM_BOT_TOKEN="T:1",
                   TELEGRAM_WEBHOOK_SECRET="tg-secret")
    app.testing = True
    return app


@pytest.fixture
def household(telegram_app):
    from gateway.db import get_db
    from gateway.demo import load_demo

    with telegram_app.app_context():
        db = get_db()
        load_demo(db, households=60)
        kp5 = db.scalar(select(Area).where(Area.code == "KP5", Area.level == "neighbourhood"))
        kp5.group_target, kp5.group_chat_id = "telegram", "-100555"
        resident = db.scalar(select(Resident).where(Resident.area_id.in_([t.id for t in kp5.children])).limit(1))
        db.commit()
        return resident.phone, resident.area.name


def sent_to_telegram(call):
    return json.loads(call.request.body)


def digits(text):
    return re.sub(r"(?<=\d)[\s.\-()+]+(?=\d)", "", text)


@responses.activate
def test_sms_report_reaches_the_telegram_group_and_follow_ups_thread(telegram_app, household):
    phone, team = household
    responses.add(responses.POST, TG, json={"ok": True, "result": {"message_id": 77, "date": 1}})
    responses.add(responses.POST, TG, json={"ok": True, "result": {"message_id": 78, "date": 2}})
    responses.add(responses.POST, TG, json={"ok": True, "result": {"message_id": 90, "date": 3}})
    client = telegram_app.test_client()

    resp = twilio_post(client, "/sms/inbound", inbound_params(TEXT, phone, sid="SM" + "a" * 32))
    assert resp.status_code == 200
    [receipt] = twiml_messages(resp)
    number = int(re.search(r"#(\d+)", receipt).group(1))
    assert receipt == f"Da nhan phan anh #{number}. Can bo Khu pho 5 se xu ly va bao lai. Nhan them tin de bo sung."
    assert len(responses.calls) == 0  # the webhook only enqueued; the worker posts

    drain(telegram_app)
    [call] = responses.calls
    sent = sent_to_telegram(call)
    assert sent["chat_id"] == "-100555" and "reply_parameters" not in sent
    message = sent["text"]
    assert message.startswith(f"Phản ánh #{number} · Khu phố 5, {team} · Môi trường, rác thải, tiếng ồn")
    assert f"Từ: {mask(phone)} (tin nhắn SMS)" in message
    assert "«cong thoat nuoc bi tac o hem 12, goi xxxxxxx678»" in message
    for full in (phone[3:], "912345678"):  # neither the sender's number nor the one in the text
        assert full not in digits(message)
    assert re.search(r"\d\d:\d\d ngày \d\d/\d\d/\d{4}", message)

    with telegram_app.app_context():
        from gateway.db import get_db

        db = get_db()
        report = db.scalar(select(Report).where(Report.number == number))
        assert (report.phone, report.category, report.channel) == (phone, "environment", "sms")
        assert db.scalar(select(GroupPost).where(GroupPost.report_id == report.id)).message_id == "77"

    # A follow-up within the window: the same report's thread, a reply in the group.
    resp = twilio_post(client, "/sms/inbound", inbound_params("Nuoc da tran ra duong, so nha 0987 654 321",
                                                              phone, sid="SM" + "b" * 32))
    assert twiml_messages(resp) == [f"Da bo sung vao phan anh #{number}. Cam on ban."]
    drain(telegram_app)
    follow = sent_to_telegram(responses.calls[1])
    assert follow["reply_parameters"] == {"message_id": 77, "allow_sending_without_reply": True}
    assert follow["text"] == f"Phản ánh #{number} · {mask(phone)} nhắn thêm: «Nuoc da tran ra duong, so nha xxxxxxx321»"
    with telegram_app.app_context():
        db = get_db()
        report = db.scalar(select(Report).where(Report.number == number))
        assert [e.text for e in report.events if e.kind == "message_in"] == [
            "cong thoat nuoc bi tac o hem 12, goi 0912345678", "Nuoc da tran ra duong, so nha 0987 654 321"]
        # Time passes: the resident's last text is now outside the 30-minute window.
        db.execute(update(Report).where(Report.id == report.id).values(
            last_message_at=report.last_message_at - dt.timedelta(minutes=31)))
        db.commit()

    resp = twilio_post(client, "/sms/inbound", inbound_params("Den duong hem 5 bi hong", phone, sid="SM" + "c" * 32))
    assert twiml_messages(resp) == [
        f"Da nhan phan anh #{number + 1}. Can bo Khu pho 5 se xu ly va bao lai. Nhan them tin de bo sung."]
    drain(telegram_app)
    new = sent_to_telegram(responses.calls[2])
    assert "reply_parameters" not in new and new["text"].startswith(f"Phản ánh #{number + 1} · Khu phố 5")
    assert len(responses.calls) == 3
