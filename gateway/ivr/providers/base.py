"""The voice provider interface."""


class VoiceProvider:
    """Places one outbound call. Subclasses set `name` and `required_settings` and implement `call`."""

    name = ""
    # Settings production refuses to start without when this provider is chosen.
    required_settings = ()

    def __init__(self, config):
        self.config = config

    def webhook_urls(self, delivery_id):
        """(answer path, status callback path or None) of a call placed for `delivery_id`: TwiML's by default."""
        return f"/ivr/outbound?delivery={delivery_id}", f"/ivr/status?delivery={delivery_id}"

    def call(self, to, *, url, status_callback, purpose="announcement"):
        """Call `to` (E.164); when answered the provider fetches the call's script from `url` and posts
        progress to `status_callback` (None: the provider's own event URL). Returns the provider's call id.

        Raises gateway.transport.TransportError (permanent or not) when it cannot."""
        raise NotImplementedError
