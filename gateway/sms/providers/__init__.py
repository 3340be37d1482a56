"""Outbound SMS providers behind one interface, chosen by SMS_PROVIDER."""
from gateway.registry import Registry

SMS_PROVIDERS = Registry("SMS provider", {
    "outbox": "gateway.sms.providers.outbox.OutboxSMS",
})


def get_provider(config):
    """The configured SMS provider, ready to send."""
    return SMS_PROVIDERS.get(config["SMS_PROVIDER"])(config)
