"""The SMS provider interface."""


class SMSProvider:
    """Sends one SMS. Subclasses set `name` and `required_settings` and implement `send`."""

    name = ""
    # Settings production refuses to start without when this provider is chosen.
    required_settings = ()

    def __init__(self, config):
        self.config = config

    def send(self, to, body, status_callback=None):
        """Send `body` to `to` (E.164); return the provider's message id.

        Raises gateway.transport.TransportError (permanent or not) when it cannot."""
        raise NotImplementedError
