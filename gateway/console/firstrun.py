"""The first-run page: while no official exists, the console asks for the province (optional),
the commune, its villages and its first admin, instead of a log-in nobody can pass."""
from flask import abort, current_app, flash, redirect, render_template, request, url_for

from gateway.console.base import bp, login_user, t
from gateway.db import get_db
from gateway.models import KIND_LABELS
from gateway.setup import COMMUNE_KINDS, MIN_PASSWORD, SetupError, SetupRequest, first_run, needs_first_run

FIELDS = ("province_name", "province_code", "commune_name", "commune_code", "commune_kind", "hotline",
          "admin_login", "admin_name", "villages")


def _render(values, errors=(), status=200):
    production = current_app.config.get("GATEWAY_ENV") == "production"
    return render_template("console/setup.html", values=values, errors=list(errors), production=production,
                           kinds=[(k, KIND_LABELS[k]) for k in COMMUNE_KINDS], min_password=MIN_PASSWORD), status


@bp.route("/setup", methods=["GET", "POST"])
def first_run_page():
    """Create the commune and its first admin; gone once anyone can log in."""
    db = get_db()
    if not needs_first_run(db):
        abort(404)
    values = {k: request.form.get(k, "") for k in FIELDS}
    values["commune_kind"] = values["commune_kind"] or "xa"
    if request.method == "GET" or current_app.config.get("GATEWAY_ENV") == "production":
        # In production the page only says how: a web form open to whoever comes first is not safe there.
        return _render(values)
    errors = []
    password = request.form.get("password", "")
    if password != request.form.get("password2", ""):
        errors.append(t("setup.err_password_mismatch"))
    req = SetupRequest(commune_name=values["commune_name"], commune_code=values["commune_code"],
                       commune_kind=values["commune_kind"], admin_login=values["admin_login"],
                       admin_password=password, admin_name=values["admin_name"], hotline=values["hotline"],
                       province_name=values["province_name"], province_code=values["province_code"],
                       villages=values["villages"].splitlines())
    if not errors:
        try:
            commune, admin = first_run(db, req)
        except SetupError as exc:
            db.rollback()
            errors.extend(exc.problems)
    if errors:
        return _render(values, errors, 400)
    login_user(admin)
    flash(t("setup.done", commune=commune.name), "success")
    return redirect(url_for("console.dashboard"))
