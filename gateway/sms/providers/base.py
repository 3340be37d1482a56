"""The SMS provider interface: sending, and reading the provider's own webhooks (courier style).

A provider's webhook requests are read by the provider class itself, without an instance (the
webhook of a pool phone may arrive while another provider is the default): `webhook_ok` checks
its signature or secret, `parse` turns the request into an `Inbound` or a `StatusReport` (None:
an event we do not act on; ValueError: a request that cannot be read, answered 400), and
`answer` says what the provider expects back. `gateway.sms.views` does the rest, the same for all.
"""
from dataclasses import dataclass

from gateway.transport import TransportError


@dataclass(frozen=True)
class Inbound:
    """An SMS a resident sent, as the provider's webhook carried it."""

    sender: str
    body: str
    to: str | None = None
    message_id: str | None = None


@dataclass(frozen=True)
class StatusReport:
    """The provider's word on a message we sent: found by its id at the provider, else by our reference."""

    status: str | None
    provider_id: str | None = None
    reference: str | None = None
    error_code: str | None = None
    error: str | None = None
    event_id: str | None = None  # the provider's id of this event, when it redelivers events


@dataclass(frozen=True)
class Outcome:
    """What the gateway made of a webhook request, for the provider's `answer`."""

    kind: str  # "inbound", "status" or "ignored"
    reply: str | None = None
    intent: str | None = None
    duplicate: bool = False
    updated: bool = False
    found: bool = True
    ignored: str | None = None


class SMSProvider:
    """Sends one SMS. Subclasses set `name`, `required_settings` and `STATUSES`, and implement `send`."""

    name = ""
    # Settings production refuses to start without when this provider is chosen.
    required_settings = ()
    # The provider's status words → ours (models.DELIVERY_STATUSES); each provider has its table.
    STATUSES = {}
    # Our status once the provider has taken the message: "sent", or "queued" when it only accepted it.
    accepted_status = "sent"
    # Whether the provider tells us a message reached the phone ("delivered"): coverage says so when not.
    reports_delivery = True
    # Path of the status webhook to give with each message (None: configured once at the provider).
    status_path = None
    # True when sending again with the same reference cannot send twice (the provider refuses
    # duplicates): a message left "sending" by a crashed worker may simply be sent again.
    dedupes_reference = False
    # True when the provider carries Vietnamese with diacritics (UCS-2) for communes that choose it.
    unicode_capable = False

    def __init__(self, config):
        missing = [k for k in self.required_settings if not config.get(k)]
        if missing:
            raise TransportError(f"SMS provider '{self.name}' needs {', '.join(missing)}", permanent=True,
                                 code="not_configured")
        self.config = config

    def send(self, to, body, status_callback=None, *, reference=None):
        """Send `body` to `to` (E.164); return the provider's message id.

        `reference` is our id for the message, given to providers that keep one.
        Raises gateway.transport.TransportError (permanent or not) when it cannot."""
        raise NotImplementedError

    def lookup(self, reference):
        """(provider id, our status) of the message sent with `reference`, None if the provider
        never got it; NotImplementedError when the provider cannot be asked."""
        raise NotImplementedError

    # Whether the reply to an inbound SMS goes out as its own SMS (False: in the webhook's answer).
    replies_by_sms = True

    @classmethod
    def webhook_ok(cls, request, config):
        """True when `request` is signed by (or carries the secret of) this provider."""
        return False

    @classmethod
    def parse(cls, request, kind):
        """The `Inbound` or `StatusReport` in `request` to the webhook `kind` ("inbound", "status",
        "events"), None when it is an event we ignore; ValueError (its text answered 400) when unreadable."""
        raise NotImplementedError

    @classmethod
    def answer(cls, outcome):
        """What the provider gets back (anything a Flask view may return)."""
        return {"ok": True}

    @property
    def can_lookup(self):
        return type(self).lookup is not SMSProvider.lookup

    def status_of(self, provider_status):
        """Our status for the provider's word, or None when it means nothing to us."""
        return self.STATUSES.get(str(provider_status or "").strip().lower())
