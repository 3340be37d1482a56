"""The officials' JSON API for announcements: create, schedule, list, cancel, coverage."""
from flask import Blueprint, Response, g, request

from gateway.announcements.current import visible_announcement, visible_announcements
from gateway.auth import (
    api_error, area_scope, may_act_on, may_see_asset, scope_roots, token_required,
)
from gateway.broadcast import coverage, service
from gateway.db import get_db
from gateway.models import Announcement, AudioAsset
from gateway.parse import json_errors, json_value, whole

bp = Blueprint("announcement_api", __name__, url_prefix="/api/announcements")
json_errors(bp)
ROLES = ("province", "admin", "leader")
STATUSES = ("draft", "scheduled", "sending", "sent", "cancelled", "failed")
FIELDS = {"title", "body", "areas", "audiences", "channels", "priority", "category", "send_at", "expires_at",
          "recording_id", "recordings"}


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


def _language_recordings(db, raw):
    """{code: uploaded recording} from the body's "recordings"; service.create checks the rest."""
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        raise service.AnnouncementError("recordings must be an object: language code → recording id")
    out = {}
    for code, asset_id in raw.items():
        asset = db.get(AudioAsset, asset_id) if isinstance(asset_id, int) and not isinstance(asset_id, bool) \
            and whole(asset_id) is not None else None
        if asset is None or not may_see_asset(db, g.official, asset):
            raise service.AnnouncementError(f"recordings.{code} is unknown (upload it to /api/announcements/recordings)")
        out[code] = asset
    return out


@bp.post("")
@token_required(roles=ROLES)
def create():
    """Body: title, body, areas, audiences, channels, priority, category, send_at, expires_at, recording_id,
    recordings ({language code: recording id} in the areas' extra languages, gateway.languages)."""
    db = get_db()
    data = json_value(request.get_data())
    if not isinstance(data, dict):
        return api_error(400, "send a JSON object")
    try:
        unknown = sorted(set(data) - FIELDS)
        if unknown:
            raise service.AnnouncementError(f"unknown field(s): {', '.join(unknown)}; fields are {', '.join(sorted(FIELDS))}")
        recording = None
        if data.get("recording_id") is not None:
            if (isinstance(data["recording_id"], bool) or not isinstance(data["recording_id"], int)
                    or whole(data["recording_id"]) is None):
                raise service.AnnouncementError("recording_id must be the id of an uploaded recording")
            recording = db.get(AudioAsset, data["recording_id"])
            if recording is None or not may_see_asset(db, g.official, recording):
                raise service.AnnouncementError("recording_id is unknown (upload it to /api/announcements/recordings)")
        announcement = service.create(
            db, official=g.official, title=data.get("title"), body=data.get("body"),
            areas=service.resolve_areas(db, data.get("areas")),
            audiences=data.get("audiences") or ["everyone"], channels=data.get("channels") or ["sms", "hotline"],
            priority=data.get("priority") or "normal", category=data.get("category") or "general",
            send_at=service.parse_time(data.get("send_at"), "send_at"),
            expires_at=service.parse_time(data.get("expires_at"), "expires_at"), recording=recording,
            recordings=_language_recordings(db, data.get("recordings")))
    except service.AnnouncementError as exc:
        db.rollback()
        return api_error(400, str(exc))
    db.commit()
    return announcement_json(announcement), 201


@bp.get("")
@token_required(roles=ROLES)
def list_announcements():
    db = get_db()
    query = visible_announcements(db, g.official).limit(200)
    status = request.args.get("status")
    if status:
        if status not in STATUSES:
            return api_error(400, f"status must be one of {', '.join(STATUSES)}")
        query = query.where(Announcement.status == status)
    return {"announcements": [announcement_json(a) for a in db.scalars(query)]}


@bp.get("/<int:announcement_id>")
@token_required(roles=ROLES)
def get_announcement(announcement_id):
    db = get_db()
    a = visible_announcement(db, g.official, announcement_id)
    if a is None:
        return api_error(404, "no such announcement in your areas")
    return announcement_json(a) | {"progress": coverage.progress(db, a, within=area_scope(db, g.official))}


@bp.post("/<int:announcement_id>/cancel")
@token_required(roles=ROLES)
def cancel(announcement_id):
    db = get_db()
    a = visible_announcement(db, g.official, announcement_id)
    if a is None:
        return api_error(404, "no such announcement in your areas")
    if not all(may_act_on(db, g.official, x.id) for x in a.areas):
        return api_error(403, "this announcement also goes to areas outside yours; ask who sent it")
    try:
        service.cancel(db, a)
    except service.AnnouncementError as exc:
        db.rollback()
        return api_error(409, str(exc))
    db.commit()
    return announcement_json(a)


@bp.get("/<int:announcement_id>/coverage")
@token_required(roles=ROLES)
def get_coverage(announcement_id):
    """Coverage per area and audience; `?format=csv` for a spreadsheet."""
    db = get_db()
    a = visible_announcement(db, g.official, announcement_id)
    if a is None:
        return api_error(404, "no such announcement in your areas")
    scope = area_scope(db, g.official)
    rows = coverage.by_area_and_audience(db, a, within=scope)
    if request.args.get("format") == "csv":
        return Response(coverage.to_csv(rows), mimetype="text/csv",
                        headers={"Content-Disposition": f"attachment; filename=coverage-{a.id}.csv"})
    return {"announcement_id": a.id, "rows": rows, "failures": coverage.failure_reasons(db, a, within=scope),
            "languages": coverage.by_language(db, a, within=scope)}


@bp.post("/recordings")
@token_required(roles=ROLES)
def upload_recording():
    """Multipart field `file`: the official's own recording; answers its id for `recording_id`."""
    from audio.uploads import UploadRejected
    from gateway.media.assets import store_upload

    upload = request.files.get("file")
    if upload is None or not upload.filename:
        return api_error(400, "send the recording as multipart form field 'file'")
    db = get_db()
    try:
        asset = store_upload(db, upload.filename, upload.read(), areas=scope_roots(g.official))
    except UploadRejected as exc:
        db.rollback()
        return api_error(400, str(exc))
    return {"id": asset.id, "status": asset.status, "duration_ms": asset.duration_ms,
            "original_name": asset.original_name}, 201


def init_app(app):
    app.register_blueprint(bp)
