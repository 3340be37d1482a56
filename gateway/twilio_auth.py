"""Checking `X-Twilio-Signature` on every Twilio webhook.

The signature covers the URL Twilio used (behind a proxy: PUBLIC_BASE_URL plus the path and
query) and every POSTed field, empty and repeated ones included. A bad or missing signature
is answered 403, never 500.
"""
import functools
import logging

from flask import abort, current_app, has_request_context, request
from twilio.request_validator import RequestValidator, compare, get_signature_algorithm

log = logging.getLogger(__name__)


def signature_valid(url, params, signature, token, algorithm=None):
    """True when `signature` signs `url` with `params` (a form MultiDict, or a JSON body string)."""
    if not signature or not token:
        return False
    validator = RequestValidator(token)
    try:
        if validator.validate(url, params, signature, algorithm):
            return True
        scheme = url.split(":", 1)[0]
        if scheme != scheme.lower() and not isinstance(params, str):
            # urlparse lowercases "HTTP://"; Twilio signs the URL exactly as configured.
            return compare(validator.compute_signature(url, params, algorithm), signature)
    except (TypeError, ValueError):
        # twilio-python raises TypeError for a body without bodySHA256 in the URL.
        return False
    return False


def public_url():
    """The URL the provider called: PUBLIC_BASE_URL (when set) with this request's path and query."""
    base = current_app.config.get("PUBLIC_BASE_URL")
    if not base:
        return request.url
    query = request.query_string.decode("latin-1")
    return base.rstrip("/") + request.path + (f"?{query}" if query else "")


def url_for_provider(path):
    """An absolute URL for `path` (e.g. "/sms/status") as providers must call it.

    Outside a request (a job) with no PUBLIC_BASE_URL, which only development allows, the bare path."""
    base = current_app.config.get("PUBLIC_BASE_URL") or (request.host_url if has_request_context() else "")
    return base.rstrip("/") + path


def request_params():
    """What the signature covers besides the URL: the form fields, or a JSON body as text."""
    if request.mimetype == "application/x-www-form-urlencoded" or request.method == "GET":
        return request.form
    return request.get_data(as_text=True)


def request_signed(config):
    """True when this request carries a valid X-Twilio-Signature for TWILIO_AUTH_TOKEN in `config`."""
    signature = request.headers.get("X-Twilio-Signature", "")
    algorithm = get_signature_algorithm(request.headers.get("X-Twilio-Webhooks-Signature-Settings"))
    return signature_valid(public_url(), request_params(), signature, config.get("TWILIO_AUTH_TOKEN"), algorithm)


def twilio_signed(view):
    """Decorator: 403 unless the request carries a valid Twilio signature."""

    @functools.wraps(view)
    def wrapper(*args, **kwargs):
        if not request_signed(current_app.config):
            log.warning("rejected unsigned or badly signed webhook path=%s signature_present=%s",
                        request.path, bool(request.headers.get("X-Twilio-Signature")))
            abort(403)
        return view(*args, **kwargs)

    return wrapper
