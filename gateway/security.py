"""Headers every response carries: a Content-Security-Policy (scripts only from our own files),
no MIME sniffing, no full URLs in Referer, and HSTS in production (served over HTTPS only); and
the client's address as TRUSTED_PROXIES reverse proxies report it; and the one comparison of a
webhook's shared secret."""
import hmac
from urllib.parse import urlsplit

from werkzeug.middleware.proxy_fix import ProxyFix

HSTS = "max-age=31536000; includeSubDomains"


def content_security_policy(config):
    """The policy: our own scripts only (the console keeps none inline), audio from us or the public URL."""
    public = urlsplit(config.get("PUBLIC_BASE_URL") or "")
    origin = f" {public.scheme}://{public.netloc}" if public.scheme and public.netloc else ""
    return "; ".join((
        "default-src 'self'",
        "script-src 'self'",
        # Style attributes only (the dashboard's bar widths, the loudspeaker page's own sheet); no script.
        "style-src 'self' 'unsafe-inline'",
        "img-src 'self' data:",
        f"media-src 'self' blob:{origin}",
        f"connect-src 'self'{origin}",
        "object-src 'none'",
        "base-uri 'none'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    ))


def secret_matches(expected, given):
    """True when a secret is configured and `given` is it (compared in constant time)."""
    return bool(expected) and hmac.compare_digest(str(given or "").encode("utf-8"), str(expected).encode("utf-8"))


def init_app(app):
    proxies = int(app.config.get("TRUSTED_PROXIES") or 0)
    if proxies > 0:
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=proxies, x_proto=proxies)
    policy = content_security_policy(app.config)
    production = app.config.get("GATEWAY_ENV") == "production"

    @app.after_request
    def _security_headers(response):
        headers = response.headers
        headers.setdefault("Content-Security-Policy", policy)
        headers.setdefault("X-Content-Type-Options", "nosniff")
        headers.setdefault("Referrer-Policy", "same-origin")
        if production:
            headers.setdefault("Strict-Transport-Security", HSTS)
        return response
