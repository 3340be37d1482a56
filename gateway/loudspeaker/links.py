"""Per-operator token links: made once, stored hashed, revocable."""
import datetime as dt
import hashlib
import logging
import secrets

from flask import current_app, has_request_context, url_for
from sqlalchemy import select

from gateway.models import OperatorLink, utcnow

log = logging.getLogger(__name__)
# Recording every request would turn each download into a write; this often is enough to see use.
TOUCH_EVERY = dt.timedelta(minutes=10)
DEV_BASE_URL = "http://127.0.0.1:5000"  # where ./start.sh serves


class LinkRevoked(LookupError):
    """The link existed and was revoked."""


def _hash(token):
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def create_link(session, *, area, label, official=None):
    """A new link for `area`; returns (link, token). Only the hash is stored."""
    label = (label or "").strip()
    if not label:
        raise ValueError("label is empty: say who holds the link, e.g. 'Ông Ba – loa khu phố 5'")
    token = secrets.token_urlsafe(24)
    link = OperatorLink(token_hash=_hash(token), area_id=area.id, label=label[:120],
                        official_id=official.id if official else None)
    session.add(link)
    session.flush()
    log.info("operator link created id=%s area=%s", link.id, area.id)
    return link, token


def find_link(session, token):
    """The live link for `token`; None when unknown, LinkRevoked when revoked."""
    if not token or len(token) > 100:
        return None
    link = session.scalar(select(OperatorLink).where(OperatorLink.token_hash == _hash(token)))
    if link is None:
        return None
    if link.revoked_at is not None:
        raise LinkRevoked(link.id)
    now = utcnow()
    if link.last_used_at is None or now - link.last_used_at > TOUCH_EVERY:
        link.last_used_at = now
        session.commit()
    return link


def revoke(session, link):
    """Close the link: page, feed and downloads answer 410 from now on."""
    if link.revoked_at is None:
        link.revoked_at = utcnow()
        log.info("operator link revoked id=%s", link.id)
    return link


def link_url(token, endpoint="loudspeaker.page", **values):
    """An absolute URL under the link, as the operator's device must call it (also from the CLI)."""
    base = current_app.config.get("PUBLIC_BASE_URL")
    if not has_request_context():
        # The command line has no request to build URLs from: borrow one at the public address.
        with current_app.test_request_context(base_url=base or DEV_BASE_URL):
            return url_for(endpoint, token=token, _external=True, **values)
    if base:
        return base.rstrip("/") + url_for(endpoint, token=token, **values)
    return url_for(endpoint, token=token, _external=True, **values)
