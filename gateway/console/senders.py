"""The commune's SMS senders (admins only): each phone, SIM or SMSC with its health and today's
count against its limits; turning one off moves its waiting messages to the others."""
from flask import abort, flash, g, redirect, render_template, url_for
from sqlalchemy import select

from gateway.auth import area_scope
from gateway.console.base import bp, login_required, t
from gateway.db import get_db
from gateway.models import Sender


def _visible(db):
    query = select(Sender).order_by(Sender.commune_id, Sender.id)
    scope = area_scope(db, g.official)
    if scope is not None:
        query = query.where(Sender.commune_id.in_(scope))
    return query


@bp.get("/senders")
@login_required(roles=("admin",))
def senders():
    """Every sender the admin may see, with today's use and this hour's."""
    from gateway.queue import get_connection
    from gateway.sms.senders import usage

    db = get_db()
    rows = [(s, usage(get_connection(), db, s)) for s in db.scalars(_visible(db))]
    return render_template("console/senders.html", rows=rows)


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
