"""The officials' JSON API for announcements: create, schedule, list, cancel, coverage."""
import datetime as dt

from flask import Blueprint, Response, g, request
from sqlalchemy import select

from gateway.auth import api_error, area_scope, may_act_on, token_required
from gateway.broadcast import coverage, service
from gateway.db import get_db
from gateway.models import Announcement, Area, AudioAsset, announcement_areas

bp = Blueprint("announcement_api", __name__, url_prefix="/api/announcements")


def announcement_json(a):
    return {
        "id": a.id, "title": a.title, "body": a.body, "category": a.category, "priority": a.priority,
        "status": a.status, "audiences": a.audiences, "channels": a.channels,
        "areas": [{"id": x.id, "name": x.name, "code": x.code} for x in a.areas],
        "send_at": a.send_at.isoformat() if a.send_at else None,
        "expires_at": a.expires_at.isoformat() if a.expires_at else None,
        "recording_id": a.recording_id, "audio_id": a.audio_id, "sms_text": a.sms_text,
        "created_by": a.created_by.login if a.created_by else None, "created_at": a.created_at.isoformat(),
    }


def _time(value, name):
    if value in (None, ""):
        return None
    try:
        moment = dt.datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        raise service.AnnouncementError(f"{name} must be an ISO 8601 time, e.g. 2026-11-23T08:00:00+07:00") from None
    if moment.tzinfo is None:
        raise service.AnnouncementError(f"{name} needs a time zone, e.g. +07:00")
    return moment


def _areas(db, refs):
    if not isinstance(refs, list) or not refs:
        raise service.AnnouncementError("areas must be a non-empty list of area ids or codes")
    out = []
    for ref in refs:
        column = Area.id if isinstance(ref, int) else Area.code
        found = list(db.scalars(select(Area).where(column == (ref if isinstance(ref, int) else str(ref).upper()))))
        if len(found) != 1:
            raise service.AnnouncementError(f"area '{ref}' is unknown" if not found else
                                            f"area code '{ref}' is ambiguous; use its id")
        out.append(found[0])
    return out


def _visible(db, announcement_id):
    a = db.get(Announcement, announcement_id)
    if a is None or not any(may_act_on(db, g.official, x.id) for x in a.areas):
        return None
    return a


@bp.post("")
@token_required(roles=("admin", "leader"))
def create():
    """Body: title, body, areas, audiences, channels, priority, category, send_at, expires_at, recording_id."""
    db = get_db()
    data = request.get_json(silent=True)
    if not isinstance(data, dict):
        return api_error(400, "send a JSON object")
    try:
        recording = None
        if data.get("recording_id") is not None:
            recording = db.get(AudioAsset, data["recording_id"])
            if recording is None:
                raise service.AnnouncementError("recording_id is unknown")
        announcement = service.create(
            db, official=g.official, title=data.get("title"), body=data.get("body"), areas=_areas(db, data.get("areas")),
            audiences=data.get("audiences") or ["everyone"], channels=data.get("channels") or ["sms", "hotline"],
            priority=data.get("priority") or "normal", category=data.get("category") or "general",
            send_at=_time(data.get("send_at"), "send_at"), expires_at=_time(data.get("expires_at"), "expires_at"),
            recording=recording)
    except service.AnnouncementError as exc:
        db.rollback()
        return api_error(400, str(exc))
    db.commit()
    return announcement_json(announcement), 201


@bp.get("")
@token_required(roles=("admin", "leader"))
def list_announcements():
    db = get_db()
    query = select(Announcement).order_by(Announcement.id.desc()).limit(200)
    scope = area_scope(db, g.official)
    if scope is not None:
        query = query.where(Announcement.id.in_(
            select(announcement_areas.c.announcement_id).where(announcement_areas.c.area_id.in_(scope))))
    if request.args.get("status"):
        query = query.where(Announcement.status == request.args["status"])
    return {"announcements": [announcement_json(a) for a in db.scalars(query)]}


@bp.get("/<int:announcement_id>")
@token_required(roles=("admin", "leader"))
def get_announcement(announcement_id):
    db = get_db()
    a = _visible(db, announcement_id)
    if a is None:
        return api_error(404, "no such announcement in your areas")
    return announcement_json(a) | {"progress": coverage.progress(db, a)}


@bp.post("/<int:announcement_id>/cancel")
@token_required(roles=("admin", "leader"))
def cancel(announcement_id):
    db = get_db()
    a = _visible(db, announcement_id)
    if a is None:
        return api_error(404, "no such announcement in your areas")
    try:
        service.cancel(db, a)
    except service.AnnouncementError as exc:
        db.rollback()
        return api_error(409, str(exc))
    db.commit()
    return announcement_json(a)


@bp.get("/<int:announcement_id>/coverage")
@token_required(roles=("admin", "leader"))
def get_coverage(announcement_id):
    """Coverage per area and audience; `?format=csv` for a spreadsheet."""
    db = get_db()
    a = _visible(db, announcement_id)
    if a is None:
        return api_error(404, "no such announcement in your areas")
    rows = coverage.by_area_and_audience(db, a)
    if request.args.get("format") == "csv":
        return Response(coverage.to_csv(rows), mimetype="text/csv",
                        headers={"Content-Disposition": f"attachment; filename=coverage-{a.id}.csv"})
    return {"announcement_id": a.id, "rows": rows, "failures": coverage.failure_reasons(db, a)}


def init_app(app):
    app.register_blueprint(bp)
