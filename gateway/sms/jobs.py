"""SMS jobs (RQ): send one delivery; find deliveries a crashed worker left behind."""
import logging
from collections import Counter

from flask import current_app
from sqlalchemy import select

from gateway.db import get_db
from gateway.models import Area, Delivery, Sender
from gateway.sms import outbound, senders
from gateway.transport import TransportError

log = logging.getLogger(__name__)


def send_delivery(delivery_id):
    """Send one SMS delivery through its commune's pool of senders (each within its own limits),
    or the configured provider; a retried or duplicated job never sends it twice.

    Through the configured provider, every attempt (first, retry, rescheduled, recovered) takes a
    slot of the shared send rate first, and a provider's Retry-After pauses every sender."""
    from gateway.sms.ratelimit import sms_limiter

    db = get_db()
    delivery = db.get(Delivery, delivery_id)
    if delivery is None or delivery.status != "pending" or delivery.channel != "sms" or delivery.provider_id:
        return "not pending"  # sent, being sent, failed for good, or no such row
    try:
        choice = senders.choose(db, delivery, current_app.config)
    except TransportError as exc:  # the provider is not configured: nothing to retry until it is
        if outbound.claim(db, delivery_id):
            db.refresh(delivery)
            delivery.status, delivery.error_code, delivery.last_error = "failed", exc.code, str(exc)
            db.commit()
        log.error("sms provider not configured delivery=%s: %s", delivery_id, exc)
        return "failed"
    if choice.hold_until is not None:
        return outbound.hold(db, delivery, choice.hold_until, choice.reason)
    pause = None
    if choice.sender is None:
        limiter = sms_limiter(current_app.config)
        limiter.acquire()
        pause = limiter.pause
    if not outbound.claim(db, delivery_id, provider=choice.provider.name, sender=choice.sender):
        return "not pending"  # another job took it meanwhile
    db.refresh(delivery)
    outcome = outbound.send_claimed(db, delivery, choice.provider, sender=choice.sender, unicode=choice.unicode,
                                    pause=pause)
    senders.after_send(db, choice.sender, delivery, outcome)
    return outcome


def send_deliveries(delivery_ids):
    """Send many SMS deliveries (a broadcast chunk's); returns a Counter of their outcomes.

    Through the configured provider, when it is `outbound.batchable` and no commune of this
    install has a pool of senders: claimed CLAIM_BATCH at a time (`outbound.send_batch`), each SMS still
    taking a slot of the shared send rate. Otherwise one by one (`send_delivery`)."""
    from gateway.sms.providers import get_provider
    from gateway.sms.ratelimit import sms_limiter

    db = get_db()
    config = current_app.config
    try:
        provider = get_provider(config)
    except TransportError:
        provider = None  # send_delivery marks each failed, with the reason
    pooled = db.scalar(select(Sender.id).where(Sender.enabled.is_(True)).limit(1)) is not None
    if provider is None or pooled or not outbound.batchable(provider):
        return Counter(send_delivery(delivery_id) for delivery_id in delivery_ids)
    limiter = sms_limiter(config)
    communes = {}

    def unicode_for(area_id):
        if area_id not in communes:
            area = db.get(Area, area_id) if area_id is not None else None
            communes[area_id] = senders.unicode_chosen(area.commune() if area is not None else None)
        return communes[area_id]

    outcomes = Counter()
    for i in range(0, len(delivery_ids), outbound.CLAIM_BATCH):
        outcomes += outbound.send_batch(db, delivery_ids[i:i + outbound.CLAIM_BATCH], provider,
                                        acquire=limiter.acquire, pause=limiter.pause, unicode_for=unicode_for)
    return outcomes


def check_sender(sender_id):
    """Look at one sender's health now (its probe, or its cool-off after errors)."""
    db = get_db()
    sender = db.get(Sender, sender_id)
    if sender is None or not sender.enabled:
        return "gone"
    return "ok" if senders.check_sender(db, current_app.config, sender) else sender.health


def requeue_stuck(minutes=10):
    """Scheduled clean-up: deliveries left "sending" for `minutes` (see outbound.requeue_stuck)."""
    import datetime as dt

    return outbound.requeue_stuck(get_db(), current_app.config, older_than=dt.timedelta(minutes=minutes))
