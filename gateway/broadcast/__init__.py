"""Broadcasts: an official's announcement delivered on every channel, with coverage measured."""


def init_app(app):
    """The officials' JSON API and the `announcements` commands."""
    from gateway.broadcast import api, cli

    api.init_app(app)
    cli.init_app(app)
