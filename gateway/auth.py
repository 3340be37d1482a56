"""Officials' API tokens and the areas each official may act on."""
import functools
import hashlib
import secrets

from flask import g, has_request_context, jsonify, request
from sqlalchemy import ARRAY, Integer, any_, bindparam, func, select

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


def scope_roots(official):
    """The areas whose subtrees the official may act on, by role.

    province: the province of each of their areas; admin: the commune of each of their areas;
    leader and operator: their areas as assigned. An official with no areas acts on nothing."""
    roots = []
    for area in official.areas:
        if official.role == "province":
            root = area.province() or area
        elif official.role == "admin":
            root = area.commune() or (None if area.level == "province" else area)
        else:
            root = area
        if root is not None and root not in roots:
            roots.append(root)
    return roots


def area_scope(session, official):
    """Ids of every area the official may act on (the subtrees of `scope_roots`), as a frozenset.

    Kept for the rest of a web request: pages ask several times."""
    cache = g.setdefault("_area_scopes", {}) if has_request_context() else {}
    key = (official.id, official.role)
    if key not in cache:
        ids = set()
        for root in scope_roots(official):
            ids.update(root.descendant_ids(session))
        cache[key] = frozenset(ids)
    return cache[key]


def may_act_on(session, official, area_id):
    """True when `area_id` is within the official's scope."""
    return area_id is not None and area_id in area_scope(session, official)


def covering_ids(session, official):
    """The scope plus the areas above it: an announcement to any of these reaches the official's
    households, so they may read it (and its coverage, limited to their scope)."""
    ids = set(area_scope(session, official))
    for root in scope_roots(official):
        ids.update(a.id for a in root.ancestors())
    return ids


def asset_area_ids(session, asset):
    """Areas an audio asset belongs to: those it was uploaded or made for, and those of the
    reports, announcements and bulletins that use it."""
    from gateway.models import Announcement, Bulletin, Report, announcement_areas, audio_asset_areas

    ids = set(session.scalars(select(audio_asset_areas.c.area_id).where(audio_asset_areas.c.asset_id == asset.id)))
    ids.update(session.scalars(select(func.coalesce(Report.area_id, Report.commune_id))
                               .where(Report.recording_id == asset.id)))
    ids.update(session.scalars(select(announcement_areas.c.area_id).join(
        Announcement, Announcement.id == announcement_areas.c.announcement_id).where(
        (Announcement.recording_id == asset.id) | (Announcement.audio_id == asset.id))))
    ids.update(session.scalars(select(Bulletin.area_id).where(Bulletin.asset_id == asset.id)))
    return ids


def may_see_asset(session, official, asset):
    """True when the asset belongs to an area in the official's scope (or above it, for what
    an announcement to a wider area plays)."""
    owners = asset_area_ids(session, asset)
    if asset.kind == "recording":
        # Residents' voices and officials' own uploads: not for loudspeaker operators.
        return official.role != "operator" and bool(owners & area_scope(session, official))
    return bool(owners & covering_ids(session, official))


def scoped(session, official, query, *columns):
    """`query` limited to rows whose area (the first non-null of `columns`) is in the official's scope.

    The one rule every list, search, export, API answer and dashboard goes through."""
    column = columns[0] if len(columns) == 1 else func.coalesce(*columns)
    return query.where(in_scope(session, official, column))


def in_scope(session, official, column):
    """The condition `column` is one of the official's area ids."""
    return among(session, column, area_scope(session, official))


def among(session, column, ids):
    """The condition `column` is one of `ids` (area ids, thousands for a province).

    PostgreSQL gets them as one array parameter: the planner sees how many there are and picks a
    hash join over 300 000 households instead of 4 000 index probes; other databases an IN list."""
    ids = sorted(ids)
    if session.get_bind().dialect.name == "postgresql":
        return column == any_(bindparam(None, ids, type_=ARRAY(Integer)))
    return column.in_(ids)


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
    """The Area rows the official may act on, in id order."""
    return list(session.scalars(scoped(session, official, select(Area).order_by(Area.id), Area.id)))
