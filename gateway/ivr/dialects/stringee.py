"""Stringee (Vietnamese numbers: 1800/1900, landline, mobile): SCCO JSON call control, signed webhooks.

Request shapes follow ../shared/reference/voice_and_gateways.md §1 (Stringee's docs S1–S8):
- the number's answer_url gets a GET with `from`, `to`, `uuid`, `fromInternal`; a callout's
  answer_url (ours, with the delivery in its query) is asked the same way when the callee answers;
- an `input` or `recordMessage` action POSTs JSON to its `eventUrl`, whose answer is the next SCCO;
- call events (`call_status` created/started/ringing/answered/ended/agentEnded) are POSTed to the
  project's event_url;
- X-STRINGEE-SIGNATURE = base64(HMAC-SHA1(signing secret, raw POST body | GET Request-URI)).

Marked [R] below: field names the reference gives as not confirmed; each is one constant here.
Only the answer_url GET names the caller, so the number travels on in the state of the next
step's URL, sealed (encrypted and authenticated with SECRET_KEY): no phone number in a URL. The
signature of a POST covers its body, not its URL, so the state in an action URL carries its own
MAC (`sig`); a state whose MAC does not match is dropped and the flow says goodbye.
"""
import base64
import hashlib
import hmac
import json
import os
import time
from urllib.parse import quote, urlencode, urlsplit

from flask import Response, current_app, request

from gateway.ivr import flow

API = "https://api.stringee.com"
CALLOUT = API + "/v1/call2/callout"
# call_status → our delivery status; "ended" is decided by how long it was answered (end_status).
CALL_STATUSES = {"created": "sending", "started": "sending", "ringing": "sending", "answered": "answered"}
ENDED = ("ended", "agentEnded")
# [R] endCallCause values: only "busy"-like causes are told apart from an unanswered call.
BUSY_CAUSES = ("BUSY", "REJECT", "DECLINE")
# [R] The field of the recordMessage result carrying the link to the recording.
RECORDING_FIELD = "recording_url"
# [R] SCCO `stream` plays audio from a URL ("send an audio file to a call"); its field names
# follow the SCCO/NCCO shape (`streamUrl`). `play` needs a file uploaded to Stringee first.
STREAM_URL_FIELD = "streamUrl"
# [R] The input action's maximum number of digits.
MAX_DIGITS_FIELD = "maxDigits"
SEAL_FIELD = "who"
MAC_FIELD = "sig"


def rest_token(config, now=None, ttl=3600):
    """The REST API JWT (HS256 with the API key secret, `cty: stringee-api;v=1`) [V S6, S7]."""
    now = int(now or time.time())
    sid = config["STRINGEE_API_KEY_SID"]
    header = {"typ": "JWT", "alg": "HS256", "cty": "stringee-api;v=1"}
    payload = {"jti": f"{sid}-{now}", "iss": sid, "exp": now + ttl, "rest_api": True}
    signing = b".".join(_b64(json.dumps(p, separators=(",", ":")).encode()) for p in (header, payload))
    signature = hmac.new(str(config["STRINGEE_API_KEY_SECRET"]).encode(), signing, hashlib.sha256).digest()
    return (signing + b"." + _b64(signature)).decode()


def _b64(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=")


def signature(secret, data):
    """X-STRINGEE-SIGNATURE of `data` (bytes): base64 of its HMAC-SHA1 with the signing secret."""
    return base64.b64encode(hmac.new(str(secret).encode(), data, hashlib.sha1).digest()).decode()


def request_uri():
    """The Request-URI Stringee signed for a GET: path and query as sent (behind a proxy: under PUBLIC_BASE_URL)."""
    raw = request.environ.get("RAW_URI") or request.environ.get("REQUEST_URI")
    if not raw:
        query = request.query_string.decode("latin-1")
        raw = quote(request.path) + (f"?{query}" if query else "")
    prefix = urlsplit(current_app.config.get("PUBLIC_BASE_URL") or "").path.rstrip("/")
    return prefix + raw if prefix and not raw.startswith(prefix + "/") else raw


def _key():
    return hashlib.sha256(b"stringee-caller:" + str(current_app.config["SECRET_KEY"]).encode()).digest()


def seal(text):
    """`text` encrypted and authenticated (HMAC-SHA256 keystream and tag), URL-safe."""
    nonce = os.urandom(12)
    data = text.encode()
    stream = hmac.new(_key(), b"k" + nonce, hashlib.sha256).digest()
    body = bytes(a ^ b for a, b in zip(data, stream))
    tag = hmac.new(_key(), b"t" + nonce + body, hashlib.sha256).digest()[:12]
    return _b64(nonce + body + tag).decode()


def unseal(token):
    """The text `seal` sealed, or "" when the token is missing or was changed."""
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
    except (ValueError, TypeError):
        return ""
    nonce, body, tag = raw[:12], raw[12:-12], raw[-12:]
    expected = hmac.new(_key(), b"t" + nonce + body, hashlib.sha256).digest()[:12]
    if len(raw) < 25 or not hmac.compare_digest(tag, expected):
        return ""
    stream = hmac.new(_key(), b"k" + nonce, hashlib.sha256).digest()
    return bytes(a ^ b for a, b in zip(body, stream)).decode("utf-8", "replace")


def state_mac(params):
    """The MAC of an action URL's state (its query without `sig`), keyed with SECRET_KEY."""
    items = sorted((k, v) for k, v in params.items() if k != MAC_FIELD)
    return hmac.new(_key(), b"s" + urlencode(items).encode(), hashlib.sha256).hexdigest()[:24]


def _number(value):
    """A number field: a string, or an object {type, number, alias} (the call events) [R]."""
    if isinstance(value, dict):
        value = value.get("number", "")
    return str(value or "")


def end_status(data):
    """The delivery status of an ended call: answered when it was answered for a moment, else busy or no answer."""
    try:
        answered = float(data.get("answerDuration") or 0) > 0
    except (TypeError, ValueError):
        answered = False
    if answered:
        return "answered"
    cause = str(data.get("endCallCause") or "").upper()
    return "busy" if any(c in cause for c in BUSY_CAUSES) else "no_answer"


class Stringee:
    name = "stringee"
    statuses = CALL_STATUSES

    @staticmethod
    def path(next_step):
        params = dict(next_step.params)
        return f"/ivr/stringee/{next_step.step}" + ("?" + urlencode(params) if params else "")

    @staticmethod
    def signed():
        """True when X-STRINGEE-SIGNATURE signs the raw body (POST) or the Request-URI (GET)."""
        secret = current_app.config.get("STRINGEE_SIGNING_SECRET")
        given = request.headers.get("X-STRINGEE-SIGNATURE", "")
        if not secret or not given:
            return False
        data = request.get_data() if request.method == "POST" else request_uri().encode("latin-1", "replace")
        return hmac.compare_digest(signature(secret, data).encode(), given.strip().encode("latin-1", "replace"))

    @staticmethod
    def parse(step):
        """The flow event of this Stringee request (the answer_url GET, an action's POST, a call event)."""
        state = {k: v for k, v in request.args.items() if k not in ("from", "to", "uuid", "fromInternal", "step")}
        if request.method == "GET":
            outbound = step == "outbound"
            caller, called = _number(request.args.get("from")), _number(request.args.get("to"))
            if outbound:  # a callout: from is our number, to the resident
                caller, called = called, caller
            return flow.Event(step=step, state=state, caller=caller, called=called,
                              call_id=request.args.get("uuid", "") or request.args.get("callId", ""),
                              outbound=outbound)
        data = request.get_json(silent=True, force=True)
        data = data if isinstance(data, dict) else {}
        if step != "status" and not hmac.compare_digest(state.get(MAC_FIELD, ""), state_mac(state)):
            state = {}  # not a URL we gave Stringee: no area, no delivery, no caller
        state.pop(MAC_FIELD, None)
        caller = unseal(state.pop(SEAL_FIELD, ""))
        event = flow.Event(step=step, state=state, caller=caller, call_id=str(data.get("call_id") or ""))
        if step == "status":
            status = str(data.get("call_status") or "")
            event.raw_status = status
            event.status = end_status(data) if status in ENDED else CALL_STATUSES.get(status)
            ours = {_number(current_app.config.get("STRINGEE_NUMBER")).lstrip("+")}
            event.caller = _number(data.get("from"))
            from_us = event.caller.lstrip("+") in ours
            event.missed = status in ENDED and event.status != "answered" and not from_us
            return event
        event.digits = "" if data.get("timeout") in (True, "true") else str(data.get("dtmf") or "")
        event.recording_url = str(data.get(RECORDING_FIELD) or "")
        # A connect that failed posts to its onFailEventUrl: the duty officer did not answer.
        event.dial_answered = False
        return event

    @classmethod
    def render(cls, script, event=None):
        """The SCCO (a JSON array of actions) of a flow script."""
        from gateway.twilio_auth import url_for_provider

        sealed = seal(event.caller) if event is not None and event.caller else None

        def url(next_step):
            params = dict(next_step.params)
            if sealed:
                params[SEAL_FIELD] = sealed
            params[MAC_FIELD] = state_mac(params)
            return url_for_provider(cls.path(flow.Next(next_step.step, tuple(params.items()))))

        actions = []
        for step in script:
            if isinstance(step, flow.SPOKEN):
                actions.append(_spoken(step, barge_in=False))
            elif isinstance(step, flow.Gather):
                actions += [_spoken(p, barge_in=True) for p in step.prompts]
                actions.append({"action": "input", "eventUrl": url(step.next),
                                "submitOnHash": step.finish_on_key == "#", "timeout": step.timeout,
                                MAX_DIGITS_FIELD: step.digits})
            elif isinstance(step, flow.Record):
                actions.append({"action": "recordMessage", "eventUrl": url(step.next), "beepStart": True,
                                "timeout": step.max_seconds, "format": "mp3", "silenceTimeout": step.silence})
            elif isinstance(step, flow.Dial):
                number = current_app.config.get("STRINGEE_NUMBER") or ""
                actions.append({"action": "connect",
                                "from": {"type": "external", "number": number.lstrip("+"), "alias": number.lstrip("+")},
                                "to": {"type": "external", "number": step.number.lstrip("+"),
                                       "alias": step.number.lstrip("+")},
                                "timeout": step.timeout, "continueOnFail": True, "onFailEventUrl": url(step.next)})
            # Hangup and Reject: an SCCO ends the call when its last action completes. [R] SCCO has
            # no "reject": a call answered by an empty SCCO ends at once (the callback mode).
        return Response(json.dumps(actions, ensure_ascii=False), mimetype="application/json")

    @staticmethod
    def recording_request(url, config):
        """(URL, requests kwargs): Stringee's recording links get the REST JWT [R whether it is needed]."""
        host = urlsplit(url).hostname or ""
        if host == "stringee.com" or host.endswith(".stringee.com"):
            return url, {"headers": {"X-STRINGEE-AUTH": rest_token(config)}}
        return url, {}


def _spoken(step, *, barge_in):
    if isinstance(step, flow.Play):
        return {"action": "stream", STREAM_URL_FIELD: step.url, "bargeIn": barge_in, "loop": 1}
    return {"action": "talk", "text": step.text, "bargeIn": barge_in, "loop": 1}
