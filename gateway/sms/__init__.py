"""SMS: the inbound webhooks, commands, encoding for basic phones, digests and providers."""


def init_app(app):
    from gateway.sms import cli, inbound, views

    inbound.parse_rate(app.config.get("SMS_RATE_LIMIT") or "10/hour")  # a bad setting fails at start
    for name in ("SMS_DIGEST_SEGMENTS", "SMS_MAX_LENGTH", "SMS_REPORT_THREAD_MINUTES"):
        value = str(app.config.get(name) or "")
        if value and (not value.isdigit() or int(value) < 1):
            from gateway.config import ConfigError

            raise ConfigError(f"{name} must be a whole number of at least 1, not '{value}'.")
    views.init_app(app)
    app.cli.add_command(cli.sms_cli)
    app.cli.add_command(cli.senders_cli)
