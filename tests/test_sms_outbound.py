"""Outbound SMS: deliveries claimed before sending, retries, permanent failures, crashed workers,
and each provider against its recorded HTTP."""
import base64
import datetime as dt
import json
from urllib.parse import parse_qs

import pytest
import requests
import responses
from sqlalchemy import select, update

from gateway.config import ConfigError
from gateway.models import Announcement, Delivery, OutboxMessage, Resident, utcnow
from gateway.queue import drain, enqueue, stats
from gateway.sms.outbound import MAX_ATTEMPTS, NEEDS_OPERATOR, reference, requeue_stuck
from gateway.sms_queue import queue_sms

SID = "AC" + "0" * 32
TWILIO_URL = f"https://api.twilio.com/2010-04-01/Accounts/{SID}/Messages.json"
ANDROID = "http://192.168.1.20:8080"
ESMS_URL = "https://rest.esms.vn/MainService.svc/json/SendMultipleMessage_V4_post_json/"
PROVIDERS = {
    "twilio": {"SMS_PROVIDER": "twilio", "TWILIO_FROM_NUMBER": "+14155550100"},
    "android": {"SMS_PROVIDER": "android", "SMS_ANDROID_URL": ANDROID, "SMS_ANDROID_USER": "sms",
                "SMS_ANDROID_PASSWORD": "pw123456", "SMS_ANDROID_SIGNING_KEY": "k"},
    "esms": {"SMS_PROVIDER": "esms", "ESMS_API_KEY": "key", "ESMS_SECRET_KEY": "secret", "ESMS_BRANDNAME": "UBND_XA",
             "ESMS_CALLBACK_TOKEN": "cb"},
}


def use(app, name):
    app.config.update(PROVIDERS[name])


def queue(db, body="Thông báo: họp tổ lúc 19h – đừng quên!", key="k1", phone="+84912345678", **kw):
    delivery = queue_sms(db, phone=phone, body=body, key=key, **kw)
    db.commit()
    return delivery


def fresh(db, delivery):
    db.refresh(delivery)
    return delivery


def test_queue_sms_is_get_or_create_and_enqueues_after_commit(app, db):
    first = queue_sms(db, phone="+84912345678", body="x", key="same")
    assert stats(app)["high"]["queued"] == 0  # not before the commit
    again = queue_sms(db, phone="+84912345678", body="x", key="same")
    assert again.id == first.id
    db.commit()
    assert stats(app)["high"]["queued"] == 1
    queue_sms(db, phone="+84912345678", body="y", key="rolled-back")
    db.rollback()
    assert stats(app)["high"]["queued"] == 1
    assert db.scalar(select(Delivery).where(Delivery.idempotency_key == "rolled-back")) is None


def test_outbox_send_converts_to_plain_text(app, db):
    d = queue(db)
    drain(app)
    [row] = db.scalars(select(OutboxMessage))
    assert (row.recipient, row.body) == ("+84912345678", "Thong bao: hop to luc 19h - dung quen!")
    d = fresh(db, d)
    assert (d.status, d.provider, d.provider_id, d.attempts) == ("sent", "outbox", f"outbox-{row.id}", 1)
    assert d.body == "Thông báo: họp tổ lúc 19h – đừng quên!"  # kept as written


def test_duplicated_job_sends_once(app, db):
    d = queue(db)
    with app.app_context():
        enqueue("gateway.sms.jobs.send_delivery", d.id, queue="high")
        enqueue("gateway.sms.jobs.send_delivery", d.id, queue="high")
    drain(app)
    assert len(list(db.scalars(select(OutboxMessage)))) == 1
    assert fresh(db, d).attempts == 1


def twilio_message(sid="SM" + "1" * 32, status="queued"):
    return {"sid": sid, "status": status, "to": "+84912345678", "from": "+14155550100", "body": "x",
            "account_sid": SID, "num_segments": "1", "direction": "outbound-api", "api_version": "2010-04-01",
            "uri": f"/2010-04-01/Accounts/{SID}/Messages/{sid}.json"}


@responses.activate
def test_twilio_sends_with_the_real_client(app, db):
    use(app, "twilio")
    responses.add(responses.POST, TWILIO_URL, status=201, json=twilio_message())
    d = queue(db)
    drain(app)
    [call] = responses.calls
    form = parse_qs(call.request.body)
    assert form == {"To": ["+84912345678"], "From": ["+14155550100"], "Body": ["Thong bao: hop to luc 19h - dung quen!"],
                    "StatusCallback": ["https://gw.example.vn/sms/status"]}
    user, _, password = base64.b64decode(call.request.headers["Authorization"].split()[1]).decode().partition(":")
    assert (user, password) == (SID, app.config["TWILIO_AUTH_TOKEN"])
    d = fresh(db, d)
    assert (d.status, d.provider, d.provider_id) == ("queued", "twilio", "SM" + "1" * 32)


# recorded answer, expected: (status after the first try, error code, retry scheduled)
TWILIO_ERRORS = [
    ((400, {"code": 21211, "message": "The 'To' number is not a valid phone number.", "status": 400}), ("failed", "21211", 0)),
    ((400, {"code": 21408, "message": "Permission to send an SMS has not been enabled for the region", "status": 400}),
     ("failed", "21408", 0)),
    ((401, {"code": 20003, "message": "Authenticate", "status": 401}), ("failed", "20003", 0)),
    ((429, {"code": 20429, "message": "Too Many Requests", "status": 429}), ("pending", "20429", 1)),
    ((503, {"code": 20500, "message": "Internal Server Error", "status": 503}), ("pending", "20500", 1)),
    ((500, "<html>oops</html>"), ("pending", "500", 1)),
    (requests.ConnectionError("reset"), ("pending", None, 1)),
]


@pytest.mark.parametrize("answer, expected", TWILIO_ERRORS, ids=[str(i) for i in range(len(TWILIO_ERRORS))])
@responses.activate
def test_twilio_errors(app, db, answer, expected):
    use(app, "twilio")
    if isinstance(answer, Exception):
        responses.add(responses.POST, TWILIO_URL, body=answer)
    else:
        status, body = answer
        kwargs = {"json": body} if isinstance(body, dict) else {"body": body}
        responses.add(responses.POST, TWILIO_URL, status=status, **kwargs)
    d = queue(db)
    drain(app)
    d = fresh(db, d)
    assert (d.status, d.error_code, stats(app)["high"]["scheduled"]) == expected
    assert d.last_error


@responses.activate
def test_transient_error_backs_off_then_sends(app, db):
    use(app, "twilio")
    responses.add(responses.POST, TWILIO_URL, status=503, json={"code": 20500, "message": "down", "status": 503})
    responses.add(responses.POST, TWILIO_URL, status=503, json={"code": 20500, "message": "down", "status": 503})
    responses.add(responses.POST, TWILIO_URL, status=201, json=twilio_message())
    d = queue(db)
    waits = []
    for _ in range(3):
        drain(app, scheduled=True)
        d = fresh(db, d)
        if d.status == "pending":
            waits.append(round((d.next_attempt_at - d.updated_at).total_seconds()))
    assert (d.status, d.attempts, d.error_code, d.last_error) == ("queued", 3, None, None)
    assert waits == [30, 60]
    assert len(responses.calls) == 3


@responses.activate
def test_gives_up_after_the_last_attempt(app, db):
    use(app, "twilio")
    responses.add(responses.POST, TWILIO_URL, status=503, json={"code": 20500, "message": "down", "status": 503})
    d = queue(db)
    db.execute(update(Delivery).where(Delivery.id == d.id).values(attempts=MAX_ATTEMPTS - 1))
    db.commit()
    drain(app)
    d = fresh(db, d)
    assert (d.status, d.attempts, stats(app)["high"]["scheduled"]) == ("failed", MAX_ATTEMPTS, 0)


def test_provider_without_its_settings_fails_clearly(app, db):
    app.config.update(SMS_PROVIDER="twilio", TWILIO_FROM_NUMBER="")
    d = queue(db)
    drain(app)
    d = fresh(db, d)
    assert (d.status, d.error_code) == ("failed", "not_configured") and "TWILIO_FROM_NUMBER" in d.last_error


@pytest.mark.parametrize("name, missing", [
    ("twilio", "TWILIO_FROM_NUMBER"), ("android", "SMS_ANDROID_URL, SMS_ANDROID_USER, SMS_ANDROID_PASSWORD"),
    ("esms", "ESMS_API_KEY, ESMS_SECRET_KEY, ESMS_BRANDNAME, ESMS_CALLBACK_TOKEN"),
])
def test_production_refuses_to_start_without_the_providers_settings(make_app, name, missing):
    with pytest.raises(ConfigError, match=missing):
        make_app(GATEWAY_ENV="production", SMS_PROVIDER=name, DATABASE_URL="postgresql://x/y",
                 REDIS_URL="redis://127.0.0.1:6379/0", TWILIO_AUTH_TOKEN="t" * 20)


def test_notices_to_an_opted_out_number_are_skipped_but_replies_go(app, db):
    db.add(Resident(phone="+84912345678", opted_out_at=utcnow()))
    announcement = Announcement(title="t", body="b", status="sending")
    db.add(announcement)
    db.flush()
    notice = queue(db, key="ann", announcement_id=announcement.id)
    reply = queue(db, key="sms:in:1:reply", body="Ban da ngung nhan tin")
    drain(app)
    assert (fresh(db, notice).status, notice.error_code) == ("skipped", "opted_out")
    assert fresh(db, reply).status == "sent"
    assert [m.body for m in db.scalars(select(OutboxMessage))] == ["Ban da ngung nhan tin"]


@responses.activate
def test_android_sends_with_our_reference_and_basic_auth(app, db):
    use(app, "android")
    responses.add(responses.POST, f"{ANDROID}/message", status=202,
                  json={"id": "ignored-we-keep-ours", "state": "Pending", "recipients": []})
    d = queue(db)
    drain(app)
    request = responses.calls[0].request
    sent = json.loads(request.body)
    assert sent == {"textMessage": {"text": "Thong bao: hop to luc 19h - dung quen!"}, "phoneNumbers": ["+84912345678"],
                    "withDeliveryReport": True, "id": reference(d)}
    assert request.headers["Authorization"] == "Basic " + base64.b64encode(b"sms:pw123456").decode()
    d = fresh(db, d)
    assert (d.status, d.provider_id) == ("queued", "ignored-we-keep-ours")


# recorded answer → (status, provider id is our reference, error code)
ANDROID_ANSWERS = [
    ((409, {"message": "message with id already exists"}), ("queued", True, None)),
    ((400, {"message": "invalid phone number"}), ("failed", False, "400")),
    ((401, {"message": "unauthorized"}), ("failed", False, "401")),
    ((500, {"message": "internal"}), ("pending", False, "500")),
]


@pytest.mark.parametrize("answer, expected", ANDROID_ANSWERS, ids=[str(a[0][0]) for a in ANDROID_ANSWERS])
@responses.activate
def test_android_answers(app, db, answer, expected):
    use(app, "android")
    responses.add(responses.POST, f"{ANDROID}/message", status=answer[0], json=answer[1])
    d = queue(db)
    drain(app)
    d = fresh(db, d)
    assert (d.status, d.provider_id == reference(d), d.error_code) == expected


@responses.activate
def test_esms_sends_customer_care_sms_with_our_request_id(app, db):
    use(app, "esms")
    responses.add(responses.POST, ESMS_URL, json={"CodeResult": "100", "CountRegenerate": 0, "SMSID": "smsid-1"})
    d = queue(db)
    drain(app)
    sent = json.loads(responses.calls[0].request.body)
    assert sent == {"ApiKey": "key", "SecretKey": "secret", "Phone": "0912345678",
                    "Content": "Thong bao: hop to luc 19h - dung quen!", "SmsType": "2", "Brandname": "UBND_XA",
                    "IsUnicode": "0", "Sandbox": "0", "RequestId": reference(d),
                    "CallbackUrl": "https://gw.example.vn/sms/esms/status?token=cb"}
    assert (fresh(db, d).status, d.provider_id) == ("queued", "smsid-1")


ESMS_ANSWERS = [
    ({"CodeResult": "124", "ErrorMessage": "Duplicate RequestId"}, ("queued", None)),
    ({"CodeResult": "101", "ErrorMessage": "Authorize Failed"}, ("failed", "101")),
    ({"CodeResult": "104", "ErrorMessage": "Brandname not exist"}, ("failed", "104")),
    ({"CodeResult": "108", "ErrorMessage": "Phone invalid"}, ("failed", "108")),
    ({"CodeResult": "103", "ErrorMessage": "Balance not enough"}, ("pending", "103")),
    ({"CodeResult": "999", "ErrorMessage": "something new"}, ("pending", "999")),
]


@pytest.mark.parametrize("answer, expected", ESMS_ANSWERS, ids=[a[0]["CodeResult"] for a in ESMS_ANSWERS])
@responses.activate
def test_esms_answers(app, db, answer, expected):
    use(app, "esms")
    responses.add(responses.POST, ESMS_URL, json=answer)
    d = queue(db)
    drain(app)
    d = fresh(db, d)
    assert (d.status, d.error_code) == expected


def stuck(db, d, minutes=30):
    """What a worker that died mid-send leaves: the row claimed, nothing recorded."""
    db.execute(update(Delivery).where(Delivery.id == d.id).values(
        status="sending", attempts=1, provider=d.provider, updated_at=utcnow() - dt.timedelta(minutes=minutes)))
    db.commit()


@responses.activate
def test_stuck_twilio_message_goes_to_an_operator_not_out_again(app, db):
    use(app, "twilio")
    d = queue(db)
    d.provider = "twilio"
    stuck(db, d)
    assert requeue_stuck(db, app.config) == {"found": 0, "resent": 0, "operator": 1, "requeued": 0}
    drain(app, scheduled=True)
    d = fresh(db, d)
    assert (d.status, d.error_code) == ("failed", NEEDS_OPERATOR) and "sms resend" in d.last_error
    assert len(responses.calls) == 0  # never sent twice


@responses.activate
def test_stuck_android_message_is_looked_up_first(app, db):
    use(app, "android")
    d = queue(db)
    d.provider = "android"
    stuck(db, d)
    responses.add(responses.GET, f"{ANDROID}/message/{reference(d)}",
                  json={"id": reference(d), "state": "Delivered", "recipients": [], "states": {}})
    assert requeue_stuck(db, app.config) == {"found": 1, "resent": 0, "operator": 0, "requeued": 0}
    drain(app, scheduled=True)
    d = fresh(db, d)
    assert (d.status, d.provider_id) == ("delivered", reference(d))
    assert [c.request.method for c in responses.calls] == ["GET"]


@responses.activate
def test_stuck_android_message_it_never_got_is_sent_again_with_the_same_id(app, db):
    use(app, "android")
    d = queue(db)
    d.provider = "android"
    stuck(db, d)
    responses.add(responses.GET, f"{ANDROID}/message/{reference(d)}", status=404, json={"message": "not found"})
    responses.add(responses.POST, f"{ANDROID}/message", status=202, json={"id": reference(d), "state": "Pending"})
    assert requeue_stuck(db, app.config)["resent"] == 1
    drain(app)
    d = fresh(db, d)
    assert d.status == "queued" and json.loads(responses.calls[1].request.body)["id"] == reference(d)


def test_stuck_outbox_message_is_resent_and_recent_ones_are_left_alone(app, db, runner):
    old, recent = queue(db, key="old"), queue(db, key="recent")
    old.provider = recent.provider = "outbox"
    stuck(db, old, minutes=30)
    stuck(db, recent, minutes=2)
    result = runner.invoke(args=["sms", "requeue-stuck", "--minutes", "10"])
    assert "sent again: 1; for an operator: 0; overdue and queued again: 0" in result.output
    drain(app)
    assert (fresh(db, old).status, fresh(db, recent).status) == ("sent", "sending")


def test_operator_resends_after_checking(app, db, runner):
    d = queue(db)
    db.execute(update(Delivery).where(Delivery.id == d.id).values(status="failed", error_code=NEEDS_OPERATOR))
    db.commit()
    assert str(d.id) in runner.invoke(args=["sms", "stuck"]).output
    assert runner.invoke(args=["sms", "resend", str(d.id)]).exit_code == 0
    drain(app)
    assert fresh(db, d).status == "sent"
    refused = runner.invoke(args=["sms", "resend", str(d.id)])
    assert refused.exit_code != 0 and "only failed or stuck" in refused.output


def test_cli_segments(runner):
    result = runner.invoke(args=["sms", "segments", "Thông báo: họp tổ dân phố lúc 19h"])
    assert result.output.splitlines() == ["Thong bao: hop to dan pho luc 19h", "as written: UCS-2, 33 characters, 1 SMS",
                                          "as sent: GSM-7, 33 characters, 1 SMS"]


def test_cli_send(app, db, runner):
    result = runner.invoke(args=["sms", "send", "0912 345 678", "Thử"])
    assert "to +84912345678 via outbox" in result.output
    drain(app)
    assert [m.body for m in db.scalars(select(OutboxMessage))] == ["Thu"]
    assert "0912" in runner.invoke(args=["sms", "send", "0912", "x"]).output


def test_queue_sms_on_both_databases_and_the_send_claims_once(any_app):
    from gateway.db import get_db

    with any_app.app_context():
        db = get_db()
        first = queue_sms(db, phone="+84912345678", body="Họp", key="both")
        assert queue_sms(db, phone="+84912345678", body="Họp", key="both").id == first.id
        db.rollback()
        assert db.scalar(select(Delivery)) is None  # rolled back with the caller's transaction
        d = queue(db, key="both", body="Họp")
        enqueue("gateway.sms.jobs.send_delivery", d.id, queue="high")  # a duplicate job
        drain(any_app)
        assert [m.body for m in db.scalars(select(OutboxMessage))] == ["Hop"]
        assert fresh(db, d).status == "sent"


def test_overdue_pending_delivery_whose_job_was_lost_is_queued_again(app, db, redis_url):
    import redis

    d = queue(db)
    redis.Redis.from_url(redis_url).flushdb()  # the job is gone; the row still says pending
    db.execute(update(Delivery).where(Delivery.id == d.id).values(updated_at=utcnow() - dt.timedelta(hours=1)))
    db.commit()
    assert requeue_stuck(db, app.config)["requeued"] == 1
    drain(app)
    assert fresh(db, d).status == "sent"
    assert len(list(db.scalars(select(OutboxMessage)))) == 1
