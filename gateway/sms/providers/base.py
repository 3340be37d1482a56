"""The SMS provider interface."""
from gateway.transport import TransportError


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

    @property
    def can_lookup(self):
        return type(self).lookup is not SMSProvider.lookup

    def status_of(self, provider_status):
        """Our status for the provider's word, or None when it means nothing to us."""
        return self.STATUSES.get(str(provider_status or "").strip().lower())
