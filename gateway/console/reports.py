"""The reports inbox: filters, the thread, recordings, and status changes with a note."""
import math

from flask import abort, flash, g, redirect, render_template, request, url_for
from sqlalchemy import func, select

from gateway.auth import area_scope, may_act_on
from gateway.casework import TRANSITIONS, StatusError, change_status
from gateway.console.announcements import area_choices
from gateway.console.base import bp, label, login_required, t
from gateway.db import get_db
from gateway.models import REPORT_CATEGORIES, REPORT_STATUSES, Report
from gateway.text import nfc

PAGE = 25
MAX_NOTE = 600


@bp.get("/reports")
@login_required()
def reports():
    db = get_db()
    query = select(Report)
    scope = area_scope(db, g.official)
    if scope is not None:
        query = query.where(Report.area_id.in_(scope))
    filters = {k: request.args.get(k, "") for k in ("area", "status", "category")}
    if filters["status"] in REPORT_STATUSES:
        query = query.where(Report.status == filters["status"])
    if filters["category"] in REPORT_CATEGORIES:
        query = query.where(Report.category == filters["category"])
    if filters["area"].isdigit():
        area_id = int(filters["area"])
        if not may_act_on(db, g.official, area_id):
            abort(404)
        from gateway.models import Area

        area = db.get(Area, area_id)
        query = query.where(Report.area_id.in_(area.descendant_ids(db) if area else [area_id]))
    total = db.scalar(select(func.count()).select_from(query.subquery()))
    pages = max(math.ceil(total / PAGE), 1)
    page = min(max(request.args.get("page", 1, type=int) or 1, 1), pages)
    rows = list(db.scalars(query.order_by(Report.last_message_at.desc(), Report.id.desc())
                           .limit(PAGE).offset((page - 1) * PAGE)))
    return render_template("console/reports.html", reports=rows, filters=filters, total=total, page=page,
                           pages=pages, statuses=REPORT_STATUSES, categories=REPORT_CATEGORIES,
                           area_choices=area_choices(db, g.official))


def _visible(report_id):
    db = get_db()
    report = db.get(Report, report_id)
    if report is None or not may_act_on(db, g.official, report.area_id or report.commune_id):
        abort(404)
    return report


def _render(report, errors=(), status=200, form=None):
    return render_template("console/report.html", report=report, errors=list(errors), form=form or {},
                           next_statuses=sorted(TRANSITIONS.get(report.status, ()),
                                                key=REPORT_STATUSES.index)), status


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
