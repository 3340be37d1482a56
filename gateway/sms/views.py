"""SMS webhooks: inbound messages and delivery statuses from each provider.

    POST /sms/inbound         Twilio inbound SMS (X-Twilio-Signature); answered with TwiML
    POST /sms/status          Twilio status callbacks (X-Twilio-Signature)
    POST /sms/android         SMS Gateway for Android events (X-Signature HMAC + X-Timestamp)
    GET  /sms/esms/status     eSMS delivery callbacks (unsigned: a secret token in the URL)
    GET|POST /sms/kannel/inbound   Kannel sms-service get-url/post-url (KANNEL_SECRET in the URL)
    GET  /sms/kannel/status   Kannel dlr-url (KANNEL_SECRET and our reference in the URL)

Bad or missing signatures get 403, never 500. Unknown message ids get 200, so providers stop
retrying. Everything is answered from the database; sending is an RQ job.
"""
import hmac
import logging
import time

from flask import Blueprint, Response, abort, current_app, jsonify, request
from gateway.db import get_db
from gateway.models import Delivery, utcnow
from gateway.parse import field, json_errors, json_object, text_field, whole
from gateway.sms import outbound
from gateway.sms.inbound import receive
from gateway.twilio_auth import twilio_signed

log = logging.getLogger(__name__)
bp = Blueprint("sms", __name__, url_prefix="/sms")
json_errors(bp)


def _twiml(reply):
    from twilio.twiml.messaging_response import MessagingResponse

    response = MessagingResponse()
    if reply:
        response.message(reply)
    return Response(str(response), mimetype="text/xml")


@bp.post("/inbound")
@twilio_signed
def twilio_inbound():
    """An SMS to our Twilio number; the reply goes back in the TwiML answer."""
    form = request.form
    if not (form.get("From") or form.get("Body")):
        return Response("no message: From and Body are both missing", status=400, mimetype="text/plain")
    result = receive(get_db(), provider="twilio", sender=form.get("From", ""), body=form.get("Body", ""),
                     to=form.get("To"), provider_message_id=form.get("MessageSid") or None,
                     config=current_app.config)
    return _twiml(result.reply)


@bp.post("/status")
@twilio_signed
def twilio_status():
    """Twilio's status callback for a message we sent."""
    from gateway.sms.providers.twilio import STATUSES

    form = request.form
    _update("twilio", form.get("MessageSid"), STATUSES.get((form.get("MessageStatus") or form.get("SmsStatus") or "")
                                                           .lower()), error_code=form.get("ErrorCode"))
    return Response("", status=200)


def _update(provider, provider_id, status, *, error_code=None, error=None, delivery=None):
    db = get_db()
    delivery = delivery or outbound.find_by_provider_id(db, provider, provider_id)
    if delivery is None:
        log.info("status for an unknown message provider=%s", provider)
        return False
    moved = outbound.apply_status(db, delivery, status, error_code=error_code, error=error)
    db.commit()
    log.info("sms status delivery=%s provider=%s status=%s moved=%s", delivery.id, provider, status, moved)
    return moved


@bp.post("/android")
def android_event():
    """Webhook events from SMS Gateway for Android: received SMS and our messages' states."""
    from gateway.sms.providers.android import STATUSES, signature_valid

    raw = request.get_data()
    key = current_app.config.get("SMS_ANDROID_SIGNING_KEY") or ""
    if not signature_valid(key, raw, request.headers.get("X-Timestamp", ""), request.headers.get("X-Signature", ""),
                           time.time()):
        log.warning("rejected android webhook: bad or missing signature")
        abort(403)
    event = json_object(raw)
    payload, name = field(event, "payload"), text_field(event, "event")
    if name == "sms:received":
        result = receive(get_db(), provider="android",
                         sender=text_field(payload, "sender") or text_field(payload, "phoneNumber"),
                         body=text_field(payload, "message"), to=text_field(payload, "recipient") or None,
                         provider_message_id=text_field(event, "id") or None, reply_by_sms=True,
                         config=current_app.config)
        return jsonify(ok=True, intent=result.intent, duplicate=result.duplicate)
    if name in ("sms:sent", "sms:delivered", "sms:failed", "sms:cancelled"):
        if _seen_before("android", text_field(event, "id")):
            return jsonify(ok=True, duplicate=True)  # the app retries a webhook it thinks was lost
        moved = _update("android", text_field(payload, "messageId"), STATUSES[name],
                        error=text_field(payload, "reason") or None,
                        error_code="android_failed" if name == "sms:failed" else None)
        if name == "sms:failed" and moved:
            from gateway.sms.senders import refused_for_limit

            db = get_db()
            refused_for_limit(db, outbound.find_by_provider_id(db, "android", text_field(payload, "messageId")),
                              text_field(payload, "reason"))
        return jsonify(ok=True, updated=moved)
    return jsonify(ok=True, ignored=name)


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


@bp.get("/esms/status")
def esms_status():
    """eSMS delivery callback (GET); the token in the URL is our only proof it is eSMS."""
    from gateway.sms.providers.esms import callback_status

    expected = current_app.config.get("ESMS_CALLBACK_TOKEN") or ""
    given = request.args.get("token", "")
    if not expected or not hmac.compare_digest(given.encode(), expected.encode()):
        abort(403)
    args = request.args
    status = callback_status(args.get("SendStatus"), args.get("SendSuccess"), args.get("SendFailed"))
    db = get_db()
    delivery = outbound.find_by_provider_id(db, "esms", args.get("SMSID"))
    ref = args.get("RequestId", "")
    if delivery is None and ref.startswith("lx-") and whole(ref.split("-")[1]) is not None:
        # Sent twice after a crash, the second answered "duplicate RequestId": match on ours.
        candidate = db.get(Delivery, whole(ref.split("-")[1]))
        delivery = candidate if candidate is not None and outbound.reference(candidate) == ref else None
    _update("esms", args.get("SMSID"), status, error_code="esms_" + str(args.get("SendStatus")) if status in
            ("failed", "undelivered") else None, delivery=delivery)
    return jsonify(ok=True)


def _kannel_secret_ok():
    expected = current_app.config.get("KANNEL_SECRET") or ""
    given = request.values.get("secret", "")
    return bool(expected) and hmac.compare_digest(given.encode("utf-8"), expected.encode("utf-8"))


def _raw_value(name):
    """A query or form field as bytes, undecoded (smsbox sends UCS-2 texts as raw UTF-16BE)."""
    from urllib.parse import parse_qs

    raw = request.query_string
    if request.method == "POST" and request.mimetype == "application/x-www-form-urlencoded":
        raw = raw + b"&" + request.get_data()
    found = parse_qs(raw.decode("latin-1"), keep_blank_values=True, encoding="latin-1").get(name)
    return found[0].encode("latin-1") if found else b""


@bp.route("/kannel/inbound", methods=["GET", "POST"])
def kannel_inbound():
    """An SMS from Kannel's sms-service (get-url or post-url); the reply goes out as its own SMS."""
    from gateway.sms.providers.kannel import decode_text

    request.get_data(cache=True)  # kept undecoded for _raw_value; the form is parsed from the copy
    if not _kannel_secret_ok():
        log.warning("rejected kannel inbound: bad or missing secret")
        abort(403)
    values = request.values
    sender = values.get("from", "").strip()
    if not sender:
        return Response("missing 'from' (%p in the get-url)\n", status=400, mimetype="text/plain")
    try:
        body = decode_text(_raw_value("text"), values.get("coding"), values.get("charset"))
    except ValueError as exc:
        return Response(f"{exc}\n", status=400, mimetype="text/plain")
    receive(get_db(), provider="kannel", sender=sender, body=body, to=values.get("to") or None,
            provider_message_id=(values.get("id") or "")[:100] or None, reply_by_sms=True, config=current_app.config)
    # Empty: the sms-service must not answer from this body (max-messages = 0 in kannel.conf).
    return Response("", status=200, mimetype="text/plain")


@bp.get("/kannel/status")
def kannel_status():
    """Kannel's delivery report for a message we sent (dlr-url with `type=%d`)."""
    from gateway.sms.providers.kannel import STATUSES

    if not _kannel_secret_ok():
        log.warning("rejected kannel dlr: bad or missing secret")
        abort(403)
    db = get_db()
    delivery = outbound.find_by_reference(db, request.args.get("ref"))
    kind = request.args.get("type", "").strip()
    if kind not in STATUSES:
        return Response(f"unknown report type '{kind[:20]}'\n", status=400, mimetype="text/plain")
    if delivery is None:
        log.info("kannel report for an unknown message")
        return Response("unknown message\n", status=200, mimetype="text/plain")
    if delivery.provider_id is None:
        # The worker that sent it stopped before it could record it: Kannel has it, so it is
        # never sent again (the claim only takes rows without a provider id).
        delivery.provider, delivery.provider_id = "kannel", request.args["ref"]
        delivery.sent_at = delivery.sent_at or utcnow()
    status = STATUSES[kind]
    _update("kannel", None, status, error_code=f"kannel_{kind}" if status in ("failed", "undelivered") else None,
            delivery=delivery)
    return Response("ok\n", status=200, mimetype="text/plain")


def init_app(app):
    app.register_blueprint(bp)
