"""The hotline and voice calls: webhooks (views), prompts, outbound calls and their providers."""


def init_app(app):
    from gateway.config import check_production
    from gateway.ivr import cli, views
    from gateway.ivr.providers import VOICE_PROVIDERS

    if app.config.get("HOTLINE_MODE") not in ("answer", "callback"):
        from gateway.config import ConfigError

        raise ConfigError(f"HOTLINE_MODE={app.config.get('HOTLINE_MODE')!r}: choose answer or callback.")
    # Names the provider's missing settings in production (and an unknown provider anywhere).
    check_production(app.config, VOICE_PROVIDERS.get(app.config["VOICE_PROVIDER"]).required_settings)
    app.register_blueprint(views.bp)
    app.cli.add_command(cli.ivr_cli)
