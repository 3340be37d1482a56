"""Officials' API tokens and the areas each official may act on."""
import functools
import hashlib
import secrets

from flask import g, jsonify, request
from sqlalchemy import select

from gateway.db import get_db
from gateway.models import Area, Official


def hash_token(token):
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def issue_token(session, official):
    """A new API token for `official` (replacing any old one); shown once, stored hashed."""
    token = "lx_" + secrets.token_urlsafe(32)
    official.api_token_hash = hash_token(token)
    session.flush()
    return token


def official_for_token(session, token):
    """The active official holding `token`, or None."""
    if not token:
        return None
    official = session.scalar(select(Official).where(Official.api_token_hash == hash_token(token)))
    return official if official is not None and official.active else None


def area_scope(session, official):
    """Ids of the areas `official` may act on; None means every area (commune admins)."""
    if official.role == "admin":
        return None
    ids = set()
    for area in official.areas:
        ids.update(area.descendant_ids(session))
    return ids


def may_act_on(session, official, area_id):
    """True when `area_id` is within the official's areas."""
    scope = area_scope(session, official)
    return scope is None or area_id in scope


def api_error(status, message, **extra):
    """A JSON error body with the HTTP status."""
    return jsonify(error=message, **extra), status


def token_required(roles=None):
    """Decorator: a valid `Authorization: Bearer <token>`; sets `g.official`. 401/403 otherwise."""

    def decorate(view):
        @functools.wraps(view)
        def wrapper(*args, **kwargs):
            header = request.headers.get("Authorization", "")
            token = header[7:].strip() if header.lower().startswith("bearer ") else ""
            official = official_for_token(get_db(), token)
            if official is None:
                return api_error(401, "missing or invalid API token (Authorization: Bearer …)")
            if roles and official.role not in roles:
                return api_error(403, f"role '{official.role}' may not do this")
            g.official = official
            return view(*args, **kwargs)

        return wrapper

    return decorate


def areas_for(session, official):
    """The Area rows the official may act on (all of them for admins)."""
    scope = area_scope(session, official)
    query = select(Area).order_by(Area.id)
    if scope is not None:
        query = query.where(Area.id.in_(scope))
    return list(session.scalars(query))
