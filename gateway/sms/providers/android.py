"""SMS Gateway for Android (capcom6/android-sms-gateway): a phone with a local SIM sends and
receives, through its REST API (local server `http://<phone>:8080`, or the cloud server
`https://api.sms-gate.app/3rdparty/v1`) with Basic auth.

We give each message our reference as its `id`: the app refuses a duplicate id (409), so a
message left "sending" by a crashed worker is asked for (`GET /message/{id}`) and never sent
twice. Status and inbound SMS arrive on the signed webhook `POST /sms/android`
(gateway.sms.views): register it in the app for sms:received, sms:sent, sms:delivered, sms:failed.
"""
import hashlib
import hmac
import time

from gateway import http
from gateway.parse import field, json_object, text_field, whole
from gateway.sms.providers.base import Inbound, SMSProvider, StatusReport
from gateway.transport import TransportError

# Message states (GET /message/{id}) and webhook events → ours.
STATUSES = {
    "pending": "queued", "processed": "queued", "sent": "sent", "delivered": "delivered",
    "failed": "failed", "cancelling": "queued", "cancelled": "cancelled",
    "sms:sent": "sent", "sms:delivered": "delivered", "sms:failed": "failed", "sms:cancelled": "cancelled",
}
SIGNATURE_WINDOW = 300  # seconds either side of X-Timestamp, as the app's docs suggest


def signature(key, raw_body, timestamp):
    """X-Signature: hex HMAC-SHA256 with the signing key over the raw body then X-Timestamp."""
    return hmac.new(key.encode("utf-8"), raw_body + timestamp.encode("ascii"), hashlib.sha256).hexdigest()


def signature_valid(key, raw_body, timestamp, given, now):
    """True when `given` signs the body at `timestamp` (Unix seconds) within the window."""
    seconds = whole(timestamp, high=10**10)  # "²" is a digit to str.isdigit(), not to int()
    if not (key and given) or seconds is None or abs(now - seconds) > SIGNATURE_WINDOW:
        return False
    return hmac.compare_digest(signature(key, raw_body, timestamp), given.strip().lower())


class AndroidSMS(SMSProvider):
    name = "android"
    required_settings = ("SMS_ANDROID_URL", "SMS_ANDROID_USER", "SMS_ANDROID_PASSWORD", "SMS_ANDROID_SIGNING_KEY")
    STATUSES = STATUSES
    accepted_status = "queued"
    dedupes_reference = True
    unicode_capable = True

    @classmethod
    def webhook_ok(cls, request, config):
        return signature_valid(config.get("SMS_ANDROID_SIGNING_KEY") or "", request.get_data(),
                               request.headers.get("X-Timestamp", ""), request.headers.get("X-Signature", ""),
                               time.time())

    @classmethod
    def parse(cls, request, kind):
        event = json_object(request.get_data())
        payload, name = field(event, "payload"), text_field(event, "event")
        if name == "sms:received":
            return Inbound(text_field(payload, "sender") or text_field(payload, "phoneNumber"),
                           text_field(payload, "message"), to=text_field(payload, "recipient") or None,
                           message_id=text_field(event, "id") or None)
        if name in ("sms:sent", "sms:delivered", "sms:failed", "sms:cancelled"):
            return StatusReport(STATUSES[name], provider_id=text_field(payload, "messageId") or None,
                                error=text_field(payload, "reason") or None,
                                error_code="android_failed" if name == "sms:failed" else None,
                                event_id=text_field(event, "id") or None)
        return None

    @classmethod
    def answer(cls, outcome):
        if outcome.kind == "inbound":
            return {"ok": True, "intent": outcome.intent, "duplicate": outcome.duplicate}
        if outcome.kind == "status":
            return {"ok": True, "duplicate": True} if outcome.duplicate else {"ok": True, "updated": outcome.updated}
        return {"ok": True, "ignored": outcome.ignored}

    def _url(self, path):
        return self.config["SMS_ANDROID_URL"].rstrip("/") + path

    def _auth(self):
        return (self.config["SMS_ANDROID_USER"], self.config["SMS_ANDROID_PASSWORD"])

    def send(self, to, body, status_callback=None, *, reference=None):
        payload = {"textMessage": {"text": body}, "phoneNumbers": [to], "withDeliveryReport": True}
        if reference:
            payload["id"] = reference
        if self.config.get("SMS_ANDROID_SIM"):
            payload["simNumber"] = int(self.config["SMS_ANDROID_SIM"])
        resp = http.request("POST", self._url("/message"), json=payload, auth=self._auth())
        if resp.status_code == 409 and reference:
            return reference  # sent before with this id (a retry after a lost answer): not again
        _check(resp)
        try:
            return str(resp.json().get("id") or reference)
        except ValueError:
            raise TransportError(f"android: unreadable answer (HTTP {resp.status_code})") from None

    def lookup(self, reference):
        resp = http.request("GET", self._url(f"/message/{reference}"), auth=self._auth())
        if resp.status_code == 404:
            return None
        _check(resp)
        body = resp.json()
        return str(body.get("id") or reference), self.status_of(body.get("state")) or "queued"


    def health(self):
        """(healthy, reason) from the phone's `GET /health` (no auth; HTTP 500 and "fail" when it is not)."""
        try:
            resp = http.request("GET", self._url("/health"), timeout=(5, 10))
        except TransportError as exc:
            return False, str(exc)
        try:
            body = resp.json()
        except ValueError:
            body = {}
        status = str(body.get("status") or "").lower()
        if resp.status_code >= 500 or status == "fail":
            failing = [name for name, check in (body.get("checks") or {}).items()
                       if isinstance(check, dict) and check.get("status") == "fail"]
            return False, f"android /health: {status or resp.status_code} {', '.join(failing)}".strip()
        if resp.status_code >= 400:
            return False, f"android /health: HTTP {resp.status_code}"
        return True, "" if status == "pass" else f"android /health: {status or 'unknown'}"


def _check(resp):
    if resp.status_code == 400:
        try:
            message = resp.json().get("message", "")
        except ValueError:
            message = resp.text[:200]
        raise TransportError(f"android: refused: {message}"[:300], permanent=True, code="400")
    http.check_status(resp, "android")
