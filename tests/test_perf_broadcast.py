"""A broadcast's SMS claimed and recorded in batches (gateway.sms.outbound.send_batch): one claim
statement per batch, outcomes recorded together, opted-out residents skipped, a refused send
retried alone, and a batch a crashed worker left "sending" finished without a second SMS."""
import datetime as dt

from sqlalchemy import event, select, update

from gateway.db import get_db
from gateway.demo import load_demo
from gateway.models import Delivery, Resident, utcnow
from gateway.sms import outbound
from gateway.sms.jobs import send_deliveries
from gateway.sms.providers import get_provider
from gateway.transport import TransportError
from tests.broadcast_helpers import announce, set_quiet, sms_sent_per_phone


def pending_broadcast(db, households=120):
    """An announcement's SMS rows, inserted as the fan-out inserts them and not yet sent."""
    from gateway.broadcast.jobs import delivery_key, insert_ignoring_duplicates
    from gateway.announcements.targeting import recipients

    load_demo(db, households=households)
    set_quiet(db, quiet_now=False)
    a = announce(db, codes=("TANLAP",), channels=["sms"])
    now = utcnow()
    insert_ignoring_duplicates(db, [
        {"idempotency_key": delivery_key(a.id, "sms", r.phone), "announcement_id": a.id, "resident_id": r.resident_id,
         "area_id": r.area_id, "phone": r.phone, "channel": "sms", "body": "Tiem phong dai", "status": "pending",
         "attempts": 0, "created_at": now, "updated_at": now}
        for r in recipients(db, a) if "sms" in r.channels])
    db.commit()
    return a, list(db.scalars(select(Delivery.id).where(Delivery.announcement_id == a.id).order_by(Delivery.id)))


def test_batches_claim_in_one_statement_and_send_each_once(any_app):
    with any_app.app_context():
        db = get_db()
        a, ids = pending_broadcast(db)
        out = db.scalar(select(Resident).where(Resident.phone == db.get(Delivery, ids[3]).phone))
        out.opted_out_at = utcnow()
        db.commit()
        claims = []

        def seen(_conn, _cursor, statement, *_args):
            if statement.lstrip().upper().startswith("UPDATE") and "RETURNING" in statement.upper():
                claims.append(statement)

        engine = any_app.extensions["gateway.engine"]
        event.listen(engine, "before_cursor_execute", seen)
        try:
            outcomes = send_deliveries(ids)
        finally:
            event.remove(engine, "before_cursor_execute", seen)
        db.expire_all()
        rows = list(db.scalars(select(Delivery).where(Delivery.id.in_(ids))))
        assert len(claims) == -(-len(ids) // outbound.CLAIM_BATCH)  # one claim per batch
        assert outcomes == {"sent": len(ids) - 1, "skipped": 1}
        assert {d.status for d in rows if d.id != ids[3]} == {"sent"}
        assert db.get(Delivery, ids[3]).status == "skipped" and db.get(Delivery, ids[3]).error_code == "opted_out"
        assert all(d.provider_id and d.sent_at and d.attempts == 1 for d in rows if d.id != ids[3])
        sent = sms_sent_per_phone(db)
        assert set(sent.values()) == {1} and len(sent) == len(ids) - 1 and out.phone not in sent
        assert send_deliveries(ids) == {}  # a duplicated job finds nothing left to send


def test_a_refused_send_is_retried_alone_and_the_rest_recorded(app, monkeypatch):
    from gateway.sms.providers.outbox import OutboxSMS

    real_send, refused = OutboxSMS.send, []

    def flaky(self, to, body, status_callback=None, *, reference=None):
        if not refused:
            refused.append(to)
            raise TransportError("phone busy", code="busy")
        return real_send(self, to, body, status_callback, reference=reference)

    monkeypatch.setattr(OutboxSMS, "send", flaky)
    with app.app_context():
        db = get_db()
        a, ids = pending_broadcast(db, households=40)
        outcomes = send_deliveries(ids)
        db.expire_all()
        assert outcomes == {"sent": len(ids) - 1, "retry": 1}
        again = db.scalar(select(Delivery).where(Delivery.phone == refused[0], Delivery.announcement_id == a.id))
        assert again.status == "pending" and again.next_attempt_at > utcnow() and again.error_code == "busy"
        assert db.scalar(select(Delivery.id).where(Delivery.id.in_(ids), Delivery.status == "sending")) is None


def test_a_batch_left_sending_by_a_crash_is_sent_once(any_app):
    with any_app.app_context():
        db = get_db()
        a, ids = pending_broadcast(db, households=60)
        provider = get_provider(any_app.config)
        # The worker claimed a batch, sent the first 10 and died before recording them: those 10
        # outbox rows were in its uncommitted transaction, so they are gone with it.
        claimed = ids[:outbound.CLAIM_BATCH]
        db.execute(update(Delivery).where(Delivery.id.in_(claimed)).values(
            status="sending", attempts=1, provider=provider.name, updated_at=utcnow() - dt.timedelta(minutes=11)))
        db.commit()
        counts = outbound.recover_sending(db, any_app.config)
        assert counts["resent"] == len(claimed) and counts["operator"] == 0
        send_deliveries(ids)
        db.expire_all()
        assert {d.status for d in db.scalars(select(Delivery).where(Delivery.id.in_(ids)))} == {"sent"}
        assert set(sms_sent_per_phone(db).values()) == {1} and len(sms_sent_per_phone(db)) == len(ids)
