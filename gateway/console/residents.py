"""Residents: list and search, edit (phones normalized), opt out and rejoin, import with the
per-row report (checked first, then confirmed), export."""
import math

from flask import Response, abort, flash, g, redirect, render_template, request, url_for
from sqlalchemy import func, or_, select

from gateway import languages
from gateway.auth import area_scope, may_act_on, scope_roots, scoped
from gateway.console.announcements import area_choices, filter_choices
from gateway.console.base import ADMINS, bp, login_required, t
from gateway.db import get_db
from gateway.models import Area, Resident, utcnow
from gateway.parse import whole
from gateway.phone import PhoneError, household, national
from gateway.text import nfc

PAGE = 50
FLAGS = ("is_elderly", "is_poor", "no_smartphone", "prefers_sms", "prefers_voice")


def _scoped(db, query):
    return scoped(db, g.official, query, Resident.area_id)


@bp.get("/residents")
@login_required()
def residents():
    db = get_db()
    query = _scoped(db, select(Resident))
    q = (request.args.get("q") or "").strip()
    if q:
        digits = "".join(ch for ch in q if ch.isdigit())
        conditions = [Resident.name.ilike(f"%{nfc(q)}%")]
        if len(digits) >= 3:
            # Typed as 0912…: match the E.164 digits without the national 0.
            conditions.append(Resident.phone.contains(digits.lstrip("0")))
        query = query.where(or_(*conditions))
    area = request.args.get("area", "")
    if whole(area) is not None and may_act_on(db, g.official, whole(area)):
        node = db.get(Area, whole(area))
        if node is not None:
            query = query.where(Resident.area_id.in_(node.descendant_ids(db)))
    total = db.scalar(select(func.count()).select_from(query.subquery()))
    pages = max(math.ceil(total / PAGE), 1)
    page = min(max(request.args.get("page", 1, type=int) or 1, 1), pages)
    rows = list(db.scalars(query.order_by(Resident.name, Resident.id).limit(PAGE).offset((page - 1) * PAGE)))
    return render_template("console/residents.html", residents=rows, q=q, area=area, total=total, page=page,
                           pages=pages, area_choices=filter_choices(db, g.official), national=national)


def _resident(resident_id):
    db = get_db()
    resident = db.get(Resident, resident_id)
    if resident is None or not may_act_on(db, g.official, resident.area_id):
        abort(404)
    return resident


def _resident_values(resident):
    if resident is None:
        return {"name": "", "phone": "", "area_id": "", "household_code": "", "notes": "", "language": "",
                "is_elderly": False, "is_poor": False, "no_smartphone": False, "prefers_sms": True,
                "prefers_voice": False}
    return {"name": resident.name, "phone": national(resident.phone), "area_id": str(resident.area_id or ""),
            "household_code": resident.household_code or "", "notes": resident.notes or "",
            "language": languages.name_of(resident.language, languages.of_area(resident.area)),
            **{f: getattr(resident, f) for f in FLAGS}}


def _render_edit(resident, values, errors=(), status=200):
    return render_template("console/resident_edit.html", resident=resident, values=values, errors=list(errors),
                           area_choices=area_choices(get_db(), g.official), flags=FLAGS,
                           language_names=[languages.VI_NAME, *languages.KNOWN.values()]), status


@bp.get("/residents/new")
@login_required()
def resident_new():
    return _render_edit(None, _resident_values(None))


@bp.get("/residents/<int:resident_id>")
@login_required()
def resident_edit(resident_id):
    resident = _resident(resident_id)
    return _render_edit(resident, _resident_values(resident))


@bp.post("/residents/new")
@login_required()
def resident_create():
    return _save(None)


@bp.post("/residents/<int:resident_id>")
@login_required()
def resident_update(resident_id):
    return _save(_resident(resident_id))


def _save(resident):
    db = get_db()
    form = request.form
    values = {"name": nfc(form.get("name", "")).strip(), "phone": form.get("phone", "").strip(),
              "area_id": form.get("area_id", ""), "household_code": form.get("household_code", "").strip(),
              "notes": nfc(form.get("notes", "")).strip(), "language": nfc(form.get("language", "")).strip(),
              **{f: form.get(f) == "1" for f in FLAGS}}
    errors = []
    phone = None
    try:
        phone = household(values["phone"])
    except PhoneError as exc:
        errors.append(str(exc))
    if phone:
        other = db.scalar(select(Resident).where(Resident.phone == phone))
        if other is not None and other is not resident:
            # Someone else's household is not named: only that it is on another list.
            errors.append(t("res.err_phone_taken", name=other.name or national(other.phone))
                          if may_act_on(db, g.official, other.area_id) else t("res.err_phone_taken_elsewhere"))
    if len(values["name"]) > 120:
        errors.append(t("res.err_name_long", n=120))
    area_id = whole(values["area_id"])
    if area_id is None or db.get(Area, area_id) is None or not may_act_on(db, g.official, area_id):
        errors.append(t("res.err_area"))
    language = languages.VI
    if not errors:
        try:
            language = languages.parse(values["language"], languages.of_area(db.get(Area, area_id)))
        except ValueError as exc:
            errors.append(str(exc))
    if errors:
        return _render_edit(resident, values, errors, 400)
    if resident is None:
        resident = Resident(phone=phone, consent_source=f"console:{g.official.login}")
        db.add(resident)
    resident.phone = phone
    resident.name = values["name"]
    resident.area_id = area_id
    resident.household_code = values["household_code"] or None
    resident.notes = values["notes"]
    resident.language = language
    for flag in FLAGS:
        setattr(resident, flag, values[flag])
    db.commit()
    flash(t("res.saved", phone=national(phone)), "success")
    return redirect(url_for("console.resident_edit", resident_id=resident.id))


@bp.post("/residents/<int:resident_id>/opt-out")
@login_required()
def resident_opt_out(resident_id):
    db = get_db()
    resident = _resident(resident_id)
    rejoin = request.form.get("rejoin") == "1"
    resident.opted_out_at = None if rejoin else (resident.opted_out_at or utcnow())
    db.commit()
    flash(t("res.rejoined_done" if rejoin else "res.opted_out_done", phone=national(resident.phone)), "success")
    return redirect(url_for("console.resident_edit", resident_id=resident.id))


# Import and export (commune admins: a list may name any neighbourhood) ---------------------

@bp.route("/residents/import", methods=["GET", "POST"])
@login_required(roles=ADMINS)
def residents_import():
    """Step 1 checks the file (nothing saved, the file kept an hour); step 2 imports it."""
    from gateway.console import uploads
    from gateway.residents import ImportFileError, import_residents

    db = get_db()
    if request.method == "GET":
        return render_template("console/residents_import.html", report=None, errors=[], form={},
                               area_choices=area_choices(db, g.official))
    form = {"area_id": request.form.get("area_id", ""), "skip_bad_rows": request.form.get("skip_bad_rows") == "1"}
    upload = uploads.received("import")
    errors = [upload.error] if upload.error else []
    default_area = None
    if whole(form["area_id"]) is not None:
        default_area = db.get(Area, whole(form["area_id"]))
        if default_area is None or not may_act_on(db, g.official, default_area.id):
            errors.append(t("res.err_area"))
    roots = scope_roots(g.official)
    if not roots:
        errors.append(t("res.err_area"))
    report = None
    if not errors:
        try:
            # Rows name areas of the official's commune (or province) only.
            report = import_residents(db, upload.filename, upload.data, skip_bad_rows=form["skip_bad_rows"],
                                      default_area=default_area, dry_run=not upload.confirm,
                                      consent_source=f"import:{upload.filename}",
                                      within=roots[0] if len(roots) == 1 else None)
        except ImportFileError as exc:
            errors.append(str(exc))
    if errors:
        return render_template("console/residents_import.html", report=None, errors=errors, form=form,
                               area_choices=area_choices(db, g.official)), 400
    uploads.keep("import", upload)
    return render_template("console/residents_import.html", report=report, errors=[], form=form, token=upload.token,
                           confirmed=upload.confirm, filename=upload.filename,
                           area_choices=area_choices(db, g.official),
                           summary=import_summary(report, form["skip_bad_rows"]))


def import_summary(report, skip_bad_rows):
    """What the check or the import did, agreeing with the "skip bad rows" choice."""
    counts = {"new": report.count("imported"), "updated": report.count("updated"),
              "unchanged": report.count("unchanged"), "bad": report.count("rejected")}
    if report.committed:
        return t("res.summary_done", **counts) + (" " + t("res.summary_skipped", bad=counts["bad"]) if counts["bad"] else "")
    if counts["bad"] and not skip_bad_rows:
        return t("res.summary_blocked", **counts)
    text = t("res.summary_ready", **counts)
    return text + (" " + t("res.summary_will_skip", bad=counts["bad"]) if counts["bad"] else "")


@bp.get("/residents/export")
@login_required(roles=ADMINS)
def residents_export():
    from gateway.residents import export_csv, export_xlsx

    db = get_db()
    fmt = "csv" if request.args.get("format") == "csv" else "xlsx"
    data = (export_csv if fmt == "csv" else export_xlsx)(db, area_ids=area_scope(db, g.official))
    mimetype = "text/csv" if fmt == "csv" else "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    return Response(data, mimetype=mimetype,
                    headers={"Content-Disposition": f"attachment; filename=ho-dan.{fmt}"})

