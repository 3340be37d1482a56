"""Provider webhooks replayed from tables of captured requests (nyaruka/courier style): valid,
bad and missing signatures, with the expected status, reply and rows."""
import time

import pytest
import unicodedata
from sqlalchemy import func, select

from gateway.models import Delivery, InboundMessage, Report, Resident
from tests.sms_helpers import (ANDROID_KEY, android_post, inbound_params, reference, twiml_messages,
                               twilio_post)

UNKNOWN = "+84987000111"

# name, params, signature, HTTP status, reply (substring; "" = none), rows: (inbound messages, intent)
INBOUND = [
    ("reference-example", inbound_params("Xin chào, tôi cần hỗ trợ về đăng ký tạm trú.", UNKNOWN), "valid", 200,
     "Da nhan phan anh #1.", (1, "report")),
    ("reference-example-bad-signature", inbound_params("Xin chào", UNKNOWN), "bad", 403, None, (0, None)),
    ("reference-example-no-signature", inbound_params("Xin chào", UNKNOWN), "missing", 403, None, (0, None)),
    ("subscribe", inbound_params("DK KP5", UNKNOWN), "valid", 200, "Da dang ky nhan tin Khu pho 5.",
     (1, "subscribe")),
    ("subscribe-bad-signature", inbound_params("DK KP5", UNKNOWN), "bad", 403, None, (0, None)),
    ("subscribe-no-signature", inbound_params("DK KP5", UNKNOWN), "missing", 403, None, (0, None)),
    ("subscribe-diacritics", inbound_params("ĐK thôn Tân Lợi", UNKNOWN), "valid", 200,
     "Da dang ky nhan tin Thon Tan Loi.", (1, "subscribe")),
    ("ambiguous-area", inbound_params("DK to 1", UNKNOWN), "valid", 200, "\"to 1\" co 14 khu: KP1 To 1, KP2 To 1",
     (1, "subscribe")),
    ("unknown-area-suggested", inbound_params("DK tan loii", UNKNOWN), "valid", 200,
     "Khong tim thay khu \"tan loii\". Co phai: TANLOI (Thon Tan Loi)?", (1, "subscribe")),
    ("news-stranger", inbound_params("TIN", UNKNOWN), "valid", 200, "Ban chua dang ky khu nao.", (1, "news")),
    ("news-for-an-area", inbound_params("TIN KP5", UNKNOWN), "valid", 200, "Chua co thong bao moi cho Khu pho 5.",
     (1, "news")),
    ("stop", inbound_params("STOP", UNKNOWN), "valid", 200, "Ban da ngung nhan tin", (1, "unsubscribe")),
    ("huy", inbound_params("Hủy", UNKNOWN), "valid", 200, "Ban da ngung nhan tin", (1, "unsubscribe")),
    ("help", inbound_params("?", UNKNOWN), "valid", 200, "DK <ma khu> dang ky, TIN xem tin", (1, "help")),
    ("empty-body-mms", dict(reference("twilio_webhooks.json")["inbound_sms"]["examples"][2]["params"], From=UNKNOWN),
     "valid", 200, "Loa Xom: DK", (1, "help")),
    ("confirm-nothing", inbound_params("OK", UNKNOWN), "valid", 200, "Khong co thong bao nao can xac nhan",
     (1, "confirm")),
    ("invalid-sender", inbound_params("TIN", "VIETTEL"), "valid", 200, "", (1, "invalid_sender")),
    ("invalid-sender-no-signature", inbound_params("TIN", "VIETTEL"), "missing", 403, None, (0, None)),
    ("too-long", inbound_params("a" * 1601, UNKNOWN), "valid", 200, "Tin nhan qua dai (toi da 1600 ky tu)",
     (1, "too_long")),
    ("empty-and-repeated-fields", list(inbound_params("TIN", UNKNOWN).items()) + [("MediaUrl0", "b"), ("MediaUrl0", "a"),
                                                                                   ("Extra", "")],
     "valid", 200, "Ban chua dang ky", (1, "news")),
]


@pytest.mark.parametrize("name, params, sign, status, reply, rows", INBOUND, ids=[c[0] for c in INBOUND])
def test_twilio_inbound(client, db, demo, name, params, sign, status, reply, rows):
    resp = twilio_post(client, "/sms/inbound", params, sign=sign)
    assert resp.status_code == status
    messages = list(db.scalars(select(InboundMessage)))
    assert (len(messages), messages[0].intent if messages else None) == rows
    if status != 200:
        return
    assert resp.mimetype == "text/xml"
    texts = twiml_messages(resp)
    if reply:
        [text] = texts
        assert reply in text
        assert text.isascii()
    else:
        assert texts == []
    body = dict(params)["Body"]
    assert messages[0].body == unicodedata.normalize("NFC", body)


def test_text_is_stored_exactly_as_received_in_nfc(client, db, demo):
    nfd = unicodedata.normalize("NFD", "Phản ánh: đèn đường hỏng ở hẻm 12!!  ")
    assert twilio_post(client, "/sms/inbound", inbound_params(nfd, UNKNOWN)).status_code == 200
    message = db.scalar(select(InboundMessage))
    assert message.body == unicodedata.normalize("NFC", nfd)  # spaces and "!!" kept
    report = db.get(Report, message.report_id)
    assert report.text == "đèn đường hỏng ở hẻm 12!!" and report.category == "environment"


def test_subscribing_stranger_becomes_a_resident(client, db, demo):
    twilio_post(client, "/sms/inbound", inbound_params("dang ky khu pho 5", UNKNOWN))
    resident = db.scalar(select(Resident).where(Resident.phone == UNKNOWN))
    assert resident.consent_source == "sms" and resident.area.code == "KP5" and not resident.opted_out


def test_redelivered_webhook_is_handled_once(client, db, demo):
    params = inbound_params("Cây đổ chắn đường", UNKNOWN)
    first = twilio_post(client, "/sms/inbound", params)
    again = twilio_post(client, "/sms/inbound", params)
    # The provider redelivers when our first answer did not reach it: the same receipt again.
    assert "Da nhan phan anh" in twiml_messages(first)[0] and twiml_messages(again) == twiml_messages(first)
    assert db.scalar(select(func.count()).select_from(Report)) == 1
    assert db.scalar(select(func.count()).select_from(InboundMessage)) == 1


def twilio_delivery(db, sid="SM0123456789abcdef0123456789abcde1", status="queued"):
    d = Delivery(idempotency_key=f"t:{sid}", channel="sms", phone="+84912345678", body="x", provider="twilio",
                 provider_id=sid, status=status)
    db.add(d)
    db.commit()
    return d


STATUS_EXAMPLES = reference("twilio_webhooks.json")["message_status_callback"]["examples"]

# name, starting status, callback params, signature, HTTP status, status after, error code after
STATUS = [
    ("sent", "queued", STATUS_EXAMPLES[0]["params"], "valid", 200, "sent", None),
    ("sent-bad-signature", "queued", STATUS_EXAMPLES[0]["params"], "bad", 403, "queued", None),
    ("sent-no-signature", "queued", STATUS_EXAMPLES[0]["params"], "missing", 403, "queued", None),
    ("delivered", "sent", STATUS_EXAMPLES[1]["params"], "valid", 200, "delivered", None),
    ("delivered-before-sent", "queued", STATUS_EXAMPLES[1]["params"], "valid", 200, "delivered", None),
    ("sent-after-delivered", "delivered", STATUS_EXAMPLES[0]["params"], "valid", 200, "delivered", None),
    ("undelivered", "sent", dict(STATUS_EXAMPLES[2]["params"], MessageSid="SM0123456789abcdef0123456789abcde1"),
     "valid", 200, "undelivered", "30003"),
    ("failed", "queued", dict(STATUS_EXAMPLES[3]["params"], MessageSid="SM0123456789abcdef0123456789abcde1"),
     "valid", 200, "failed", "30008"),
    ("queued-after-sent", "sent", dict(STATUS_EXAMPLES[0]["params"], MessageStatus="queued", SmsStatus="queued"),
     "valid", 200, "sent", None),
    ("confirmed-stays", "confirmed", STATUS_EXAMPLES[1]["params"], "valid", 200, "confirmed", None),
    ("unknown-status-word", "sent", dict(STATUS_EXAMPLES[0]["params"], MessageStatus="weird", SmsStatus="weird"),
     "valid", 200, "sent", None),
]


@pytest.mark.parametrize("name, start, params, sign, status, after, error", STATUS, ids=[c[0] for c in STATUS])
def test_twilio_status(client, db, name, start, params, sign, status, after, error):
    d = twilio_delivery(db, status=start)
    resp = twilio_post(client, "/sms/status", params, sign=sign)
    assert resp.status_code == status
    db.refresh(d)
    assert (d.status, d.error_code) == (after, error)
    if after == "delivered" and start != "delivered":
        assert d.delivered_at is not None


def test_status_for_an_unknown_message_is_200(client, db):
    d = twilio_delivery(db)
    resp = twilio_post(client, "/sms/status", dict(STATUS_EXAMPLES[0]["params"], MessageSid="SM" + "f" * 32))
    assert resp.status_code == 200
    db.refresh(d)
    assert d.status == "queued"  # another message's row is left alone
    assert db.scalar(select(func.count()).select_from(Delivery)) == 1  # and none is made up for it


def android_event(event, payload, event_id="ev-1"):
    return {"deviceId": "dev-1", "event": event, "id": event_id, "webhookId": "wh-1", "payload": payload}


RECEIVED = {"messageId": "hash-1", "message": "DK KP5", "sender": "+84987000111", "recipient": "+84901234567",
            "simNumber": 1, "receivedAt": "2026-02-18T02:10:00.000+07:00", "phoneNumber": "+84987000111"}

# name, event, signature, timestamp offset, HTTP status, inbound messages, reply deliveries
ANDROID = [
    ("received", android_event("sms:received", RECEIVED), "valid", 0, 200, 1, 1),
    ("received-bad-signature", android_event("sms:received", RECEIVED), "bad", 0, 403, 0, 0),
    ("received-no-signature", android_event("sms:received", RECEIVED), "missing", 0, 403, 0, 0),
    ("received-stale", android_event("sms:received", RECEIVED), "stale", -600, 403, 0, 0),
    ("received-invalid-sender", android_event("sms:received", dict(RECEIVED, sender="MobiFone", phoneNumber=None)),
     "valid", 0, 200, 1, 0),
    ("ping", android_event("system:ping", {}), "valid", 0, 200, 0, 0),
]


@pytest.fixture
def android_app(app):
    app.config.update(SMS_ANDROID_SIGNING_KEY=ANDROID_KEY)
    return app


@pytest.mark.parametrize("name, event, sign, offset, status, inbound, deliveries", ANDROID, ids=[c[0] for c in ANDROID])
def test_android_inbound(android_app, db, demo, name, event, sign, offset, status, inbound, deliveries):
    client = android_app.test_client()
    resp = android_post(client, event, sign=sign, timestamp=int(time.time()) + offset)
    assert resp.status_code == status
    assert db.scalar(select(func.count()).select_from(InboundMessage)) == inbound
    replies = list(db.scalars(select(Delivery).where(Delivery.idempotency_key.like("sms:in:%"))))
    assert len(replies) == deliveries
    if deliveries:
        assert replies[0].phone == "+84987000111" and replies[0].body.startswith("Da dang ky nhan tin Khu pho 5")


def test_android_event_redelivered_is_handled_once(android_app, db, demo):
    client = android_app.test_client()
    event = android_event("sms:received", dict(RECEIVED, message="Có người lạ"), event_id="ev-77")
    assert android_post(client, event).json["duplicate"] is False
    assert android_post(client, event).json["duplicate"] is True
    assert db.scalar(select(func.count()).select_from(Report)) == 1


def test_android_without_a_signing_key_refuses_everything(app, db, demo):
    assert android_post(app.test_client(), android_event("sms:received", RECEIVED)).status_code == 403
    assert db.scalar(select(func.count()).select_from(InboundMessage)) == 0
    assert db.scalar(select(Resident.id).where(Resident.phone == RECEIVED["sender"])) is None  # "DK KP5" not taken


@pytest.mark.parametrize("event, status, error", [
    ("sms:sent", "sent", None), ("sms:delivered", "delivered", None), ("sms:failed", "failed", "android_failed"),
])
def test_android_status_events(android_app, db, event, status, error):
    d = Delivery(idempotency_key="a:1", channel="sms", phone="+84912345678", body="x", provider="android",
                 provider_id="lx-1-abc", status="queued")
    db.add(d)
    db.commit()
    payload = {"messageId": "lx-1-abc", "sender": None, "recipient": "+84912345678", "simNumber": 1, "partsCount": 1,
               "reason": "RESULT_ERROR_LIMIT_EXCEEDED" if event == "sms:failed" else None}
    assert android_post(android_app.test_client(), android_event(event, payload)).status_code == 200
    db.refresh(d)
    assert (d.status, d.error_code) == (status, error)
    if error:
        assert d.last_error == "RESULT_ERROR_LIMIT_EXCEEDED"


def esms_delivery(db):
    d = Delivery(idempotency_key="e:1", channel="sms", phone="+84912345678", body="x", provider="esms",
                 provider_id="f2b7c1d0-smsid", status="queued")
    db.add(d)
    db.commit()
    return d


# name, query, HTTP status, status after
ESMS = [
    ("delivered", "token=cb-secret&SMSID=f2b7c1d0-smsid&RequestId=x&phonenumber=0912345678&SendSuccess=1&SendFailed=0"
                  "&SendStatus=5&TotalPrice=700&TypeId=2&telcoid=1", 200, "delivered"),
    ("sent-to-telco", "token=cb-secret&SMSID=f2b7c1d0-smsid&SendStatus=7&SendSuccess=0&SendFailed=0", 200, "sent"),
    ("rejected", "token=cb-secret&SMSID=f2b7c1d0-smsid&SendStatus=4&SendSuccess=0&SendFailed=1", 200, "failed"),
    ("done-but-failed", "token=cb-secret&SMSID=f2b7c1d0-smsid&SendStatus=5&SendSuccess=0&SendFailed=1", 200,
     "undelivered"),
    ("wrong-token", "token=guess&SMSID=f2b7c1d0-smsid&SendStatus=5&SendSuccess=1&SendFailed=0", 403, "queued"),
    ("no-token", "SMSID=f2b7c1d0-smsid&SendStatus=5&SendSuccess=1&SendFailed=0", 403, "queued"),
    ("unknown-smsid", "token=cb-secret&SMSID=nope&SendStatus=5&SendSuccess=1&SendFailed=0", 200, "queued"),
]


@pytest.mark.parametrize("name, query, status, after", ESMS, ids=[c[0] for c in ESMS])
def test_esms_status_callback(app, db, name, query, status, after):
    app.config.update(ESMS_CALLBACK_TOKEN="cb-secret")
    d = esms_delivery(db)
    assert app.test_client().get(f"/sms/esms/status?{query}").status_code == status
    db.refresh(d)
    assert d.status == after


def test_esms_callback_without_a_configured_token_is_refused(app, db):
    d = esms_delivery(db)
    assert app.test_client().get("/sms/esms/status?token=&SMSID=f2b7c1d0-smsid&SendStatus=5").status_code == 403
    db.refresh(d)
    assert d.status == "queued"
