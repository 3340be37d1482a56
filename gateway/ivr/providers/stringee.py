"""Stringee outbound calls: `POST /v1/call2/callout` with the REST JWT; the callee's answer fetches our
answer_url (the same flow as the hotline, in SCCO) [V reference §1, S5–S7].

Stringee offers no answering-machine detection in the reference, so an answered call is a listener.
Call events go to the project's event_url (`/ivr/stringee/event`), matched by call id.
"""
import uuid

from gateway import http
from gateway.ivr import calls
from gateway.ivr.dialects.stringee import CALLOUT, rest_token
from gateway.ivr.providers.base import VoiceProvider
from gateway.transport import TransportError


class StringeeVoice(VoiceProvider):
    name = "stringee"
    required_settings = ("STRINGEE_API_KEY_SID", "STRINGEE_API_KEY_SECRET", "STRINGEE_SIGNING_SECRET",
                         "STRINGEE_NUMBER")

    def webhook_urls(self, delivery_id):
        return f"/ivr/stringee/answer?step=outbound&delivery={delivery_id}", None

    def call(self, to, *, url, status_callback, purpose="announcement"):
        ours = str(self.config["STRINGEE_NUMBER"]).lstrip("+")
        theirs = to.lstrip("+")
        body = {"from": {"type": "external", "number": ours, "alias": ours},
                "to": [{"type": "external", "number": theirs, "alias": theirs}],
                "answer_url": url}
        resp = http.request("POST", CALLOUT, json=body, headers={"X-STRINGEE-AUTH": rest_token(self.config)})
        http.check_status(resp, "Stringee callout")
        try:
            data = resp.json()
        except ValueError:
            raise TransportError(f"Stringee callout answered no JSON: {resp.text[:200]}") from None
        if data.get("r") != 0:
            # [R] Stringee's error codes are not listed in the reference: a refused callout is not retried.
            raise TransportError(f"Stringee callout r={data.get('r')}: {data.get('message', '')}", permanent=True,
                                 code=f"r{data.get('r')}")
        # [R] the call's id in the answer; without one, a provisional id until the answer_url request
        # names the call (uuid).
        return str(data.get("call_id") or "") or calls.PROVISIONAL_ID + uuid.uuid4().hex
