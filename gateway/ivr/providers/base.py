"""The voice provider interface."""


class VoiceProvider:
    """Places one outbound call. Subclasses set `name` and `required_settings` and implement `call`."""

    name = ""
    # Settings production refuses to start without when this provider is chosen.
    required_settings = ()

    def __init__(self, config):
        self.config = config

    def call(self, to, *, url, status_callback, purpose="announcement"):
        """Call `to` (E.164); when answered the provider fetches TwiML from `url` and posts progress to
        `status_callback`. Returns the provider's call id.

        Raises gateway.transport.TransportError (permanent or not) when it cannot."""
        raise NotImplementedError
