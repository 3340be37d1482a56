"""Helpers for SMS tests: signed provider requests as the providers send them."""
import json
import os
import time
from xml.etree import ElementTree

from twilio.request_validator import RequestValidator
from werkzeug.datastructures import MultiDict

from gateway.sms.providers.android import signature as android_signature
from tests.conftest import TWILIO_TOKEN

BASE = "https://gw.example.vn"
REFERENCE = os.path.join(os.path.dirname(__file__), "..", "..", "shared", "reference")
ANDROID_KEY = "android-signing-key"


def reference(name):
    with open(os.path.join(REFERENCE, name), encoding="utf-8") as f:
        return json.load(f)


def twilio_post(client, path, params, *, sign="valid", token=TWILIO_TOKEN):
    """POST form `params` (dict or list of pairs) to `path`, signed as Twilio signs (or not)."""
    form = MultiDict(params)
    headers = {}
    if sign == "valid":
        headers["X-Twilio-Signature"] = RequestValidator(token).compute_signature(BASE + path, form)
    elif sign == "bad":
        headers["X-Twilio-Signature"] = RequestValidator("not-the-token").compute_signature(BASE + path, form)
    return client.post(path, data=form, headers=headers, content_type="application/x-www-form-urlencoded")


def twiml_messages(resp):
    """The <Message> texts of a TwiML answer."""
    root = ElementTree.fromstring(resp.data)
    assert root.tag == "Response"
    return [m.text or "" for m in root.findall("Message")]


def inbound_params(body, sender="+84912345678", sid="SM0123456789abcdef0123456789abcdef", **extra):
    """An inbound SMS as Twilio posts it (the reference example, with `body` and `sender`)."""
    params = dict(reference("twilio_webhooks.json")["inbound_sms"]["examples"][1]["params"])
    params.update(Body=body, From=sender, MessageSid=sid, SmsSid=sid, SmsMessageSid=sid, **extra)
    return params


def android_post(client, event, *, sign="valid", key=ANDROID_KEY, timestamp=None):
    """An SMS Gateway for Android webhook event, signed (or not) as the app signs."""
    raw = json.dumps(event).encode("utf-8")
    ts = str(int(time.time()) if timestamp is None else timestamp)
    headers = {"Content-Type": "application/json"}
    if sign in ("valid", "stale"):
        headers.update({"X-Timestamp": ts, "X-Signature": android_signature(key, raw, ts)})
    elif sign == "bad":
        headers.update({"X-Timestamp": ts, "X-Signature": android_signature("wrong-key", raw, ts)})
    return client.post("/sms/android", data=raw, headers=headers)
