"""The polls' console pages (routes of the console blueprint): the list, the form with its SMS
preview, a poll's live results (HTML/CSS bars refreshed from a small JSON endpoint) and the
CSV/XLSX export.

Scope as for reports and announcements: a poll is seen by officials whose scope covers one of
its areas (else 404, like a missing one); every count and row is limited to the households in
the official's own scope; a poll can only be created for areas in it (else 403, nothing made)."""
import logging

from flask import Response, abort, flash, g, redirect, render_template, request, url_for
from sqlalchemy import select

from gateway.announcements.targeting import all_areas
from gateway.auth import among, area_scope, covering_ids, may_act_on
from gateway.broadcast.polls import create as create_poll
from gateway.broadcast.service import AnnouncementError
from gateway.console.announcements import area_choices
from gateway.console.base import area_path, bp, local_time, login_required, parse_local, t
from gateway.db import get_db
from gateway.models import AUDIENCES, Area, AudioAsset, Poll, PollAnswer, Resident, poll_areas, utcnow
from gateway.parse import json_fields, whole
from gateway.phone import mask
from gateway.polls import polls
from gateway.polls.results import tally
from gateway.sms.polls import sms_parts, sms_text

log = logging.getLogger(__name__)
PAGE = 30


def visible_polls(db, official):
    """A SELECT of the polls sent to an area the official's scope covers (or the areas above it)."""
    ids = select(poll_areas.c.poll_id).where(among(db, poll_areas.c.area_id, covering_ids(db, official)))
    return select(Poll).where(Poll.id.in_(ids)).order_by(Poll.id.desc())


def _visible(poll_id):
    db = get_db()
    poll = db.get(Poll, poll_id)
    if poll is None or not {a.id for a in poll.areas} & covering_ids(db, g.official):
        abort(404)
    return poll


def _values(form):
    return {"question": form.get("question", ""), "options": form.get("options", ""),
            "title": form.get("title", ""), "body": form.get("body", ""),
            "areas": [whole(x) for x in form.getlist("areas") if whole(x) is not None],
            "audiences": form.getlist("audiences") or (["everyone"] if not form else []),
            "channels": form.getlist("channels") or ([] if form else ["sms", "hotline"]),
            "send_at": form.get("send_at", ""), "closes_at": form.get("closes_at", ""),
            "recording_id": form.get("recording_id", "")}


def _form(values, errors=(), status=200):
    return render_template("console/poll_new.html", values=values, errors=list(errors),
                           area_choices=area_choices(get_db(), g.official), audiences=AUDIENCES,
                           channels=polls.POLL_CHANNELS), status


@bp.get("/polls")
@login_required()
def polls_list():
    db = get_db()
    page = whole(request.args.get("page"), low=1) or 1
    rows = list(db.scalars(visible_polls(db, g.official).limit(PAGE + 1).offset((page - 1) * PAGE)))
    return render_template("console/polls.html", polls=rows[:PAGE], page=page, more=len(rows) > PAGE,
                           now=utcnow())


@bp.get("/polls/new")
@login_required()
def poll_new():
    from werkzeug.datastructures import MultiDict

    return _form(_values(MultiDict()))


@bp.post("/polls")
@login_required()
def poll_create():
    db = get_db()
    values = _values(request.form)
    areas = [db.get(Area, i) for i in values["areas"]]
    if any(a is not None and not may_act_on(db, g.official, a.id) for a in areas):
        abort(403)  # an area outside the official's scope: nothing is created
    errors = []
    try:
        options = polls.parse_options(values["options"])
    except polls.PollError:
        options = None
        errors.append(t("poll.err_options"))
    if not values["question"].strip():
        errors.append(t("poll.err_question"))
    if not values["areas"] or None in areas:
        errors.append(t("ann.err_areas"))
    try:
        send_at, closes_at = parse_local(values["send_at"]), parse_local(values["closes_at"])
    except ValueError:
        send_at = closes_at = None
        errors.append(t("ann.err_time"))
    if closes_at is None and not errors:
        errors.append(t("poll.err_deadline"))
    recording = None
    if whole(values["recording_id"]) is not None:
        recording = db.get(AudioAsset, whole(values["recording_id"]))
        if recording is None:
            errors.append(t("ann.err_recording"))
    if errors:
        return _form(values, errors, 400)
    from gateway.media.assets import remember_base_url

    remember_base_url()
    try:
        poll = create_poll(db, official=g.official, question=values["question"], options=options,
                            areas=areas, closes_at=closes_at, audiences=values["audiences"] or ["everyone"],
                            channels=values["channels"], title=values["title"], body=values["body"],
                            recording=recording, send_at=send_at)
    except (AnnouncementError, polls.PollError) as exc:
        db.rollback()
        return _form(values, [str(exc)], 400)
    db.commit()
    polls.request_prompts(db, poll)
    log.info("console: poll created id=%s official=%s", poll.id, g.official.id)
    flash(t("poll.created", time=local_time(poll.closes_at)), "success")
    return redirect(url_for("console.poll_page", poll_id=poll.id))


@bp.post("/polls/preview")
@login_required()
def poll_preview():
    """The poll's SMS as residents will get it, and its parts (the form asks as the official types)."""
    data = json_fields(request.get_data())
    try:
        options = polls.parse_options(str(data.get("options") or ""))
    except polls.PollError:
        return {"text": "", "parts": 0, "summary": t("poll.err_options")}
    title, body = str(data.get("title") or "").strip(), str(data.get("body") or "").strip()
    text = sms_text(str(data.get("question") or ""), options,
                          lead=f"{title}: {body}" if title and body else body)
    parts = sms_parts(text)
    return {"text": text, "parts": parts, "summary": t("poll.sms_parts", parts=parts, chars=len(text))}


def results_json(db, poll):
    counts = tally(db, poll, within=area_scope(db, g.official))
    counts["audiences"] = [{**row, "audience": t("audience." + ("everyone" if row["audience"] == "all" else
                                                                 row["audience"]))} for row in counts["audiences"]]
    open_now = polls.is_open(poll)
    waiting = poll.status == "open" and utcnow() < poll.opens_at
    state = "poll.open" if open_now else "poll.waiting" if waiting else "poll.closed"
    return {"id": poll.id, "open": open_now, "done": not (open_now or waiting), "state": t(state), **counts}


@bp.get("/polls/<int:poll_id>")
@login_required()
def poll_page(poll_id):
    db = get_db()
    poll = _visible(poll_id)
    return render_template("console/poll.html", poll=poll, results=results_json(db, poll),
                           sms_parts=sms_parts(poll.announcement.sms_text or "") if poll.announcement else 0)


@bp.get("/polls/<int:poll_id>/results")
@login_required()
def poll_results(poll_id):
    db = get_db()
    return results_json(db, _visible(poll_id))


@bp.get("/polls/<int:poll_id>/export.<ext>")
@login_required()
def poll_export(poll_id, ext):
    from gateway.residents import rows_csv, rows_xlsx

    db = get_db()
    poll = _visible(poll_id)
    rows = export_rows(db, poll, within=area_scope(db, g.official))
    if ext == "csv":
        body, mimetype = rows_csv(rows), "text/csv; charset=utf-8"
    elif ext == "xlsx":
        body, mimetype = rows_xlsx(rows, title="Ý kiến"), \
            "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    else:
        abort(404)
    log.info("console: poll export id=%s official=%s rows=%s", poll.id, g.official.id, len(rows) - 1)
    return Response(body, mimetype=mimetype,
                    headers={"Content-Disposition": f'attachment; filename="hoi-y-kien-{poll.id}.{ext}"'})


EXPORT_COLUMNS = ("Khu vực", "Hộ", "Số điện thoại", "Người cao tuổi", "Hộ nghèo", "Không có điện thoại thông minh",
                  "Trả lời (số)", "Trả lời", "Cách trả lời", "Lúc", "Số lần đổi")
CHANNEL_NAMES = {"sms": "Tin nhắn", "call": "Cuộc gọi", "hotline": "Tổng đài"}


def export_rows(session, poll, within=None):
    """The header and one row per household's answer (phone masked), in the official's scope."""
    areas = all_areas(session)
    query = select(PollAnswer, Resident).join(Resident, Resident.id == PollAnswer.resident_id).where(
        PollAnswer.poll_id == poll.id).order_by(PollAnswer.area_id, PollAnswer.id)
    if within is not None:
        query = query.where(among(session, PollAnswer.area_id, within))
    rows = [list(EXPORT_COLUMNS)]
    for answer, resident in session.execute(query):
        area = areas.get(answer.area_id)
        rows.append([area_path(area) if area is not None else "", resident.name, mask(resident.phone),
                     "x" if resident.is_elderly else "", "x" if resident.is_poor else "",
                     "x" if resident.no_smartphone else "", answer.choice, poll.options[answer.choice - 1]["label"],
                     CHANNEL_NAMES.get(answer.channel, answer.channel), local_time(answer.updated_at),
                     answer.changes])
    return rows
