"""SMS jobs (RQ): send one delivery; find deliveries a crashed worker left behind."""
import logging

from flask import current_app

from gateway.db import get_db
from gateway.models import Delivery
from gateway.sms import outbound
from gateway.sms.providers import get_provider
from gateway.transport import TransportError

log = logging.getLogger(__name__)


def send_delivery(delivery_id):
    """Send one SMS delivery; a retried or duplicated job never sends it twice."""
    db = get_db()
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
    return outbound.send_claimed(db, delivery, provider)


def requeue_stuck(minutes=10):
    """Scheduled clean-up: deliveries left "sending" for `minutes` (see outbound.requeue_stuck)."""
    import datetime as dt

    return outbound.requeue_stuck(get_db(), current_app.config, older_than=dt.timedelta(minutes=minutes))
