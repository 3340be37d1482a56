"""The reports inbox: filters, the thread, recordings, and status changes with a note."""
import math

from flask import abort, flash, g, redirect, render_template, request, url_for
from sqlalchemy import func, select

from gateway.auth import may_act_on
from gateway.reports.casework import TRANSITIONS, StatusError, change_status
from gateway.console.announcements import filter_choices
from gateway.console.base import bp, label, login_required, t
from gateway.db import get_db
from gateway.categories import CODES as REPORT_CATEGORIES
from gateway.models import (
    REPORT_STATUSES, Delivery, GroupPost, InboundMessage, Report, Resident,
)
from gateway.parse import whole
from gateway.reports.records import visible_query, visible_to
from gateway.text import nfc

PAGE = 25
MAX_NOTE = 600


@bp.get("/reports")
@login_required()
def reports():
    db = get_db()
    filters = {k: request.args.get(k, "") for k in ("area", "status", "category")}
    if whole(filters["area"]) is not None and not may_act_on(db, g.official, whole(filters["area"])):
        abort(404)
    # A filter that is not one of the choices (an edited URL) is ignored, not an error page.
    query = visible_query(db, g.official, status=filters["status"] if filters["status"] in REPORT_STATUSES else None,
                          category=filters["category"] if filters["category"] in REPORT_CATEGORIES else None,
                          area_id=whole(filters["area"]))
    total = db.scalar(select(func.count()).select_from(query.subquery()))
    pages = max(math.ceil(total / PAGE), 1)
    page = min(max(request.args.get("page", 1, type=int) or 1, 1), pages)
    rows = list(db.scalars(query.order_by(Report.last_message_at.desc(), Report.id.desc())
                           .limit(PAGE).offset((page - 1) * PAGE)))
    return render_template("console/reports.html", reports=rows, filters=filters, total=total, page=page,
                           pages=pages, statuses=REPORT_STATUSES, categories=REPORT_CATEGORIES,
                           area_choices=filter_choices(db, g.official), names=resident_names(db, rows),
                           length=recording_length)


def resident_names(db, reports):
    """{report id: the household's name on the list} for reports whose phone is on it."""
    phones = {r.phone for r in reports if r.phone}
    by_phone = dict(db.execute(select(Resident.phone, Resident.name).where(Resident.phone.in_(phones))).all()) if phones else {}
    return {r.id: (r.resident.name if r.resident is not None else by_phone.get(r.phone)) or "" for r in reports}


def recording_length(asset):
    """A recording's length as people read it: "0:42"."""
    seconds = round((asset.duration_ms or 0) / 1000) if asset is not None else 0
    return f"{seconds // 60}:{seconds % 60:02d}"


def timeline(db, report):
    """The report's events, every SMS the resident was sent about it (receipt, status notes, replies)
    and every group post, in time order: [(kind, time, row)]."""
    items = [("event", e.created_at, e) for e in report.events]
    sms = list(db.scalars(select(Delivery).where(Delivery.report_id == report.id, Delivery.channel == "sms")))
    items += [("sms", d.created_at, d) for d in sms]
    # Replies given inline in the provider's answer (Twilio's TwiML): no Delivery row carries them.
    queued = {d.idempotency_key for d in sms}
    items += [("reply", m.received_at, m) for m in db.scalars(
        select(InboundMessage).where(InboundMessage.report_id == report.id, InboundMessage.reply.is_not(None),
                                     InboundMessage.reply != ""))
        if f"sms:in:{m.id}:reply" not in queued]
    items += [("post", p.created_at, p) for p in db.scalars(select(GroupPost).where(GroupPost.report_id == report.id))]
    return sorted(items, key=lambda item: (item[1], {"event": 0, "reply": 1, "sms": 1, "post": 2}[item[0]]))


def _visible(report_id):
    report = visible_to(get_db(), g.official, report_id)
    if report is None:
        abort(404)
    return report


def _render(report, errors=(), status=200, form=None):
    db = get_db()
    return render_template("console/report.html", report=report, errors=list(errors), form=form or {},
                           next_statuses=sorted(TRANSITIONS.get(report.status, ()), key=REPORT_STATUSES.index),
                           name=resident_names(db, [report])[report.id], timeline=timeline(db, report),
                           length=recording_length), status


@bp.get("/reports/<int:report_id>")
@login_required()
def report(report_id):
    return _render(_visible(report_id))


@bp.post("/reports/<int:report_id>/status")
@login_required()
def report_status(report_id):
    db = get_db()
    report = _visible(report_id)
    status = request.form.get("status", "")
    note = nfc(request.form.get("note", "")).strip()
    errors = []
    if not status:
        errors.append(t("rep.err_status"))
    elif status not in TRANSITIONS.get(report.status, ()):
        errors.append(t("rep.err_transition", number=report.number, current=label("rstatus", report.status),
                        status=label("rstatus", status)))
    if len(note) > MAX_NOTE:
        errors.append(t("rep.err_note_long", n=MAX_NOTE))
    if not errors:
        try:
            change_status(db, report, status, note=note, official=g.official)
        except StatusError as exc:
            db.rollback()
            errors.append(str(exc))
    if errors:
        return _render(report, errors, 400, form={"status": status, "note": note})
    db.commit()
    flash(t("rep.status_changed", number=report.number), "success")
    return redirect(url_for("console.report", report_id=report.id))
