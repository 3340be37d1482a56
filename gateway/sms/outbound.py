"""Outbound SMS: a Delivery row per message (get-or-create by idempotency key), sent by an RQ
job that claims the row first, so a retried or duplicated job never sends twice.

    queue_sms (in gateway.sms_queue, below every package: reports text residents too)
    send_claimed(session, delivery, provider)                        (one claimed delivery)
    send_batch(session, ids, provider, acquire=...)                  (a broadcast's, claimed in batches)
    apply_status(session, delivery, status, ...)                     (status never moves back)
    requeue_stuck(session, config, older_than=...)                   (after a worker crashed)
    recover_sending(session, config, older_than=...)                 (the reconciler's "sending" rule)
"""
import datetime as dt
import hashlib
import logging
from collections import Counter

from sqlalchemy import bindparam, case, func, select, update

from gateway.models import Delivery, Resident, Sender, utcnow
from gateway.parse import whole
from gateway.queue import enqueue, enqueue_on_commit
from gateway.sms_queue import SEND_JOB
from gateway.sms.encoding import to_gsm
from gateway.transport import TransportError

log = logging.getLogger(__name__)
MAX_ATTEMPTS = 8  # about 3 hours of backoff; then the message is marked failed
STUCK_AFTER = dt.timedelta(minutes=10)
MAX_BODY = 1600  # Twilio's limit; ten parts of plain text
CLAIM_BATCH = 50  # deliveries a broadcast worker claims at once (`send_batch`)
RECORD_EVERY = 25  # accepted sends recorded in one statement
# How far along a delivery is: a callback never moves it back (callbacks arrive out of order).
RANK = {
    "pending": 0, "sending": 1, "queued": 2, "sent": 3,
    "delivered": 4, "undelivered": 4, "failed": 4, "cancelled": 4, "skipped": 4, "confirmed": 5,
}
NEEDS_OPERATOR = "outcome_unknown"


def reference(delivery):
    """Our id for a message at the provider: stable across retries, at most 50 characters."""
    return _reference(delivery.id, delivery.idempotency_key)


def _reference(delivery_id, key):
    digest = hashlib.sha1(key.encode("utf-8")).hexdigest()[:10]
    return f"lx-{delivery_id}-{digest}"


def backoff(attempt):
    """Seconds before retry number `attempt`: 30 s doubling, capped at an hour."""
    return min(30 * 2 ** (attempt - 1), 3600)


def callback_url(config, provider):
    """The status webhook the provider should call for this message (None when not per message)."""
    base = config.get("PUBLIC_BASE_URL")
    if not base or not provider.status_path:
        return None
    return base.rstrip("/") + provider.status_path


def claim(session, delivery_id, *, provider=None, sender=None):
    """Take a pending delivery for sending (pending → sending); False when it is not ours to send.

    The provider and the pool's sender it goes through are recorded in the same statement, so a
    row a crashed worker left "sending" says where it may have gone."""
    values = dict(status="sending", attempts=Delivery.attempts + 1, updated_at=utcnow())
    if provider is not None:
        values.update(provider=provider, sender_id=sender.id if sender is not None else None)
    claimed = session.execute(
        update(Delivery).where(Delivery.id == delivery_id, Delivery.status == "pending",
                               Delivery.channel == "sms", Delivery.provider_id.is_(None))
        .values(**values)
    ).rowcount
    session.commit()
    return bool(claimed)


def opted_out(session, phone):
    return session.scalar(select(Resident.id).where(Resident.phone == phone, Resident.opted_out_at.is_not(None)))


def send_claimed(session, delivery, provider, *, sender=None, unicode=False, pause=None):
    """Send a claimed ("sending") delivery through `provider` (as `sender` of a commune's pool, when
    given); record the outcome and commit. `unicode`: keep the diacritics (UCS-2) when the
    provider can carry them; otherwise the body goes as GSM-7 (`to_gsm`). `pause(seconds)` is
    called when the provider says Retry-After (the shared rate limit's pause).

    Returns "sent" (or "queued"), "retry" or "failed"."""
    from flask import current_app

    if delivery.announcement_id is not None or delivery.report_id is not None:
        # Notices stop when a resident opts out; replies to what they text do not.
        if opted_out(session, delivery.phone):
            delivery.status, delivery.error_code = "skipped", "opted_out"
            session.commit()
            return "skipped"
    delivery.provider = provider.name
    if sender is not None:
        delivery.sender_id = sender.id
    body = (delivery.body if unicode and provider.unicode_capable else to_gsm(delivery.body))[:MAX_BODY]
    try:
        provider_id = provider.send(delivery.phone, body, callback_url(current_app.config, provider),
                                    reference=reference(delivery))
    except TransportError as exc:
        return _failed(session, delivery, provider, exc, pause)
    # Conditional: a status callback may already have moved the row on (a fast delivery report).
    now = utcnow()
    session.execute(update(Delivery).where(Delivery.id == delivery.id)
                    .values(provider_id=provider_id[:100], sent_at=now, error_code=None, last_error=None,
                            updated_at=now))
    session.execute(update(Delivery).where(Delivery.id == delivery.id, Delivery.status == "sending")
                    .values(status=provider.accepted_status))
    session.commit()
    session.refresh(delivery)
    log.info("sms sent delivery=%s provider=%s sender=%s provider_id=%s", delivery.id, provider.name,
             delivery.sender_id, delivery.provider_id)
    return provider.accepted_status


def _failed(session, delivery, provider, exc, pause):
    """Record a refused send of a claimed delivery: failed for good, or pending again with its retry job."""
    if exc.permanent or delivery.attempts >= MAX_ATTEMPTS:
        delivery.status, delivery.error_code = "failed", (exc.code or "error")[:40]
        delivery.last_error = str(exc)[:1000]
        session.commit()
        log.warning("sms failed delivery=%s provider=%s code=%s attempts=%s permanent=%s",
                    delivery.id, provider.name, exc.code, delivery.attempts, exc.permanent)
        return "failed"
    delay = exc.retry_after if exc.retry_after is not None else backoff(delivery.attempts)
    if exc.retry_after is not None and pause is not None:
        pause(exc.retry_after)
    delivery.status, delivery.error_code, delivery.last_error = "pending", (exc.code or "")[:40] or None, str(exc)[:1000]
    delivery.next_attempt_at = utcnow() + dt.timedelta(seconds=delay)
    session.commit()
    enqueue(SEND_JOB, delivery.id, queue="high", at=delivery.next_attempt_at,
            job_id=f"sms-{delivery.id}-{delivery.attempts}")
    log.info("sms retry delivery=%s provider=%s in=%ss attempt=%s", delivery.id, provider.name, delay,
             delivery.attempts)
    return "retry"


def batchable(provider):
    """Whether `provider` may have many deliveries claimed at once: a worker killed mid-batch
    leaves them "sending", and only a provider that refuses a repeated reference or can be
    asked about it lets `recover_sending` finish them without sending any twice."""
    return bool(provider.dedupes_reference or provider.can_lookup)


def send_batch(session, ids, provider, *, acquire, pause=None, unicode_for=lambda area_id: False):
    """Send the pending SMS deliveries among `ids` through `provider` (a `batchable` one, no
    pool of senders): opted-out residents' skipped and the rest claimed in two statements and one
    commit, each sent after `acquire()` (a slot of the shared rate), the accepted ones recorded
    RECORD_EVERY at a time. A refused send is recorded at once (`_failed`). Returns a Counter
    of outcomes as `send_claimed` names them."""
    from flask import current_app

    now = utcnow()
    outcomes = Counter()
    skipped = session.execute(
        update(Delivery).where(Delivery.id.in_(ids), Delivery.status == "pending",
                               Delivery.announcement_id.is_not(None) | Delivery.report_id.is_not(None),
                               Delivery.phone.in_(select(Resident.phone).where(Resident.opted_out_at.is_not(None))))
        .values(status="skipped", error_code="opted_out", updated_at=now)
        .execution_options(synchronize_session=False)).rowcount
    if skipped:
        outcomes["skipped"] = skipped
    free = select(Delivery.id).where(Delivery.id.in_(ids), Delivery.status == "pending", Delivery.channel == "sms",
                                     Delivery.provider_id.is_(None)).with_for_update(skip_locked=True)
    claimed = session.execute(
        update(Delivery).where(Delivery.id.in_(free.scalar_subquery()), Delivery.status == "pending")
        .values(status="sending", attempts=Delivery.attempts + 1, provider=provider.name, sender_id=None,
                updated_at=now)
        .returning(Delivery.id, Delivery.idempotency_key, Delivery.phone, Delivery.body, Delivery.area_id)
        .execution_options(synchronize_session=False)).all()
    session.commit()
    callback = callback_url(current_app.config, provider)
    accepted, bodies = [], {}  # a broadcast's rows share a few bodies: each written once
    for row in claimed:
        acquire()
        wide = unicode_for(row.area_id) and provider.unicode_capable
        if (row.body, wide) not in bodies:
            bodies[row.body, wide] = (row.body if wide else to_gsm(row.body))[:MAX_BODY]
        body = bodies[row.body, wide]
        try:
            provider_id = provider.send(row.phone, body, callback, reference=_reference(row.id, row.idempotency_key))
        except TransportError as exc:
            _record_accepted(session, accepted, provider)
            accepted = []
            outcomes[_failed(session, session.get(Delivery, row.id), provider, exc, pause)] += 1
            continue
        accepted.append({"b_id": row.id, "b_provider_id": str(provider_id)[:100]})
        outcomes[provider.accepted_status] += 1
        if len(accepted) >= RECORD_EVERY:
            _record_accepted(session, accepted, provider)
            accepted = []
    _record_accepted(session, accepted, provider)
    log.info("sms batch provider=%s claimed=%s outcomes=%s", provider.name, len(claimed), dict(outcomes))
    return outcomes


def _record_accepted(session, rows, provider):
    # One executemany: the provider's id on each row, and its status unless a fast delivery
    # report has already moved it on.
    if not rows:
        return
    now, table = utcnow(), Delivery.__table__
    session.execute(update(table).where(table.c.id == bindparam("b_id")).values(
        provider_id=bindparam("b_provider_id"), sent_at=now, error_code=None, last_error=None, updated_at=now,
        status=case((table.c.status == "sending", provider.accepted_status), else_=table.c.status)), rows)
    session.commit()


def hold(session, delivery, until, reason=""):
    """Leave a pending delivery for `until` (its senders are at their limits): its job comes back
    then. Nothing was claimed or sent, so it is not an attempt."""
    held = session.execute(update(Delivery).where(Delivery.id == delivery.id, Delivery.status == "pending")
                           .values(next_attempt_at=until, updated_at=utcnow())).rowcount
    session.commit()
    if not held:
        return "not pending"
    enqueue(SEND_JOB, delivery.id, queue="high", at=until,
            job_id=f"sms-{delivery.id}-held-{int(until.timestamp())}")
    log.info("sms held delivery=%s until=%s reason=%s", delivery.id, until.isoformat(), reason)
    return "held"


def apply_status(session, delivery, status, *, error_code=None, error=None):
    """Move `delivery` to `status` unless it is already as far or further; True when it moved.

    One conditional UPDATE: two reports handled at once (Kannel's "accepted" and "delivered"
    arrive within milliseconds) cannot have the earlier one overwrite the later."""
    if status is None or RANK.get(status, -1) <= RANK.get(delivery.status, 0):
        return False
    now = utcnow()
    values = {"status": status, "updated_at": now}
    if status == "sent":
        values["sent_at"] = func.coalesce(Delivery.sent_at, now)
    if status == "delivered":
        values["delivered_at"] = now
    if status in ("failed", "undelivered"):
        values["error_code"] = (str(error_code) if error_code else delivery.error_code or status)[:40]
        if error:
            values["last_error"] = str(error)[:1000]
    behind = [name for name, rank in RANK.items() if rank < RANK[status]]
    session.flush()  # the caller's own changes to the row go first
    moved = session.execute(update(Delivery).where(Delivery.id == delivery.id, Delivery.status.in_(behind))
                            .values(**values)).rowcount
    session.refresh(delivery)
    return bool(moved)


def find_by_provider_id(session, provider_name, provider_id):
    """The SMS delivery a provider's message id belongs to, or None."""
    if not provider_id:
        return None
    return session.scalar(select(Delivery).where(Delivery.channel == "sms", Delivery.provider == provider_name,
                                                 Delivery.provider_id == str(provider_id)))


def find_by_reference(session, ref):
    """The delivery our reference `lx-<id>-<digest>` (`reference()`) names, or None."""
    parts = (ref or "").split("-")
    if len(parts) != 3 or parts[0] != "lx" or whole(parts[1]) is None:
        return None  # whole(): an id past the database's INTEGER is no row, never an overflow
    candidate = session.get(Delivery, whole(parts[1]))
    return candidate if candidate is not None and reference(candidate) == ref else None


def requeue_stuck(session, config, *, older_than=STUCK_AFTER):
    """Deliveries a crashed worker left "sending" (see `recover_sending`), and pending ones overdue
    by `older_than` (their job lost, e.g. Redis flushed), queued again; the claim makes that safe.

    Returns {"found": n, "resent": n, "operator": n, "requeued": n}."""
    cutoff = utcnow() - older_than
    overdue = list(session.scalars(select(Delivery.id).where(
        Delivery.channel == "sms", Delivery.status == "pending", Delivery.updated_at < cutoff,
        (Delivery.next_attempt_at.is_(None)) | (Delivery.next_attempt_at < cutoff))))
    for delivery_id in overdue:
        enqueue_on_commit(session, SEND_JOB, delivery_id, queue="high")
    return {**recover_sending(session, config, older_than=older_than), "requeued": len(overdue)}


def recover_sending(session, config, *, older_than=STUCK_AFTER):
    """Deliveries left "sending" for `older_than`: look them up at the provider where it can be
    asked, send again where the provider refuses duplicates, and otherwise leave them to an
    operator (status failed, error_code "outcome_unknown") rather than risk sending twice.

    Returns {"found": n, "resent": n, "operator": n}; commits."""
    from gateway.sms.providers import get_provider
    from gateway.sms.senders import provider_for

    cutoff = utcnow() - older_than
    stuck = list(session.scalars(select(Delivery).where(
        Delivery.channel == "sms", Delivery.status == "sending", Delivery.updated_at < cutoff)))
    counts = {"found": 0, "resent": 0, "operator": 0}
    for delivery in stuck:
        sender = session.get(Sender, delivery.sender_id) if delivery.sender_id else None
        provider = provider_for(config, sender) if sender is not None else \
            get_provider(config, delivery.provider or config["SMS_PROVIDER"])
        try:
            found = provider.lookup(reference(delivery)) if provider.can_lookup else None
        except TransportError as exc:  # cannot ask now (the phone is off): left for the next clean-up
            log.warning("stuck sms delivery=%s provider=%s lookup failed: %s", delivery.id, provider.name, exc)
            continue
        if found is not None:
            delivery.provider_id, status = found[0][:100], found[1]
            delivery.status = status if RANK.get(status, 0) > RANK["sending"] else provider.accepted_status
            delivery.sent_at = delivery.sent_at or utcnow()
            counts["found"] += 1
        elif provider.can_lookup or provider.dedupes_reference:
            delivery.status = "pending"
            enqueue_on_commit(session, SEND_JOB, delivery.id, queue="high")
            counts["resent"] += 1
        else:
            delivery.status, delivery.error_code = "failed", NEEDS_OPERATOR
            delivery.last_error = (f"The worker stopped while {provider.name} was sending; it may have gone out. "
                                   "Check the provider's log, then `sms resend` if it did not.")
            counts["operator"] += 1
        log.warning("stuck sms delivery=%s provider=%s outcome=%s", delivery.id, provider.name, delivery.status)
    session.commit()
    return counts


def resend(session, delivery):
    """An operator's decision to send a failed or stuck delivery again (after checking it did not go)."""
    if delivery.channel != "sms" or delivery.status not in ("failed", "sending", "undelivered"):
        raise ValueError(f"delivery {delivery.id} is '{delivery.status}'; only failed or stuck SMS are resent")
    delivery.status, delivery.provider_id, delivery.error_code = "pending", None, None
    enqueue_on_commit(session, SEND_JOB, delivery.id, queue="high")
    session.commit()
