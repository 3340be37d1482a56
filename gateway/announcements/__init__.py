"""Announcement policy below the channels: quiet hours, what is current for an area, what an
official may see, and the per-area caches the webhooks answer from. sms, ivr, console, the API
and broadcast all read it; it imports none of them."""


def init_app(app):
    """The per-area caches and the version every change to announcements raises."""
    from gateway.announcements import cache

    cache.init_app(app)
