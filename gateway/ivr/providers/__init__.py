"""Outbound call providers behind one interface, chosen by VOICE_PROVIDER."""
from gateway.registry import Registry

VOICE_PROVIDERS = Registry("voice provider", {
    "outbox": "gateway.ivr.providers.outbox.OutboxVoice",
    "twilio": "gateway.ivr.providers.twilio.TwilioVoice",
    "stringee": "gateway.ivr.providers.stringee.StringeeVoice",
})


def get_provider(config):
    """The configured voice provider, ready to place calls."""
    return VOICE_PROVIDERS.get(config["VOICE_PROVIDER"])(config)
