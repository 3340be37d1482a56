"""The officials' web console (/console): log-in, compose broadcasts, reports inbox, dashboard,
residents, loudspeaker downloads, and a phone simulator that drives the real webhooks.

Server-rendered pages in Vietnamese first (English available), a little vanilla JavaScript
where it helps (live SMS preview, audio polling, microphone recording, the simulator).
"""
import datetime as dt


def init_app(app):
    from gateway.console import base, i18n, views
    from gateway.console import announcements, areas, firstrun, phone, reports, residents, senders  # noqa: F401  (their routes)
    from gateway.console import polls  # noqa: F401  (the polls' pages, issue 21)

    production = app.config.get("GATEWAY_ENV") == "production"
    app.config.update(
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=production,
        PERMANENT_SESSION_LIFETIME=dt.timedelta(minutes=base.session_minutes(app.config)),
    )
    i18n.init_app(app, locale_selector=base.current_language)
    app.register_blueprint(base.bp)
    views.init_errors(app)
