"""SMS Gateway for Android's webhook events replayed from a table of captured requests
(nyaruka/courier style), and what the provider class reads from each (gateway.sms.providers.android)."""
import json
import time

import pytest
from flask import request
from sqlalchemy import func, select

from gateway.models import Delivery, InboundMessage, Report, Resident
from gateway.sms.providers.android import AndroidSMS
from gateway.sms.providers.base import Inbound, StatusReport
from tests.sms_helpers import ANDROID_KEY, android_post

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


# What AndroidSMS.parse reads from each captured event (payloads as the app's docs give them)
SENT = {"messageId": "lx-1-abc", "sender": None, "recipient": "+84912345678", "simNumber": 1, "partsCount": 1,
        "sentAt": "2026-02-18T02:10:00.000+07:00", "phoneNumber": "+84912345678"}
PARSE = [
    (android_event("sms:received", RECEIVED, event_id="ev-9"),
     Inbound("+84987000111", "DK KP5", to="+84901234567", message_id="ev-9")),
    (android_event("sms:received", dict(RECEIVED, sender=None)),  # only the deprecated field
     Inbound("+84987000111", "DK KP5", to="+84901234567", message_id="ev-1")),
    (android_event("sms:received", dict(RECEIVED, recipient=None)),
     Inbound("+84987000111", "DK KP5", to=None, message_id="ev-1")),
    (android_event("sms:sent", SENT), StatusReport("sent", provider_id="lx-1-abc", event_id="ev-1")),
    (android_event("sms:delivered", dict(SENT, deliveredAt="2026-02-18T02:10:05.000+07:00")),
     StatusReport("delivered", provider_id="lx-1-abc", event_id="ev-1")),
    (android_event("sms:failed", dict(SENT, reason="RESULT_ERROR_LIMIT_EXCEEDED")),
     StatusReport("failed", provider_id="lx-1-abc", error_code="android_failed",
                  error="RESULT_ERROR_LIMIT_EXCEEDED", event_id="ev-1")),
    (android_event("sms:cancelled", SENT), StatusReport("cancelled", provider_id="lx-1-abc", event_id="ev-1")),
    (android_event("system:ping", {}), None),
    (android_event("sms:data-received", {"data": "AAE="}), None),
]


@pytest.mark.parametrize("event, expected", PARSE)
def test_the_provider_reads_each_captured_event(app, event, expected):
    with app.test_request_context("/sms/android", method="POST", data=json.dumps(event),
                                  content_type="application/json"):
        assert AndroidSMS.parse(request, "events") == expected


def test_a_status_event_redelivered_is_applied_once(android_app, db):
    d = Delivery(idempotency_key="a:2", channel="sms", phone="+84912345678", body="x", provider="android",
                 provider_id="lx-1-abc", status="queued")
    db.add(d)
    db.commit()
    client = android_app.test_client()
    first = android_post(client, android_event("sms:sent", SENT, event_id="ev-sent-1"))
    again = android_post(client, android_event("sms:sent", SENT, event_id="ev-sent-1"))
    assert first.json == {"ok": True, "updated": True} and again.json == {"ok": True, "duplicate": True}
    db.refresh(d)
    assert d.status == "sent"
