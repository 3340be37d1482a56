"""SMS webhooks: inbound messages and delivery statuses from each provider.

    POST /sms/inbound         Twilio inbound SMS (X-Twilio-Signature); answered with TwiML
    POST /sms/status          Twilio status callbacks (X-Twilio-Signature)
    POST /sms/android         SMS Gateway for Android events (X-Signature HMAC + X-Timestamp)
    GET  /sms/esms/status     eSMS delivery callbacks (unsigned: a secret token in the URL)
    GET|POST /sms/kannel/inbound   Kannel sms-service get-url/post-url (KANNEL_SECRET in the URL)
    GET  /sms/kannel/status   Kannel dlr-url (KANNEL_SECRET and our reference in the URL)

Each provider class reads its own requests (`webhook_ok`, `parse`, `answer`: see
gateway.sms.providers.base); this module only routes them and does what is the same for all.
Bad or missing signatures get 403, unreadable requests 400, never 500. Unknown message ids get
200, so providers stop retrying. Everything is answered from the database; sending is an RQ job.
"""
import logging

from flask import Blueprint, Response, abort, current_app, request

from gateway.db import get_db
from gateway.models import utcnow
from gateway.parse import json_errors
from gateway.sms import outbound
from gateway.sms.inbound import receive
from gateway.sms.providers import SMS_PROVIDERS
from gateway.sms.providers.base import Inbound, Outcome, StatusReport

log = logging.getLogger(__name__)
bp = Blueprint("sms", __name__, url_prefix="/sms")
json_errors(bp)

# path, methods, provider (a name in SMS_PROVIDERS), kind of webhook (given to the provider's parse)
WEBHOOKS = (
    ("/inbound", ("POST",), "twilio", "inbound"),
    ("/status", ("POST",), "twilio", "status"),
    ("/android", ("POST",), "android", "events"),
    ("/esms/status", ("GET",), "esms", "status"),
    ("/kannel/inbound", ("GET", "POST"), "kannel", "inbound"),
    ("/kannel/status", ("GET",), "kannel", "status"),
)


def webhook(name, kind):
    """One provider webhook: check, parse, then store the message or apply the status."""
    provider = SMS_PROVIDERS.get(name)
    if not provider.webhook_ok(request, current_app.config):
        log.warning("rejected %s webhook: bad or missing signature", name)
        abort(403)
    try:
        event = provider.parse(request, kind)
    except ValueError as exc:
        return Response(f"{exc}\n", status=400, mimetype="text/plain")
    if isinstance(event, Inbound):
        result = receive(get_db(), provider=name, sender=event.sender, body=event.body, to=event.to,
                         provider_message_id=event.message_id, reply_by_sms=provider.replies_by_sms,
                         config=current_app.config)
        return provider.answer(Outcome("inbound", reply=result.reply, intent=result.intent,
                                       duplicate=result.duplicate))
    if isinstance(event, StatusReport):
        if _seen_before(name, event.event_id):
            return provider.answer(Outcome("status", duplicate=True))  # a webhook it thinks was lost
        return provider.answer(_apply(name, event))
    return provider.answer(Outcome("ignored", ignored=kind))


def _apply(name, report):
    """Move the delivery the report names (by the provider's id, else by our reference) forwards."""
    db = get_db()
    delivery = outbound.find_by_provider_id(db, name, report.provider_id)
    if delivery is None:
        delivery = outbound.find_by_reference(db, report.reference)
        if delivery is not None and delivery.provider_id is None:
            # The worker that sent it stopped before it could record it: the provider has it, so
            # it is never sent again (the claim only takes rows without a provider id).
            delivery.provider, delivery.provider_id = name, report.reference
            delivery.sent_at = delivery.sent_at or utcnow()
    if delivery is None:
        log.info("status for an unknown message provider=%s", name)
        return Outcome("status", found=False)
    moved = outbound.apply_status(db, delivery, report.status, error_code=report.error_code, error=report.error)
    db.commit()
    log.info("sms status delivery=%s provider=%s status=%s moved=%s", delivery.id, name, report.status, moved)
    if report.status == "failed" and moved:
        from gateway.sms.senders import refused_for_limit

        refused_for_limit(db, delivery, report.error)  # a pool phone whose SIM hit its limit
    return Outcome("status", updated=moved)


def _seen_before(provider, event_id):
    """True when this provider's event id was handled in the last two days (events are retried)."""
    from redis.exceptions import RedisError

    from gateway.queue import get_connection

    if not event_id:
        return False
    try:
        return not get_connection().set(f"gateway:sms:event:{provider}:{str(event_id)[:100]}", 1, nx=True,
                                         ex=2 * 86400)
    except RedisError:
        log.warning("sms event dedupe skipped: Redis unavailable provider=%s", provider)
        return False  # statuses never move back, so handling one twice is harmless but for resends


for _path, _methods, _name, _kind in WEBHOOKS:
    bp.add_url_rule(_path, f"{_name}_{_kind}", webhook, methods=list(_methods), defaults={"name": _name, "kind": _kind})


def init_app(app):
    app.register_blueprint(bp)
