"""Areas in the console: browse and search the tree (paginated), add, edit, move, merge, retire,
import (checked per row, then confirmed) and export; each area's settings. Commune admins only."""
import math

from flask import Response, abort, flash, g, redirect, render_template, request, url_for
from sqlalchemy import func, or_, select

from gateway import languages
from gateway.areas import area_key, manage, normal_code, settings as area_settings
from gateway.auth import may_act_on, scope_roots, scoped
from gateway.console.base import bp, login_required, t
from gateway.db import get_db
from gateway.models import AREA_KINDS, KIND_LABELS, Area, AreaAlias, Resident
from gateway.text import nfc

PAGE = 50
# A commune's admins (their commune) and the province's (every commune of it): gateway.auth's scope.
ADMINS = ("province", "admin")
# The kinds offered when adding, in tree order.
KIND_CHOICES = [(kind, KIND_LABELS[kind]) for level in ("province", "commune", "neighbourhood", "team")
                for kind in AREA_KINDS[level]]


def _area_or_404(area_id):
    db = get_db()
    area = db.get(Area, area_id)
    if area is None or not may_act_on(db, g.official, area.id):
        abort(404)  # out of scope looks the same as missing
    return area


def _mine(area):
    """`area` when the official may change it; AreaError otherwise (a parent, a move target, a merged area)."""
    if area is None or not may_act_on(get_db(), g.official, area.id):
        raise manage.AreaError(t("ann.err_area_scope"))
    return area


@bp.get("/areas")
@login_required(roles=ADMINS)
def areas():
    """The areas below `parent` (the top of the tree without one), or those matching `q`."""
    db = get_db()
    q = nfc(request.args.get("q") or "").strip()
    show_retired = request.args.get("retired") == "1"
    parent_arg = request.args.get("parent", "")
    parent = _area_or_404(int(parent_arg)) if parent_arg.isdigit() else None
    if parent_arg and parent is None:
        abort(404)
    query = scoped(db, g.official, select(Area), Area.id)
    if q:
        like = f"%{q}%"
        aliased = select(AreaAlias.area_id).where(AreaAlias.name.ilike(like))
        # Codes and old names also as typed without accents or spaces ("kp 6" finds KP6 and what KP6 became).
        aliased = aliased.union(select(AreaAlias.area_id).where(AreaAlias.key == area_key(q)))
        query = query.where(or_(Area.name.ilike(like), Area.code.ilike(like), Area.code == normal_code(q),
                                Area.id.in_(aliased)))
    else:
        # Without a parent: the top of the official's own tree (their commune, or their province).
        query = query.where(Area.parent_id == parent.id if parent is not None
                            else Area.id.in_([r.id for r in scope_roots(g.official)]))
    if not show_retired:
        query = query.where(Area.retired_at.is_(None))
    total = db.scalar(select(func.count()).select_from(query.subquery()))
    pages = max(math.ceil(total / PAGE), 1)
    page = min(max(request.args.get("page", 1, type=int) or 1, 1), pages)
    rows = list(db.scalars(query.order_by(Area.id).limit(PAGE).offset((page - 1) * PAGE)))
    ids = [a.id for a in rows]
    children = dict(db.execute(select(Area.parent_id, func.count()).where(
        Area.parent_id.in_(ids), Area.retired_at.is_(None)).group_by(Area.parent_id)).all()) if ids else {}
    households = dict(db.execute(select(Resident.area_id, func.count()).where(
        Resident.area_id.in_(ids)).group_by(Resident.area_id)).all()) if ids else {}
    trail = [a for a in reversed(list(parent.ancestors())) if may_act_on(db, g.official, a.id)] if parent else []
    return render_template("console/areas.html", areas=rows, parent=parent, trail=trail, q=q, total=total,
                           page=page, pages=pages, show_retired=show_retired, children=children,
                           households=households, kind_label=manage.kind_label)


def _form():
    f = request.form
    return {"code": f.get("code", "").strip(), "name": nfc(f.get("name", "")).strip(), "kind": f.get("kind", ""),
            "parent": f.get("parent", "").strip(), "hotline": f.get("hotline", "").strip(),
            "aliases": nfc(f.get("aliases", "")).strip()}


def _aliases(text):
    return [a.strip() for a in text.split(";") if a.strip()]


def _render_edit(area, form, errors=(), status=200):
    db = get_db()
    merge_choices, merged = [], []
    if area is not None:
        commune = area.commune()
        if commune is not None and area.active and area.level in ("neighbourhood", "team"):
            merge_choices = [a for a in db.scalars(select(Area).where(
                Area.id.in_(commune.descendant_ids(db)), Area.level == area.level, Area.retired_at.is_(None),
                Area.id != area.id).order_by(Area.id))]
        merged = list(db.scalars(select(Area).where(Area.merged_into_id == area.id).order_by(Area.id)))
    return render_template("console/area_edit.html", area=area, form=form, errors=list(errors),
                           kinds=KIND_CHOICES, merge_choices=merge_choices, merged=merged,
                           kind_label=manage.kind_label), status


@bp.get("/areas/new")
@login_required(roles=ADMINS)
def area_new():
    db = get_db()
    parent_arg = request.args.get("parent", "")
    parent = db.get(Area, int(parent_arg)) if parent_arg.isdigit() else None
    kind = {"province": "xa", "commune": "thon", "neighbourhood": "to"}.get(parent.level, "to") if parent else "xa"
    form = {"code": "", "name": "", "kind": kind, "hotline": "", "aliases": "",
            "parent": manage.qualified_code(db, parent) if parent is not None else ""}
    return _render_edit(None, form)


@bp.post("/areas/new")
@login_required(roles=ADMINS)
def area_create():
    db = get_db()
    form = _form()
    try:
        parent = _mine(manage.resolve(db, form["parent"]) if form["parent"] else None)
        area = manage.add_area(db, code=form["code"], name=form["name"], kind=form["kind"], parent=parent,
                               hotline=form["hotline"] or None, aliases=_aliases(form["aliases"]))
    except ValueError as exc:  # AreaError, PhoneError
        db.rollback()
        return _render_edit(None, form, [str(exc)], 400)
    db.commit()
    flash(t("area.added", name=area.name, code=area.code), "success")
    return redirect(url_for("console.area_edit", area_id=area.id))


def _edit_form(area):
    from gateway.phone import national

    return {"code": area.code, "name": area.name, "kind": area.kind, "aliases": "",
            "hotline": national(area.hotline_number) if area.hotline_number else "",
            "parent": manage.qualified_code(get_db(), area.parent) if area.parent is not None else ""}


@bp.get("/areas/<int:area_id>")
@login_required(roles=ADMINS)
def area_edit(area_id):
    area = _area_or_404(area_id)
    return _render_edit(area, _edit_form(area))


@bp.post("/areas/<int:area_id>")
@login_required(roles=ADMINS)
def area_update(area_id):
    db = get_db()
    area = _area_or_404(area_id)
    if not area.active:
        abort(409, description=t("area.err_retired"))
    form = _form()
    try:
        changed = manage.edit_area(db, area, name=form["name"], code=form["code"], kind=form["kind"],
                                   hotline=form["hotline"], aliases=_aliases(form["aliases"]))
    except ValueError as exc:
        db.rollback()
        return _render_edit(area, form, [str(exc)], 400)
    db.commit()
    flash(t("area.saved", name=area.name) if changed else t("area.unchanged"), "success")
    return redirect(url_for("console.area_edit", area_id=area.id))


def _change(area, change, message):
    """Run a tree change from a form: flash and back to the area, or the edit page with the reason."""
    db = get_db()
    try:
        result = change()
    except manage.AreaError as exc:
        db.rollback()
        return _render_edit(area, _edit_form(area), [str(exc)], 400)
    db.commit()
    flash(message(result), "success")
    return redirect(url_for("console.area_edit", area_id=area.id))


@bp.post("/areas/<int:area_id>/move")
@login_required(roles=ADMINS)
def area_move(area_id):
    db = get_db()
    area = _area_or_404(area_id)
    ref = request.form.get("parent", "").strip()

    def move():
        return manage.move_area(db, area, _mine(manage.resolve(db, ref) if ref else None))

    return _change(area, move, lambda moved: t("area.moved", name=area.name) if moved else t("area.unchanged"))


@bp.post("/areas/<int:area_id>/merge")
@login_required(roles=ADMINS)
def area_merge(area_id):
    """Merge the chosen areas into this one (after the official ticks the confirmation)."""
    db = get_db()
    area = _area_or_404(area_id)
    ids = [int(x) for x in request.form.getlist("sources") if x.isdigit()]
    sources = [a for a in (db.get(Area, i) for i in ids) if a is not None]

    def merge():
        if not sources:
            raise manage.AreaError(t("area.err_merge_none"))
        for source in sources:
            _mine(source)
        if request.form.get("confirm") != "1":
            raise manage.AreaError(t("area.err_confirm"))
        return manage.merge_areas(db, sources, area)

    return _change(area, merge, lambda result: result.summary())


@bp.post("/areas/<int:area_id>/retire")
@login_required(roles=ADMINS)
def area_retire(area_id):
    db = get_db()
    area = _area_or_404(area_id)

    def retire():
        if request.form.get("confirm") != "1":
            raise manage.AreaError(t("area.err_confirm"))
        return manage.retire_area(db, area)

    return _change(area, retire, lambda _: t("area.retired_done", name=area.name))


# Settings ---------------------------------------------------------------------------------

@bp.route("/areas/<int:area_id>/settings", methods=["GET", "POST"])
@login_required(roles=ADMINS)
def area_settings_page(area_id):
    """Hotline numbers, group, duty officer, quiet hours, SMS price and prompt recordings of an area."""
    from gateway.ivr.prompts import catalogue, changed_since_recorded
    from gateway.mirror import MIRROR_TARGETS

    db = get_db()
    area = _area_or_404(area_id)
    values, errors, status = area_settings.current(area), {}, 200
    if request.method == "POST":
        fields = [f for f in area_settings.FIELDS if f not in ("prompt_recordings", "language_prompts")]
        if area.level not in ("province", "commune"):
            fields = [f for f in fields if f not in area_settings.COMMUNE_FIELDS]
        changes = {f: request.form.get(f, "") for f in fields}
        upload_error = None
        if area.level == "commune" and "prompt_key" in request.form:
            changes["prompt_recordings"], changes["language_prompts"], upload_error = _language_prompt_changes(
                db, values)
        try:
            if upload_error:
                raise area_settings.SettingsError({"prompt_recordings": upload_error})
            area_settings.apply(db, area, changes)
        except area_settings.SettingsError as exc:
            db.rollback()
            errors, status = exc.errors, 400
            values = {**values, **{k: v for k, v in changes.items() if k not in ("prompt_recordings", "language_prompts")}}
        else:
            db.commit()
            flash(t("area.settings_saved", name=area.name), "success")
            return redirect(url_for("console.area_settings_page", area_id=area.id))
    prompt_keys = sorted(catalogue(db, area)) if area.level == "commune" else []
    stale = changed_since_recorded(db, area) if area.level == "commune" else {}
    return render_template("console/area_settings.html", area=area, values=values, errors=errors,
                           prompt_keys=prompt_keys, stale_prompts=stale, spoken=languages.of_area(area),
                           labels=area_settings.LABELS, targets=MIRROR_TARGETS.names(),
                           commune_fields=area_settings.COMMUNE_FIELDS,
                           inherited={"quiet_hours": area.inherited("quiet_hours") or "",
                                      "hotline_number": area.inherited("hotline_number") or ""}), status


def _language_prompt_changes(db, values):
    """(Vietnamese prompt recordings, {language: recordings}, error) after this form: ticked ones removed,
    and a recording for the chosen prompt in the chosen language (gateway.languages)."""
    removed = set(request.form.getlist("prompt_remove"))
    own = {k: v for k, v in values["prompt_recordings"].items() if k not in removed}
    per_language = {code: {k: v for k, v in m.items() if f"{code}:{k}" not in removed}
                    for code, m in values["language_prompts"].items()}
    code = request.form.get("prompt_language", languages.VI)
    target = own if code == languages.VI else per_language.setdefault(code, {})
    key, asset_id, error = _new_prompt_recording(db)
    if key and asset_id:
        target[key] = asset_id
    return own, per_language, error


def _new_prompt_recording(db):
    """(prompt key, asset id, error) of the recording this form gives a prompt: uploaded now (MP3, WAV,
    M4A…) or given by its number."""
    from audio.uploads import UploadRejected

    from gateway.media.assets import store_upload

    key, asset_id = request.form.get("prompt_key", "").strip(), request.form.get("prompt_asset", "").strip()
    file = request.files.get("prompt_file")
    if key and file is not None and file.filename:
        try:
            asset_id = str(store_upload(db, file.filename, file.read(), kind="prompt").id)
        except UploadRejected as exc:
            return key, None, exc.message
    return key, asset_id, None


# Import and export ------------------------------------------------------------------------

@bp.route("/areas/import", methods=["GET", "POST"])
@login_required(roles=ADMINS)
def areas_import():
    """Step 1 checks the file (nothing saved, the file kept an hour); step 2 imports it."""
    from gateway.areas.tables import import_areas
    from gateway.console import uploads
    from gateway.residents import ImportFileError

    if request.method == "GET":
        return render_template("console/areas_import.html", report=None, errors=[], form={})
    form = {"skip_bad_rows": request.form.get("skip_bad_rows") == "1"}
    upload = uploads.received("areas-import")
    errors, report = [upload.error] if upload.error else [], None
    if not errors:
        try:
            report = import_areas(get_db(), upload.filename, upload.data, skip_bad_rows=form["skip_bad_rows"],
                                  dry_run=not upload.confirm, official=g.official)
        except ImportFileError as exc:
            errors.append(str(exc))
    if errors:
        return render_template("console/areas_import.html", report=None, errors=errors, form=form), 400
    uploads.keep("areas-import", upload)
    return render_template("console/areas_import.html", report=report, errors=[], form=form, token=upload.token,
                           confirmed=upload.confirm, filename=upload.filename)


@bp.get("/areas/export")
@login_required(roles=ADMINS)
def areas_export():
    from gateway.areas.tables import export_csv, export_xlsx

    db = get_db()
    fmt = "csv" if request.args.get("format") == "csv" else "xlsx"
    export = export_csv if fmt == "csv" else export_xlsx
    # The official's own tree only: one export per root (a commune, or the province).
    roots = scope_roots(g.official)
    if len(roots) != 1:
        abort(404)
    data = export(db, within=roots[0])
    mimetype = "text/csv" if fmt == "csv" else "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    return Response(data, mimetype=mimetype, headers={"Content-Disposition": f"attachment; filename=khu-vuc.{fmt}"})
