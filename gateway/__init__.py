"""The SMS and voice gateway: a Flask app (`create_app`) and the RQ jobs it enqueues."""
import logging
import os

from flask import Flask

from gateway import config as settings


def create_app(config=None):
    """Build the app: settings from the environment, embedded defaults, `config` applied last."""
    values = settings.from_environ()
    values.update(config or {})
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    instance_path = values.get("INSTANCE_PATH") or os.path.join(root, "instance")
    app = Flask(__name__, instance_path=os.path.abspath(instance_path))
    settings.fill_development_defaults(values, app.instance_path)
    app.config.update(values)
    settings.check_production(app.config, _provider_settings(app.config))
    _init_logging(app)

    from gateway import (announcements, broadcast, cli, console, db, health, ivr, loudspeaker, media, parse, queue, reports,
                         security, sms)

    parse.init_app(app)  # before any blueprint: routes compile their converters when registered
    security.init_app(app)
    db.init_app(app)
    announcements.init_app(app)
    queue.init_app(app)
    health.init_app(app)
    media.init_app(app)
    reports.init_app(app)
    broadcast.init_app(app)
    loudspeaker.init_app(app)
    sms.init_app(app)
    ivr.init_app(app)
    console.init_app(app)
    cli.init_app(app)
    return app


def _provider_settings(config):
    """Settings the chosen providers need in production (each class lists its own)."""
    if config.get("GATEWAY_ENV") != "production":
        return ()
    from gateway.sms.providers import SMS_PROVIDERS

    return tuple(SMS_PROVIDERS.get(config["SMS_PROVIDER"]).required_settings)


def _init_logging(app):
    level = str(app.config.get("LOG_LEVEL") or "INFO").upper()
    root = logging.getLogger()
    if not root.handlers:
        logging.basicConfig(format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("gateway").setLevel(level)
    # twilio-python logs every API request's parameters (phone numbers) at INFO.
    logging.getLogger("twilio.http_client").setLevel(logging.WARNING)
