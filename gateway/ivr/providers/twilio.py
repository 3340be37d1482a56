"""Twilio Programmable Voice: calls.create with answering-machine detection, and its status table.

Answering machines: synchronous detection with `DetectMessageEnd`, so the TwiML request for an
answered call already carries `AnsweredBy` and, for a machine, comes after its greeting and
beep: the announcement is then left as a message (see gateway.ivr.views.outbound).
"""
import requests

from gateway.ivr.providers.base import VoiceProvider
from gateway.transport import TransportError

# Twilio's CallStatus → our delivery status (models.DELIVERY_STATUSES).
CALL_STATUSES = {
    "queued": "sending",
    "initiated": "sending",
    "ringing": "sending",
    "in-progress": "answered",
    "completed": "answered",  # only an answered call completes; never moves a confirmation back
    "busy": "busy",
    "no-answer": "no_answer",
    "failed": "failed",
    "canceled": "cancelled",
}
# Error codes where retrying cannot help: bad, unreachable or forbidden numbers, a bad caller id.
PERMANENT_CODES = {13223, 13224, 21210, 21211, 21212, 21214, 21215, 21216, 21217, 21401, 21601}
TIMEOUT = 15  # seconds; Twilio's client has none by default


class TwilioVoice(VoiceProvider):
    name = "twilio"
    required_settings = ("TWILIO_ACCOUNT_SID", "TWILIO_AUTH_TOKEN", "TWILIO_FROM_NUMBER")

    def call(self, to, *, url, status_callback, purpose="announcement"):
        from twilio.base.exceptions import TwilioRestException
        from twilio.http.http_client import TwilioHttpClient
        from twilio.rest import Client

        client = Client(self.config["TWILIO_ACCOUNT_SID"], self.config["TWILIO_AUTH_TOKEN"],
                        http_client=TwilioHttpClient(timeout=TIMEOUT))
        try:
            call = client.calls.create(
                to=to, from_=self.config["TWILIO_FROM_NUMBER"], url=url, method="POST",
                status_callback=status_callback, status_callback_method="POST",
                status_callback_event=["initiated", "ringing", "answered", "completed"],
                machine_detection="DetectMessageEnd", timeout=30,
            )
        except TwilioRestException as exc:
            raise error_for(exc.status, exc.code, exc.msg) from None
        except requests.Timeout:
            raise TransportError("timed out calling api.twilio.com") from None
        except requests.ConnectionError:
            raise TransportError("could not connect to api.twilio.com") from None
        return call.sid


def error_for(status, code, message):
    """A TransportError for Twilio's HTTP status and error code: 429 and 5xx transient, the rest permanent."""
    text = f"Twilio {status} error {code}: {message}"
    if status == 429 or code == 20429 or (status >= 500 and code not in PERMANENT_CODES):
        return TransportError(text, code=str(code or status))
    return TransportError(text, permanent=True, code=str(code or status))
