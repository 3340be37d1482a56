"""SMS jobs (RQ): send one delivery; find deliveries a crashed worker left behind."""
import logging

from flask import current_app
from sqlalchemy import select

from gateway.db import get_db
from gateway.models import Delivery
from gateway.sms import outbound
from gateway.sms.providers import get_provider
from gateway.transport import TransportError

log = logging.getLogger(__name__)


def send_delivery(delivery_id):
    """Send one SMS delivery; a retried or duplicated job never sends it twice.

    Every attempt (first, retry, rescheduled, recovered) takes a slot of the shared send rate
    first, and a provider's Retry-After pauses every sender."""
    from gateway.broadcast.ratelimit import sms_limiter

    db = get_db()
    if db.scalar(select(Delivery.status).where(Delivery.id == delivery_id)) != "pending":
        return "not pending"
    limiter = sms_limiter(current_app.config)
    limiter.acquire()
    if not outbound.claim(db, delivery_id):
        return "not pending"  # sent, being sent, failed for good, or no such row
    delivery = db.get(Delivery, delivery_id)
    try:
        provider = get_provider(current_app.config)
    except TransportError as exc:  # the provider is not configured: nothing to retry until it is
        delivery.status, delivery.error_code, delivery.last_error = "failed", exc.code, str(exc)
        db.commit()
        log.error("sms provider not configured delivery=%s: %s", delivery_id, exc)
        return "failed"
    return outbound.send_claimed(db, delivery, provider, pause=limiter.pause)


def requeue_stuck(minutes=10):
    """Scheduled clean-up: deliveries left "sending" for `minutes` (see outbound.requeue_stuck)."""
    import datetime as dt

    return outbound.requeue_stuck(get_db(), current_app.config, older_than=dt.timedelta(minutes=minutes))
