"""A broadcast through a real HTTP SMS provider (SMS Gateway for Android, recorded with
`responses`): transient errors retried, permanent ones recorded, a 429 slowing every sender;
an SMS "OK" from a resident confirms and stops the escalation call."""
import datetime as dt
import json
import time

import pytest
import responses
from sqlalchemy import select, update

from gateway.models import Delivery, OutboxMessage, Resident, utcnow
from gateway.queue import drain, stats
from tests.broadcast_helpers import announce, deliveries, set_quiet, targeted_phones

PHONE_API = "http://phone.test:8080"


@pytest.fixture
def android(app, db):
    from gateway.demo import load_demo

    load_demo(db, households=120)
    app.config.update(SMS_PROVIDER="android", SMS_ANDROID_URL=PHONE_API, SMS_ANDROID_USER="sms",
                      SMS_ANDROID_PASSWORD="pw123456", SMS_ANDROID_SIGNING_KEY="k", BROADCAST_CHUNK_SIZE="10",
                      SMS_RATE_PER_SECOND="200", VOICE_MAX_CONCURRENT="0")
    set_quiet(db, quiet_now=False)
    return db


class Phone:
    """The Android gateway's API: 202 for a message, or a scripted answer for some numbers."""

    def __init__(self, script):
        self.script = {k: list(v) for k, v in script.items()}
        self.requests = []  # (time, phone, status)

    def __call__(self, request):
        body = json.loads(request.body)
        phone = body["phoneNumbers"][0]
        answers = self.script.get(phone)
        status, headers, payload = answers.pop(0) if answers else (202, {}, {"id": body["id"], "state": "Pending"})
        self.requests.append((time.monotonic(), phone, status))
        return status, headers, json.dumps(payload)

    def accepted(self):
        out = {}
        for _, phone, status in self.requests:
            if status == 202:
                out[phone] = out.get(phone, 0) + 1
        return out


@responses.activate
def test_transient_errors_are_retried_permanent_ones_recorded(app, android):
    db = android
    a = announce(db, codes=("KP1", "KP2", "KP3"))
    phones = sorted(targeted_phones(db, a))
    flaky, refused, throttled = phones[3], phones[5], phones[12]
    phone = Phone({
        flaky: [(503, {}, {"message": "busy"})],
        refused: [(400, {}, {"message": "invalid phone number"})],
        throttled: [(429, {"Retry-After": "1"}, {"message": "slow down"})],
    })
    responses.add_callback(responses.POST, PHONE_API + "/message", callback=phone)
    drain(app)
    by_phone = {d.phone: d for d in deliveries(db, a, "sms")}
    assert by_phone[refused].status == "failed" and by_phone[refused].error_code == "400"
    assert "invalid phone number" in by_phone[refused].last_error
    for p in (flaky, throttled):
        assert by_phone[p].status == "pending" and by_phone[p].next_attempt_at is not None
    assert stats(app)["high"]["scheduled"] == 2  # the SMS module's own retries
    # After the 429 every sender waited its Retry-After: the next request came a second later.
    at_429 = next(t for t, p, s in phone.requests if s == 429)
    after = [t for t, p, s in phone.requests if t > at_429]
    assert after and after[0] - at_429 >= 0.9
    drain(app, scheduled=True)
    db.expire_all()
    assert phone.accepted() == {p: 1 for p in phones if p != refused}
    assert {p: d.status for p, d in ((p, db.get(Delivery, by_phone[p].id)) for p in phones)} == {
        p: ("failed" if p == refused else "queued") for p in phones}
    from gateway.broadcast import coverage

    assert coverage.failure_reasons(db, a)[0]["count"] == 1


@responses.activate
def test_sms_ok_reply_confirms_and_stops_the_escalation_call(app, android, client):
    from tests.sms_helpers import inbound_params, twilio_post

    db = android
    app.config.update(SMS_PROVIDER="outbox")  # Twilio-style inbound below; outbound to the outbox
    a = announce(db, codes=("KP1", "KP2", "KP3"), priority="urgent")
    drain(app)
    elderly = sorted(r.phone for r in db.scalars(select(Resident).where(Resident.phone.in_(targeted_phones(db, a))))
                     if r.is_elderly or r.no_smartphone)
    assert len(elderly) >= 2
    r = twilio_post(client, "/sms/inbound", inbound_params("OK", sender=elderly[0]))
    assert r.status_code == 200
    db.expire_all()
    assert db.scalar(select(Delivery.confirmed_at).where(Delivery.announcement_id == a.id,
                                                         Delivery.phone == elderly[0])) is not None
    db.execute(update(Delivery).where(Delivery.announcement_id == a.id)  # half an hour later
               .values(sent_at=utcnow() - dt.timedelta(minutes=31)))
    db.commit()
    drain(app, scheduled=True)
    called = sorted(d.phone for d in deliveries(db, a, "voice"))
    assert called == elderly[1:]
    placed = sorted(m.recipient for m in db.scalars(select(OutboxMessage).where(OutboxMessage.channel == "voice")))
    assert placed == elderly[1:]
