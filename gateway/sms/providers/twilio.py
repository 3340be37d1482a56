"""Twilio Programmable Messaging through the official `twilio` client.

Twilio keeps no reference of ours, so a message whose send was interrupted cannot be looked
up: `sms requeue-stuck` hands such messages to an operator instead of sending them twice."""
import requests

from gateway.sms.providers.base import Inbound, SMSProvider, StatusReport
from gateway.transport import TransportError

# Twilio's MessageStatus → ours. "sending"/"accepted"/"scheduled" are still on Twilio's side.
STATUSES = {
    "accepted": "queued", "scheduled": "queued", "queued": "queued", "sending": "queued",
    "sent": "sent", "delivered": "delivered", "read": "delivered", "partially_delivered": "undelivered",
    "undelivered": "undelivered", "failed": "failed", "canceled": "cancelled",
}


class TwilioSMS(SMSProvider):
    name = "twilio"
    required_settings = ("TWILIO_ACCOUNT_SID", "TWILIO_AUTH_TOKEN", "TWILIO_FROM_NUMBER")
    STATUSES = STATUSES
    accepted_status = "queued"
    status_path = "/sms/status"
    unicode_capable = True
    replies_by_sms = False  # the reply goes back in the TwiML answer

    @classmethod
    def webhook_ok(cls, request, config):
        from gateway.twilio_auth import request_signed

        return request_signed(config)

    @classmethod
    def parse(cls, request, kind):
        form = request.form
        if kind == "status":
            status = (form.get("MessageStatus") or form.get("SmsStatus") or "").lower()
            return StatusReport(STATUSES.get(status), provider_id=form.get("MessageSid") or None,
                                error_code=form.get("ErrorCode") or None)
        if not (form.get("From") or form.get("Body")):
            raise ValueError("no message: From and Body are both missing")
        return Inbound(form.get("From", ""), form.get("Body", ""), to=form.get("To"),
                       message_id=form.get("MessageSid") or None)

    @classmethod
    def answer(cls, outcome):
        if outcome.kind != "inbound":
            return ""
        from twilio.twiml.messaging_response import MessagingResponse

        response = MessagingResponse()
        if outcome.reply:
            response.message(outcome.reply)
        return str(response), 200, {"Content-Type": "text/xml; charset=utf-8"}

    def __init__(self, config, http_client=None):
        super().__init__(config)
        self.http_client = http_client

    def client(self):
        from twilio.rest import Client

        return Client(self.config["TWILIO_ACCOUNT_SID"], self.config["TWILIO_AUTH_TOKEN"],
                      http_client=self.http_client)

    def send(self, to, body, status_callback=None, *, reference=None):
        from twilio.base.exceptions import TwilioException, TwilioRestException

        options = {"to": to, "from_": self.config["TWILIO_FROM_NUMBER"], "body": body}
        if status_callback:
            options["status_callback"] = status_callback
        try:
            message = self.client().messages.create(**options)
        except TwilioRestException as exc:
            raise _error(exc) from None
        except requests.RequestException as exc:
            raise TransportError(f"twilio: {exc.__class__.__name__}") from None
        except TwilioException as exc:  # e.g. an answer that is not JSON
            raise TransportError(f"twilio: {exc}"[:300]) from None
        return message.sid


def _error(exc):
    """A TwilioRestException as a TransportError: 429 and 5xx are worth retrying, other 4xx not."""
    status = int(exc.status or 0)
    message = f"twilio: HTTP {status} error {exc.code}: {exc.msg}"[:300]
    code = str(exc.code or status)
    if status == 429 or status >= 500 or status == 0:
        return TransportError(message, code=code)
    return TransportError(message, permanent=True, code=code)
