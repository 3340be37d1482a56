"""The phone simulator's endpoints: the browser's keypad turned into signed provider webhooks.

Every request the simulator makes carries a valid signature — X-Twilio-Signature computed with
the app's TWILIO_AUTH_TOKEN over the public URL the webhook checks, or, for a hotline call in
Stringee's dialect, X-STRINGEE-SIGNATURE over the Request-URI or the JSON body — and is dispatched
in-process, so the gateway runs exactly as it does for the provider, with no account. A hotline
call speaks the configured voice provider's dialect (Stringee's when VOICE_PROVIDER=stringee;
the page may ask for either), so the simulator walks the same call flow every provider gets.
"""
import contextvars
import functools
import json
import logging
import re
from urllib.parse import quote, urlencode, urljoin, urlsplit

from flask import abort, current_app, g, render_template, request
from sqlalchemy import select
from twilio.request_validator import RequestValidator

from gateway import queue
from gateway.console.base import ADMINS, bp, login_required, simulator_enabled, t
from gateway.console.simulator import Call, TwiMLError, messages, new_sid
from gateway.db import get_db
from gateway.models import Area, OutboxMessage, Resident
from gateway.parse import json_fields, whole
from gateway.phone import PhoneError, normalize
from gateway.text import nfc
from gateway.twilio_auth import url_for_provider

log = logging.getLogger(__name__)
# Texting or calling as any resident is for a commune's (or the province's) admins only.
ROLES = ADMINS
CALL_TTL = 3600
MAX_SMS = 1600


class WebhookError(RuntimeError):
    """The gateway answered a simulated webhook with an error status."""


def simulator_page(view):
    """Decorator: 404 when the simulator is off (production without SIMULATOR_ENABLED=1)."""

    @functools.wraps(view)
    def wrapper(*args, **kwargs):
        if not simulator_enabled():
            abort(404)
        return view(*args, **kwargs)

    return wrapper


def sign(url, params):
    """X-Twilio-Signature for a POST of `params` to `url`, as Twilio computes it."""
    return RequestValidator(current_app.config["TWILIO_AUTH_TOKEN"]).compute_signature(url, params)


def dispatch(url, method="POST", params=None, dialect="twiml"):
    """Send a signed webhook for `url` to this app, in-process; its body (TwiML, SCCO) or WebhookError.

    Nothing leaves the process: the request is handed to this app with `url`'s own origin, as
    the provider would call it; the webhook checks the signature against what it expects."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise WebhookError(f"not a webhook URL: {url}")
    path = parts.path + (f"?{parts.query}" if parts.query else "")
    headers, content_type = {}, None
    if dialect == "stringee":
        from gateway.ivr.dialects.stringee import signature

        secret = current_app.config.get("STRINGEE_SIGNING_SECRET") or ""
        if method == "GET":
            sep = "&" if parts.query else "?"
            path = path + (sep + urlencode(params, quote_via=quote) if params else "")
            data = None
            signed = path.encode()
        else:
            data = json.dumps(params or {}, ensure_ascii=False).encode()
            signed, content_type = data, "application/json"
        headers["X-STRINGEE-SIGNATURE"] = signature(secret, signed)
    else:
        params = {k: str(v) for k, v in (params or {}).items()}
        if method == "GET":
            sep = "&" if parts.query else "?"
            url = url + (sep + urlencode(params) if params else "")
            path = path + (sep + urlencode(params) if params else "")
            signature_value, data = sign(url, {}), None
        else:
            signature_value, data = sign(url, params), params
        headers["X-Twilio-Signature"] = signature_value
    client = current_app.test_client()
    # A fresh context: the webhook gets its own app context and database session, as it would
    # from the provider, instead of sharing this console request's.
    response = contextvars.Context().run(
        client.open, path, method=method, data=data, headers=headers, content_type=content_type,
        base_url=f"{parts.scheme}://{parts.netloc}")
    body = response.get_data(as_text=True)
    if response.status_code >= 400:
        raise WebhookError(f"{method} {parts.path} answered {response.status_code}")
    return body


def _absolute(url):
    """A callback URL as Twilio would call it: development stores paths ("/ivr/outbound?…")."""
    return urljoin(url_for_provider("/"), url) if url else ""


def _from_number():
    """The gateway's number residents text and call."""
    config = current_app.config
    if config.get("TWILIO_FROM_NUMBER"):
        return config["TWILIO_FROM_NUMBER"]
    commune = get_db().scalar(select(Area).where(Area.level == "commune").order_by(Area.id))
    return (commune.hotline_number if commune is not None else None) or "+84000000000"


def _phone(value):
    try:
        return normalize(value), None
    except PhoneError as exc:
        return None, str(exc)


@bp.get("/simulator")
@simulator_page
@login_required(roles=ROLES)
def simulator():
    db = get_db()
    sample = db.scalar(select(Resident).where(Resident.opted_out_at.is_(None)).order_by(Resident.id))
    return render_template("console/simulator.html", phone=sample.phone if sample else "+84912345678",
                           hotline=_from_number())


@bp.post("/simulator/sms")
@simulator_page
@login_required(roles=ROLES)
def simulator_sms():
    """Text the gateway: a signed inbound-SMS webhook; its <Message> replies come back at once."""
    data = json_fields(request.get_data())
    phone, error = _phone(data.get("phone"))
    body = nfc(str(data.get("body") or ""))
    if error:
        return {"error": error}, 400
    if not body.strip() or len(body) > MAX_SMS:
        return {"error": t("sim.err_body", n=MAX_SMS)}, 400
    sid = new_sid("SM")
    params = {
        "AccountSid": current_app.config.get("TWILIO_ACCOUNT_SID") or "AC" + "0" * 32, "ApiVersion": "2010-04-01",
        "MessageSid": sid, "SmsSid": sid, "SmsMessageSid": sid, "SmsStatus": "received",
        "From": phone, "To": _from_number(), "Body": body, "NumMedia": "0", "NumSegments": "1",
        "FromCity": "", "FromState": "", "FromZip": "", "FromCountry": "VN",
        "ToCity": "", "ToState": "", "ToZip": "", "ToCountry": "VN",
    }
    try:
        answer = dispatch(url_for_provider("/sms/inbound"), "POST", params)
        replies = messages(answer)
    except (WebhookError, TwiMLError) as exc:
        return {"error": t("sim.error", error=str(exc))}, 502
    log.info("simulator sms sid=%s replies=%s", sid, len(replies))
    return {"sid": sid, "replies": replies}


@bp.get("/simulator/messages")
@simulator_page
@login_required(roles=ROLES)
def simulator_messages():
    """SMS and calls the gateway sent to the simulated phone (the outbox), newer than `after`.

    Shown on the phone means delivered: their status callback hears so, as from Twilio."""
    phone, error = _phone(request.args.get("phone"))
    if error:
        return {"error": error}, 400
    after = request.args.get("after", 0, type=int) or 0
    db = get_db()
    rows = list(db.scalars(select(OutboxMessage).where(OutboxMessage.recipient == phone, OutboxMessage.id > after,
                                                       OutboxMessage.channel.in_(("sms", "voice")))
                           .order_by(OutboxMessage.id).limit(50)))
    out = []
    for row in rows:
        out.append({"id": row.id, "channel": row.channel, "body": row.body, "url": row.media_url,
                    "at": row.created_at.isoformat()})
        if row.channel == "sms" and row.status_callback and not (row.meta or {}).get("simulator_delivered"):
            _report_delivered(row)
    return {"messages": out}


def _report_delivered(row):
    """The delivery receipt Twilio would post for an SMS the phone received."""
    sid = f"outbox-{row.id}"
    params = {"AccountSid": current_app.config.get("TWILIO_ACCOUNT_SID") or "AC" + "0" * 32,
              "ApiVersion": "2010-04-01", "MessageSid": sid, "SmsSid": sid, "MessageStatus": "delivered",
              "SmsStatus": "delivered", "From": _from_number(), "To": row.recipient}
    db = get_db()
    row.meta = {**(row.meta or {}), "simulator_delivered": True}
    db.commit()
    try:
        dispatch(_absolute(row.status_callback), "POST", params)
    except WebhookError as exc:
        log.warning("simulator: status callback failed outbox=%s: %s", row.id, exc)


# Calls --------------------------------------------------------------------------------------

def _call_key(sid):
    return f"console:simulator:call:{sid}"


def _save(call):
    queue.get_connection().set(_call_key(call.sid), json.dumps(call.to_dict()), ex=CALL_TTL)


def _load(sid):
    raw = queue.get_connection().get(_call_key(sid)) if re.fullmatch(r"[A-Za-z0-9-]{1,64}", sid) else None
    if raw is None:
        abort(404)
    return Call.from_dict(json.loads(raw))


def _fetch(call):
    """The dispatch function speaking the call's dialect."""
    return functools.partial(dispatch, dialect=call.dialect)


def _dialect(data):
    """The hotline dialect a simulated call speaks: asked for by the page, else the voice provider's."""
    asked = str(data.get("dialect") or "")
    if asked in ("twiml", "stringee"):
        return asked
    return "stringee" if current_app.config.get("VOICE_PROVIDER") == "stringee" else "twiml"


def _step(call, action):
    """Run one step of the call; its events, or an error the page shows."""
    try:
        events = action()
    except (WebhookError, TwiMLError) as exc:
        call.ended = True
        _save(call)
        return {"call": call.sid, "ended": True, "events": [], "error": t("sim.error", error=str(exc))}, 502
    _save(call)
    return {"call": call.sid, "ended": call.ended, "waiting": (call.waiting or {}).get("verb"),
            "events": _with_words(events)}


def _with_words(events):
    """Played audio carries the words it speaks (the asset's text), so the screen shows them, not a hash."""
    from gateway.models import AudioAsset

    for event in events:
        match = re.search(r"/audio/([0-9a-f]{64})\.\w+$", event.get("url") or "") if event["type"] == "play" else None
        if match:
            asset = get_db().scalar(select(AudioAsset).where(AudioAsset.content_hash == match.group(1)))
            if asset is not None:
                event["text"] = asset.text or asset.original_name or ""
    return events


@bp.post("/simulator/call")
@simulator_page
@login_required(roles=ROLES)
def simulator_call():
    """Dial the hotline: the entry webhook, then TwiML step by step."""
    data = json_fields(request.get_data())
    phone, error = _phone(data.get("phone"))
    if error:
        return {"error": error}, 400
    called = str(data.get("to") or "").strip() or _from_number()
    dialect = _dialect(data)
    entry, status = (("/ivr/stringee/answer", "/ivr/stringee/event") if dialect == "stringee"
                     else ("/ivr/inbound", "/ivr/status"))
    call = Call(sid=new_sid("call-vn-" if dialect == "stringee" else "CA"), caller=phone, called=called,
                entry_url=url_for_provider(entry), status_url=url_for_provider(status), dialect=dialect,
                account_sid=current_app.config.get("TWILIO_ACCOUNT_SID") or "AC" + "0" * 32)
    log.info("simulator call sid=%s dialect=%s official=%s", call.sid, dialect, g.official.id)
    return _step(call, lambda: call.start(_fetch(call)))


def _placed_call(data):
    """The call the gateway placed to the simulated phone (an outbox row), ready to answer."""
    phone, error = _phone(data.get("phone"))
    row = get_db().get(OutboxMessage, whole(data.get("id"))) if whole(data.get("id")) is not None else None
    if error or row is None or row.channel != "voice" or row.recipient != phone or not row.media_url:
        abort(404)
    # The CallSid is the provider id the outbox gave the call, so status callbacks find its delivery.
    return Call(sid=f"outbox-call-{row.id}", caller=_from_number(), called=row.recipient,
                entry_url=_absolute(row.media_url), status_url=_absolute(row.status_callback or ""),
                direction="outbound-api",
                account_sid=current_app.config.get("TWILIO_ACCOUNT_SID") or "AC" + "0" * 32)


@bp.post("/simulator/answer")
@simulator_page
@login_required(roles=ROLES)
def simulator_answer():
    """Answer a call the gateway placed (an outbox call): its TwiML URL, step by step, as Twilio would."""
    call = _placed_call(json_fields(request.get_data()))
    return _step(call, lambda: call.start(_fetch(call)))


@bp.post("/simulator/decline")
@simulator_page
@login_required(roles=ROLES)
def simulator_decline():
    """Reject a call the gateway placed: its status callback hears `busy`."""
    call = _placed_call(json_fields(request.get_data()))
    return _step(call, lambda: call.hangup(_fetch(call), status="busy"))


@bp.post("/simulator/call/<sid>/digits")
@simulator_page
@login_required(roles=ROLES)
def simulator_digits(sid):
    call = _load(sid)
    data = json_fields(request.get_data())
    digits = "".join(ch for ch in str(data.get("digits") or "") if ch in "0123456789*#")
    return _step(call, lambda: call.press(_fetch(call), digits, str(data.get("finished_on_key") or "")))


@bp.post("/simulator/call/<sid>/record")
@simulator_page
@login_required(roles=ROLES)
def simulator_record(sid):
    """The caller's voice (microphone or a file): stored like an upload, then posted as Twilio would."""
    from audio.uploads import UploadRejected

    from gateway.media.assets import asset_url, store_upload

    call = _load(sid)
    file = request.files.get("file")
    if file is None or not file.filename:
        return {"error": t("ann.upload_none")}, 400
    try:
        asset = store_upload(get_db(), file.filename, file.read(), kind="recording")
    except UploadRejected as exc:
        return {"error": exc.message}, 400
    seconds = max(round((asset.duration_ms or 0) / 1000), 1)
    url = asset_url(asset, "mp3")
    return _step(call, lambda: call.recorded(_fetch(call), url=url, sid=new_sid("RE"), duration=seconds))


@bp.post("/simulator/call/<sid>/hangup")
@simulator_page
@login_required(roles=ROLES)
def simulator_hangup(sid):
    call = _load(sid)
    if call.ended:
        return {"call": call.sid, "ended": True, "events": []}
    return _step(call, lambda: call.hangup(_fetch(call)))
