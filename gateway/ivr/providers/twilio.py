"""Twilio Programmable Voice, or any Twilio-compatible server (Somleng): calls.create with
answering-machine detection.

TWILIO_API_BASE_URL points the client at a commune's own Somleng (its REST API, e.g.
`https://somleng.example.vn`); the account and token are then that server's. Its calls fetch the
same TwiML webhooks (gateway.ivr.dialects.twiml) and sign them the same way.

Answering machines: synchronous detection with `DetectMessageEnd`, so the TwiML request for an
answered call already carries `AnsweredBy` and, for a machine, comes after its greeting and
beep: the announcement is then left as a message (see gateway.ivr.views.outbound).
"""
import requests

from gateway.ivr.providers.base import VoiceProvider
from gateway.transport import TransportError

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
        base = (self.config.get("TWILIO_API_BASE_URL") or "").rstrip("/")
        if base:
            client.api.base_url = base  # every Calls URL is built from the domain's base URL
        host = base.split("/")[2] if base else "api.twilio.com"
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
            raise TransportError(f"timed out calling {host}") from None
        except requests.ConnectionError:
            raise TransportError(f"could not connect to {host}") from None
        return call.sid


def error_for(status, code, message):
    """A TransportError for Twilio's HTTP status and error code: 429 and 5xx transient, the rest permanent."""
    text = f"Twilio {status} error {code}: {message}"
    if status == 429 or code == 20429 or (status >= 500 and code not in PERMANENT_CODES):
        return TransportError(text, code=str(code or status))
    return TransportError(text, permanent=True, code=str(code or status))
