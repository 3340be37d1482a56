"""The commune's SMS senders (admins only): each phone, SIM or SMSC with its health and today's
count against its limits; turning one off moves its waiting messages to the others."""
from flask import abort, current_app, flash, g, redirect, render_template, request, url_for
from sqlalchemy import select

from gateway.auth import area_scope
from gateway.console.base import bp, login_required, t
from gateway.db import get_db
from gateway.models import Area, Sender

FIELDS = ("commune_id", "name", "provider", "number", "sim_number", "smsc_id", "per_minute", "per_hour", "per_day",
          "SMS_ANDROID_URL", "SMS_ANDROID_USER", "SMS_ANDROID_PASSWORD")


def _visible(db):
    query = select(Sender).order_by(Sender.commune_id, Sender.id)
    scope = area_scope(db, g.official)
    if scope is not None:
        query = query.where(Sender.commune_id.in_(scope))
    return query


@bp.get("/senders")
@login_required(roles=("admin",))
def senders(values=None, errors=None):
    """Every sender the admin may see, with today's use and this hour's; the form to add one."""
    from gateway.queue import get_connection
    from gateway.sms.senders import usage

    db = get_db()
    rows = [(s, usage(get_connection(), db, s)) for s in db.scalars(_visible(db))]
    return render_template("console/senders.html", rows=rows, communes=_communes(db), values=values or {},
                           providers=_providers(), errors=errors or [])


def _communes(db):
    scope = area_scope(db, g.official)
    query = select(Area).where(Area.level == "commune").order_by(Area.name)
    if scope is not None:
        query = query.where(Area.id.in_(scope))
    return list(db.scalars(query))


def _providers():
    from gateway.sms.providers import SMS_PROVIDERS

    return SMS_PROVIDERS.names()


def _whole(text, label):
    text = (text or "").strip()
    if not text:
        return None
    if not text.isdigit() or int(text) < 1:
        raise ValueError(t("snd.err_number", field=label))
    return int(text)


@bp.post("/senders")
@login_required(roles=("admin",))
def add_sender():
    """Add a sender to one of the admin's communes; anything wrong is refused with its reason."""
    from gateway.sms.senders import validate

    db = get_db()
    values = {k: (request.form.get(k) or "").strip() for k in FIELDS}
    commune_id = values["commune_id"]
    commune = db.get(Area, int(commune_id)) if commune_id.isdigit() else None
    if commune is None or commune not in _communes(db):
        return senders(values=values, errors=[t("snd.err_commune")]), 400
    try:
        options = {k: values[k] for k in ("SMS_ANDROID_URL", "SMS_ANDROID_USER", "SMS_ANDROID_PASSWORD")
                   if values[k] and values["provider"] == "android"}
        fields = validate(db, commune=commune, name=values["name"], provider=values["provider"],
                          number=values["number"] or None, sim_number=_whole(values["sim_number"], t("snd.sim")),
                          smsc_id=values["smsc_id"] or None, options=options,
                          per_minute=_whole(values["per_minute"], t("snd.per_minute")),
                          per_hour=_whole(values["per_hour"], t("snd.per_hour")),
                          per_day=_whole(values["per_day"], t("snd.per_day")), config=current_app.config)
    except ValueError as exc:
        return senders(values=values, errors=[str(exc)]), 400
    sender = Sender(**fields)
    db.add(sender)
    db.commit()
    flash(t("snd.added", name=sender.name), "success")
    return redirect(url_for("console.senders"))


def _one(db, sender_id):
    sender = db.scalar(_visible(db).where(Sender.id == sender_id))
    if sender is None:
        abort(404)
    return sender


@bp.post("/senders/<int:sender_id>/disable")
@login_required(roles=("admin",))
def disable_sender(sender_id):
    from gateway.sms.senders import disable

    db = get_db()
    sender = _one(db, sender_id)
    moved = disable(db, sender)
    flash(t("snd.disabled", name=sender.name, moved=moved), "success")
    return redirect(url_for("console.senders"))


@bp.post("/senders/<int:sender_id>/enable")
@login_required(roles=("admin",))
def enable_sender(sender_id):
    from gateway.sms.senders import enable

    db = get_db()
    sender = _one(db, sender_id)
    enable(db, sender)
    flash(t("snd.enabled", name=sender.name), "success")
    return redirect(url_for("console.senders"))
