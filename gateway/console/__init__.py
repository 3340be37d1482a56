"""The officials' web console (/console): log-in, compose broadcasts, reports inbox, dashboard,
residents, loudspeaker downloads, and a phone simulator that drives the real webhooks.

Server-rendered pages in Vietnamese first (English available), a little vanilla JavaScript
where it helps (live SMS preview, audio polling, microphone recording, the simulator).
"""
import datetime as dt


def init_app(app):
    from flask import g, request

    from gateway.console import base, i18n
    from gateway.media.assets import asset_url
    from gateway.phone import national
    from gateway.console import announcements, reports, residents, phone, views  # noqa: F401  (routes)

    production = app.config.get("GATEWAY_ENV") == "production"
    app.config.update(
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=production,
        PERMANENT_SESSION_LIFETIME=dt.timedelta(minutes=int(float(app.config.get("CONSOLE_SESSION_MINUTES") or 60))),
    )

    @base.bp.before_request
    def _console_request():
        if request.endpoint == "console.static":
            return None
        base.load_official()
        if request.method == "POST":
            base.check_csrf()
        return None

    @base.bp.after_request
    def _no_store(response):
        # Pages show residents' data: browsers and proxies must not keep them.
        if request.endpoint != "console.static":
            response.headers.setdefault("Cache-Control", "no-store")
            response.headers.setdefault("X-Frame-Options", "DENY")
            response.headers.setdefault("Referrer-Policy", "same-origin")
        return response

    @base.bp.context_processor
    def _template_names():
        return {
            "t": base.t, "csrf_token": base.csrf_token, "lang": base.current_language(),
            "languages": i18n.LANGUAGE_NAMES, "official": g.get("official"), "local_time": base.local_time,
            "simulator_enabled": base.simulator_enabled(), "label": base.label, "national": national,
            "asset_url": lambda asset, rendition="mp3": asset_url(asset, rendition, external=False),
        }

    app.register_blueprint(base.bp)
    views.init_errors(app)
