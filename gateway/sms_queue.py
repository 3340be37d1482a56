"""Queueing an SMS: a Delivery row per message (get-or-create by idempotency key), sent after the
caller commits by gateway.sms.jobs (enqueued by dotted name). It sits below every package, as
gateway.mirror.outbound.queue_post does for group posts, so that reports and the channels text
residents without importing the SMS package, which opens reports."""
from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from gateway.models import Delivery
from gateway.queue import enqueue_on_commit

SEND_JOB = "gateway.sms.jobs.send_delivery"


def queue_sms(session, *, phone, body, key, resident_id=None, area_id=None, announcement_id=None,
              report_id=None, queue="high"):
    """The Delivery for `key`, created and sent (after the caller commits) the first time."""
    existing = session.scalar(select(Delivery).where(Delivery.idempotency_key == key))
    if existing is not None:
        return existing
    # INSERT … ON CONFLICT DO NOTHING: a concurrent caller with the same key gets its row, and
    # no savepoint is needed (pysqlite's savepoints would commit the caller's transaction).
    insert = pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
    new_id = session.execute(
        insert(Delivery).values(idempotency_key=key, phone=phone, body=body, channel="sms", resident_id=resident_id,
                                area_id=area_id, announcement_id=announcement_id, report_id=report_id,
                                status="pending", attempts=0)
        .on_conflict_do_nothing(index_elements=[Delivery.idempotency_key]).returning(Delivery.id)
    ).scalar()
    if new_id is None:
        return session.scalar(select(Delivery).where(Delivery.idempotency_key == key))
    delivery = session.get(Delivery, new_id)
    enqueue_on_commit(session, SEND_JOB, delivery.id, queue=queue)
    return delivery
