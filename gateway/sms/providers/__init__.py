"""Outbound SMS providers behind one interface, chosen by SMS_PROVIDER."""
from gateway.registry import Registry

SMS_PROVIDERS = Registry("SMS provider", {
    "outbox": "gateway.sms.providers.outbox.OutboxSMS",
    "twilio": "gateway.sms.providers.twilio.TwilioSMS",
    "android": "gateway.sms.providers.android.AndroidSMS",
    "esms": "gateway.sms.providers.esms.EsmsSMS",
    "kannel": "gateway.sms.providers.kannel.KannelSMS",
    "gammu": "gateway.sms.providers.gammu.GammuSMS",
})


def get_provider(config, name=None):
    """The SMS provider `name` (default: the configured one), ready to send."""
    return SMS_PROVIDERS.get(name or config["SMS_PROVIDER"])(config)
