"""The officials' JSON API for reports: list, read, change status, reply. Token-authenticated;
each official sees and acts on the reports of their own areas only."""
from flask import Blueprint, g, request
from sqlalchemy import func, select

from gateway.auth import api_error, token_required
from gateway.reports.casework import StatusError, change_status, relay_reply
from gateway.db import get_db
from gateway.models import REPORT_STATUSES, Report
from gateway.parse import int_arg, json_errors, json_object, text_field
from gateway.phone import mask
from gateway.reports.records import visible_query, visible_to
from gateway.text import nfc

ROLES = ("province", "admin", "leader")

bp = Blueprint("report_api", __name__, url_prefix="/api/reports")
json_errors(bp)
MAX_REPLY = 600


def report_json(report, *, events=False):
    """A report as the API shows it to an official of its area."""
    data = {
        "id": report.id, "number": report.number, "status": report.status, "category": report.category,
        "channel": report.channel, "text": report.text, "transcript": report.transcript,
        "area": {"id": report.area.id, "name": report.area.name} if report.area else None,
        "phone": report.phone, "phone_masked": mask(report.phone) if report.phone else None,
        "recording_id": report.recording_id, "created_at": report.created_at.isoformat(),
        "updated_at": report.updated_at.isoformat(), "last_message_at": report.last_message_at.isoformat(),
    }
    if events:
        data["events"] = [{"kind": e.kind, "status": e.status, "text": e.text,
                           "official": e.official.login if e.official else None,
                           "at": e.created_at.isoformat()} for e in report.events]
    return data


def _visible(db, report_id):
    return visible_to(db, g.official, report_id)


@bp.get("")
@token_required(roles=ROLES)
def list_reports():
    """Reports in the official's areas, newest first; filters: status, category, area, limit, offset."""
    db = get_db()
    try:
        query = visible_query(db, g.official, status=request.args.get("status"),
                              category=request.args.get("category"), area_id=request.args.get("area"))
    except ValueError as exc:
        return api_error(400, str(exc))
    limit = min(max(int_arg(request.args, "limit", 50), 1), 500)
    offset = int_arg(request.args, "offset", 0)
    total = db.scalar(select(func.count()).select_from(query.subquery()))
    rows = db.scalars(query.order_by(Report.id.desc()).limit(limit).offset(offset))
    return {"total": total, "reports": [report_json(r) for r in rows]}


@bp.get("/<int:report_id>")
@token_required(roles=ROLES)
def get_report(report_id):
    report = _visible(get_db(), report_id)
    if report is None:
        return api_error(404, "no such report in your areas")
    return report_json(report, events=True)


@bp.post("/<int:report_id>/status")
@token_required(roles=ROLES)
def post_status(report_id):
    """Body {"status": "acknowledged" | "in_progress" | "resolved" | "rejected", "note": "…"}."""
    db = get_db()
    report = _visible(db, report_id)
    if report is None:
        return api_error(404, "no such report in your areas")
    body = json_object(request.get_data())
    note = nfc(text_field(body, "note")).strip()
    if len(note) > MAX_REPLY:
        return api_error(400, f"note is longer than {MAX_REPLY} characters")
    try:
        change_status(db, report, text_field(body, "status"), note=note, official=g.official)
    except StatusError as exc:
        db.rollback()
        return api_error(409 if text_field(body, "status") in REPORT_STATUSES else 400, str(exc))
    db.commit()
    return report_json(report, events=True)


@bp.post("/<int:report_id>/reply")
@token_required(roles=ROLES)
def post_reply(report_id):
    """Body {"text": "…"}; header Idempotency-Key makes a retried request relay once."""
    db = get_db()
    report = _visible(db, report_id)
    if report is None:
        return api_error(404, "no such report in your areas")
    text = nfc(text_field(json_object(request.get_data()), "text")).strip()
    if not text:
        return api_error(400, "text is empty")
    if len(text) > MAX_REPLY:
        return api_error(400, f"text is longer than {MAX_REPLY} characters")
    key = request.headers.get("Idempotency-Key") or f"api:{g.official.id}:{len(report.events)}"
    event = relay_reply(db, report, text, key=f"api:{key}", official=g.official)
    db.commit()
    return report_json(report, events=True) | {"relayed": event is not None}


def init_app(app):
    app.register_blueprint(bp)
