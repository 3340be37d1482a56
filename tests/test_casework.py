"""Reports mirrored into the group, worked by officials, with retries that lose nothing."""
import datetime as dt
import re

import pytest
import responses
from hypothesis import HealthCheck, given, settings, strategies as st
from sqlalchemy import select

from gateway.reports.casework import StatusError, change_status, report_received
from gateway.mirror.jobs import post as post_job
from gateway.mirror.messages import report_text
from gateway.mirror.outbound import POST_JOB
from gateway.phone import mask_text
from gateway.models import Area, Delivery, GroupPost, Official, OutboxMessage, Report
from gateway.queue import drain, stats
from gateway.reports.records import open_report

TG = "https://api.telegram.org/botT:1/sendMessage"


def area(db, code):
    return db.scalar(select(Area).where(Area.code == code, Area.level == "neighbourhood"))


def new_report(db, code="KP5", text="Có người lạ đi hỏi nhà ông Tư, số 0912 345 678", phone="+84987654321",
               category="security"):
    a = area(db, code)
    report = open_report(db, commune=a.commune(), channel="sms", text=text, area=a, phone=phone, category=category)
    report_received(db, report)
    db.commit()
    return report


def group_messages(db):
    return [m for m in db.scalars(select(OutboxMessage).where(OutboxMessage.channel == "group"))]


def test_new_report_is_mirrored_into_its_areas_group(app, db, demo):
    report = new_report(db)
    assert stats(app)["high"]["queued"] == 1  # queued only once the report was committed
    drain(app)
    [msg] = group_messages(db)
    assert msg.recipient == "kp5-group"
    assert msg.body.startswith(f"Phản ánh #{report.number} · Khu phố 5 · An ninh, trật tự")
    assert "09x xxx x321" in msg.body and "987654321" not in msg.body  # the sender, masked
    assert "0912 345 678" not in msg.body and "xxxxxxx678" in msg.body  # a number in the text, scrubbed
    post = db.scalar(select(GroupPost))
    assert (post.status, post.message_id, post.attempts) == ("posted", f"outbox-{msg.id}", 1)


def test_rolled_back_report_enqueues_nothing(app, db, demo):
    a = area(db, "KP5")
    report = open_report(db, commune=a.commune(), channel="sms", text="x", area=a, phone="+84987654321")
    report_received(db, report)
    db.rollback()
    assert stats(app)["high"]["queued"] == 0


def test_duplicated_job_posts_once(app, db, demo):
    new_report(db)
    post_id = db.scalar(select(GroupPost.id))
    with app.app_context():
        from gateway.queue import enqueue

        enqueue(POST_JOB, post_id, queue="high")  # a duplicate of the queued job
    drain(app)
    assert len(group_messages(db)) == 1


def test_area_without_a_group_uses_the_nearest_ancestors(app, db, demo):
    kp5 = area(db, "KP5")
    kp5.group_target = None
    db.commit()
    new_report(db)
    drain(app)
    assert [m.recipient for m in group_messages(db)] == ["tanlap-main"]


def test_status_changes_text_the_reporter_and_reply_in_the_group(app, db, demo):
    report = new_report(db)
    drain(app)
    official = db.scalar(select(Official).where(Official.login == "admin"))
    change_status(db, report, "acknowledged", note="Công an khu vực đã đến.", official=official)
    db.commit()
    delivery = db.scalar(select(Delivery).where(Delivery.report_id == report.id))
    assert delivery.phone == "+84987654321" and delivery.channel == "sms"
    assert delivery.body == f"Phan anh #{report.number} da duoc tiep nhan. Công an khu vực đã đến."
    assert delivery.idempotency_key.startswith(f"report:{report.id}:event:")
    first, second = db.scalars(select(GroupPost).order_by(GroupPost.id))
    assert second.reply_to == first.message_id
    assert second.text == f"Phản ánh #{report.number}: Đã tiếp nhận. Công an khu vực đã đến."
    assert [e.status for e in report.events if e.kind == "status"] == ["acknowledged"]
    assert report.events[-1].official_id == official.id


@pytest.mark.parametrize("path, bad", [
    (["resolved"], "acknowledged"),
    (["rejected"], "resolved"),
    ([], "new"),
    ([], "closed"),
])
def test_transitions_that_are_not_allowed(app, db, demo, path, bad):
    report = new_report(db)
    for status in path:
        change_status(db, report, status)
    with pytest.raises(StatusError):
        change_status(db, report, bad)


def test_closed_report_can_be_reopened(app, db, demo):
    report = new_report(db)
    change_status(db, report, "resolved")
    change_status(db, report, "in_progress", note="Mở lại")
    assert report.status == "in_progress"


def telegram_area(db, app):
    app.config.update(TELEGRAM_BOT_TOKEN="T:1", TELEGRAM_WEBHOOK_SECRET="sec")
    kp5 = area(db, "KP5")
    kp5.group_target, kp5.group_chat_id = "telegram", "-100555"
    db.commit()


@responses.activate
def test_rate_limited_post_waits_as_told_then_lands(app, db, demo):
    telegram_area(db, app)
    responses.add(responses.POST, TG, status=429, json={"ok": False, "error_code": 429,
                                                        "parameters": {"retry_after": 7}})
    responses.add(responses.POST, TG, json={"ok": True, "result": {"message_id": 77}})
    new_report(db)
    drain(app)
    post = db.scalar(select(GroupPost))
    db.refresh(post)
    assert post.status == "pending" and post.attempts == 1 and "429" in post.last_error
    wait = (post.next_attempt_at - dt.datetime.now(dt.timezone.utc)).total_seconds()
    assert 4 < wait <= 7
    assert stats(app)["high"]["scheduled"] == 1
    drain(app)
    assert len(responses.calls) == 1  # not before its time
    drain(app, scheduled=True)
    db.refresh(post)
    assert (post.status, post.message_id, post.attempts) == ("posted", "77", 2)


@responses.activate
def test_unreachable_group_keeps_the_report_until_it_can_post(app, db, demo):
    import requests

    telegram_area(db, app)
    for _ in range(3):
        responses.add(responses.POST, TG, body=requests.ConnectionError("no route"))
    responses.add(responses.POST, TG, json={"ok": True, "result": {"message_id": 5}})
    new_report(db)
    post = db.scalar(select(GroupPost))
    delays = []
    for _ in range(4):
        drain(app, scheduled=True)
        db.refresh(post)
        if post.status == "pending":
            delays.append(round((post.next_attempt_at - post.updated_at).total_seconds()))
    assert post.status == "posted" and post.attempts == 4
    assert delays == [10, 20, 40]  # backing off while the group is unreachable


@responses.activate
def test_permanent_refusal_is_recorded_not_retried(app, db, demo):
    telegram_area(db, app)
    responses.add(responses.POST, TG, status=403, json={"ok": False, "error_code": 403,
                                                        "description": "Forbidden: bot was kicked"})
    new_report(db)
    drain(app, scheduled=True)
    post = db.scalar(select(GroupPost))
    db.refresh(post)
    assert post.status == "failed" and "kicked" in post.last_error
    assert stats(app)["high"]["scheduled"] == 0


@responses.activate
def test_migrated_group_is_followed(app, db, demo):
    telegram_area(db, app)
    responses.add(responses.POST, TG, status=400, json={"ok": False, "error_code": 400, "description": "upgraded",
                                                        "parameters": {"migrate_to_chat_id": -100999}})
    responses.add(responses.POST, TG, json={"ok": True, "result": {"message_id": 1}})
    new_report(db)
    drain(app, scheduled=True)
    drain(app, scheduled=True)
    post = db.scalar(select(GroupPost))
    db.refresh(post)
    assert post.status == "posted" and post.chat_id == "-100999"
    assert area(db, "KP5").group_chat_id == "-100999"
    assert [__import__("json").loads(c.request.body)["chat_id"] for c in responses.calls] == ["-100555", "-100999"]


def test_post_job_for_a_missing_row_does_nothing(app):
    with app.app_context():
        assert post_job(12345) == "not pending"


# Masking: no full number ever reaches the group ------------------------------------------

FORMATS = [
    lambda n: n, lambda n: f"{n[:4]} {n[4:7]} {n[7:]}", lambda n: f"{n[:4]}.{n[4:7]}.{n[7:]}",
    lambda n: f"{n[:4]}-{n[4:7]}-{n[7:]}", lambda n: "+84" + n[1:], lambda n: "+84 " + f"{n[1:4]} {n[4:7]} {n[7:]}",
    lambda n: "84" + n[1:], lambda n: f"({n[:4]}) {n[4:]}",
]
numbers = st.builds(lambda p, r: f"0{p}{r:07d}", st.sampled_from(["32", "38", "86", "90", "91", "98", "77", "83"]),
                    st.integers(0, 9_999_999))
words = st.text(alphabet="aăâbcdđeêghiklmnoôơpqrstuưvxyàảãáạ .,!?", max_size=40)


@settings(max_examples=200, suppress_health_check=[HealthCheck.function_scoped_fixture], deadline=None)
@given(sender=numbers, mentioned=numbers, fmt=st.sampled_from(FORMATS), before=words, after=words)
def test_group_message_never_shows_a_full_number(db, demo, sender, mentioned, fmt, before, after):
    a = area(db, "KP5")
    report = Report(commune_id=a.parent_id, number=1, area=a, phone="+84" + sender[1:], channel="sms",
                    category="other", text=f"{before} {fmt(mentioned)} {after}", status="new",
                    created_at=dt.datetime.now(dt.timezone.utc), transcript=f"gọi {fmt(sender)}")
    report.recording_url = "https://api.twilio.com/rec"
    text = report_text(report)
    joined = re.sub(r"(?<=\d)[\s.\-()+]+(?=\d)", "", text)  # "0912 345 678" → "0912345678"
    for number in (sender, mentioned):
        assert number[1:] not in joined
        assert number[-3:] in text


@pytest.mark.parametrize("text, kept", [
    ("Vay 10.000.000 đồng, lãi 0,65%/tháng", "10.000.000"),
    ("Họp lúc 14h ngày 14/8/2024", "14/8/2024"),
    ("Mã hồ sơ 12345", "12345"),
])
def test_scrubbing_keeps_what_is_not_a_phone(text, kept):
    assert kept in mask_text(text)
