"""Outbound HTTP for providers and group targets: one `requests` session, timeouts, and
the mapping of HTTP failures to TransportError (the seam tests record with `responses`)."""
import email.utils
import time

import requests

from gateway.transport import TransportError

_session = None
DEFAULT_TIMEOUT = (5, 15)  # connect, read (seconds)


def session():
    """The process's shared session (connection pooling for bulk sends)."""
    global _session
    if _session is None:
        _session = requests.Session()
    return _session


def request(method, url, *, timeout=DEFAULT_TIMEOUT, **kwargs):
    """Send a request; network failures become transient TransportErrors: code "connect" when the
    request never left (safe to send again), "timeout" when the other side may have acted on it."""
    try:
        return session().request(method, url, timeout=timeout, **kwargs)
    except requests.ConnectTimeout:
        raise TransportError(f"could not connect to {_host(url)}", code="connect") from None
    except requests.Timeout:
        raise TransportError(f"timed out calling {_host(url)}", code="timeout") from None
    except requests.ConnectionError:
        raise TransportError(f"could not connect to {_host(url)}", code="connect") from None


def retry_after(response):
    """Seconds from a Retry-After header (seconds or an HTTP date), or None."""
    value = response.headers.get("Retry-After")
    if not value:
        return None
    if value.strip().isdigit():
        return int(value)
    try:
        return max(0, int(email.utils.parsedate_to_datetime(value).timestamp() - time.time()))
    except (TypeError, ValueError):
        return None


def check_status(response, what):
    """Raise TransportError for a failed response: 429 and 5xx transient, other 4xx permanent."""
    if response.status_code < 400:
        return
    message = f"{what}: HTTP {response.status_code} {response.text[:200]}"
    if response.status_code == 429:
        raise TransportError(message, code="429", retry_after=retry_after(response))
    raise TransportError(message, permanent=response.status_code < 500 and response.status_code != 408,
                         code=str(response.status_code))


def json_answer(resp, what):
    """A provider's answer as a JSON object; a failed HTTP status or an answer that is not one raises TransportError."""
    try:
        body = resp.json()
    except ValueError:
        body = None
    if isinstance(body, dict):
        return body
    check_status(resp, what)
    raise TransportError(f"{what}: unreadable answer (HTTP {resp.status_code})")


def _host(url):
    return url.split("/")[2] if "://" in url else url
