"""Composing a broadcast: the form, the live SMS preview, the audio preview, uploads and
microphone recordings, then sending progress and cancelling."""
import datetime as dt
import logging
import re

from flask import abort, current_app, flash, g, redirect, render_template, request, url_for
from sqlalchemy import func, select
from werkzeug.datastructures import MultiDict

from gateway.announcements.current import visible_announcement, visible_announcements
from gateway import languages
from gateway.areas.settings import sms_price
from gateway.auth import area_scope, may_act_on, may_see_asset, scope_roots, scoped
from gateway.broadcast import service
from gateway.console import status
from gateway.console.base import ALL_ROLES, bp, local_time, login_required, parse_local, t
from gateway.db import get_db
from gateway.models import AUDIENCES, CHANNELS, PRIORITIES, Announcement, Area, AudioAsset, Resident, utcnow
from gateway.parse import json_fields, whole
from gateway.sms.encoding import count_segments
from gateway.text import nfc

log = logging.getLogger(__name__)
PAGE = 30


def area_choices(db, official, levels=None):
    """[(area, depth)] in tree order, only the areas the official may act on (of `levels`, when given:
    a filter at province size lists communes and villages, not every team)."""
    query = scoped(db, official, select(Area).where(Area.retired_at.is_(None)).order_by(Area.id), Area.id)
    if levels:
        query = query.where(Area.level.in_(levels))
    areas = list(db.scalars(query))
    ids = {a.id for a in areas}
    children = {}
    for a in areas:
        children.setdefault(a.parent_id if a.parent_id in ids else None, []).append(a)
    out = []

    def walk(parent_id, depth):
        for a in children.get(parent_id, []):
            out.append((a, depth))
            walk(a.id, depth + 1)

    walk(None, 0)
    return out


# Beyond this many areas (a province) the list filters leave out the teams.
FILTER_MAX_AREAS = 200


def filter_choices(db, official):
    """The area filter of the residents and reports lists: every area of a commune; at province
    size the communes and villages only (a team is found through its village)."""
    if len(area_scope(db, official)) > FILTER_MAX_AREAS:
        return area_choices(db, official, levels=("province", "commune", "neighbourhood"))
    return area_choices(db, official)


def area_tree(db, choices):
    """`area_choices` as a tree for the compose picker: [{"area", "households", "children"}], each
    area counting the households of its own teams too (one GROUP BY)."""
    counts = dict(db.execute(select(Resident.area_id, func.count()).where(Resident.opted_out_at.is_(None))
                             .group_by(Resident.area_id)).all())
    roots, stack = [], []
    for area, depth in choices:
        node = {"area": area, "own": counts.get(area.id, 0), "children": []}
        while stack and stack[-1][1] >= depth:
            stack.pop()
        (stack[-1][0]["children"] if stack else roots).append(node)
        stack.append((node, depth))

    def total(node):
        node["households"] = node["own"] + sum(total(child) for child in node["children"])
        return node["households"]

    for node in roots:
        total(node)
    return roots


def compose_languages(db, official, area_ids=()):
    """{code: name} of the extra languages (gateway.languages) of the chosen areas, or of every commune
    the official may act on when none is chosen yet: the recordings compose asks for."""
    if area_ids:
        chosen = [a for a in (db.get(Area, i) for i in area_ids) if a is not None]
    else:
        chosen = list(db.scalars(scoped(db, official, select(Area).where(Area.level == "commune",
                                                                         Area.retired_at.is_(None)), Area.id)))
        chosen = chosen or scope_roots(official)
    out = {}
    for area in chosen:
        out.update({code: name for code, name in languages.of_area(area).items() if code != languages.VI})
    return out


def _language_recordings(form):
    """{code: recording id text} the form carries (hidden inputs recording_<code>, filled by uploads)."""
    return {key[len("recording_"):]: value for key, value in form.items()
            if key.startswith("recording_") and key != "recording_id" and value}


def _form_values(form):
    return {
        "title": form.get("title", ""), "body": form.get("body", ""),
        "areas": [whole(x) for x in form.getlist("areas") if whole(x) is not None],
        "audiences": form.getlist("audiences") or (["everyone"] if not form else []),
        "channels": form.getlist("channels") or ([] if form else ["sms", "hotline"]),
        "priority": form.get("priority", "normal"), "send_at": form.get("send_at", ""),
        "recording_id": form.get("recording_id", ""), "language_recordings": _language_recordings(form),
        "sms_mode": form.get("sms_mode", "full"), "sms_short": form.get("sms_short", ""),
    }


def validate(db, official, values):
    """(errors, cleaned) for the compose form; errors are in the official's language."""
    errors = []
    title, body = nfc(values["title"]).strip(), nfc(values["body"]).strip()
    recording = None
    if values["recording_id"]:
        recording = db.get(AudioAsset, whole(values["recording_id"])) if whole(values["recording_id"]) else None
        if recording is None or recording.kind != "recording" or not may_see_asset(db, official, recording):
            errors.append(t("ann.err_recording"))
            recording = None
    if not title:
        errors.append(t("ann.err_title"))
    elif len(title) > service.MAX_TITLE:
        errors.append(t("ann.err_title_long", n=service.MAX_TITLE))
    if not body and recording is None:
        errors.append(t("ann.err_body"))
    elif len(body) > service.MAX_BODY:
        errors.append(t("ann.err_body_long", n=service.MAX_BODY))
    areas = [db.get(Area, i) for i in values["areas"]]
    if not values["areas"] or None in areas:
        errors.append(t("ann.err_areas"))
    elif not all(may_act_on(db, official, a.id) for a in areas):
        errors.append(t("ann.err_area_scope"))
    spoken = compose_languages(db, official, [a.id for a in areas if a is not None])
    extra = {}
    for code, asset_id in values["language_recordings"].items():
        if code not in spoken:
            continue  # a language of an area no longer chosen
        asset = db.get(AudioAsset, whole(asset_id)) if whole(asset_id) else None
        if asset is None or asset.kind != "recording" or not may_see_asset(db, official, asset):
            errors.append(t("lang.err_recording", name=spoken[code]))
        else:
            extra[code] = asset
    if not values["audiences"] or any(a not in AUDIENCES for a in values["audiences"]):
        errors.append(t("ann.err_audiences"))
    if not values["channels"] or any(c not in CHANNELS for c in values["channels"]):
        errors.append(t("ann.err_channels"))
    if values["priority"] not in PRIORITIES:
        errors.append(t("ann.err_priority"))
    send_at = None
    try:
        send_at = parse_local(values["send_at"])
    except ValueError:
        errors.append(t("ann.err_time"))
    if send_at is not None and send_at < utcnow() - dt.timedelta(minutes=5):
        errors.append(t("ann.err_time_past"))
    sms_text = None
    if not errors and "sms" in values["channels"] and body:
        sms_text, sms_errors = chosen_sms(values, title, body, values["priority"], [a for a in areas if a])
        errors.extend(sms_errors)
    return errors, {"title": title, "body": body, "areas": [a for a in areas if a is not None], "sms_text": sms_text,
                    "audiences": values["audiences"], "channels": values["channels"],
                    "priority": values["priority"], "send_at": send_at, "recording": recording, "recordings": extra}


def _render_form(values, errors=(), status=200):
    db = get_db()
    recording = None
    if whole(values.get("recording_id")) is not None:
        recording = db.get(AudioAsset, whole(values["recording_id"]))
        recording = recording if recording is not None and may_see_asset(db, g.official, recording) else None
    choices = area_choices(db, g.official)
    spoken = compose_languages(db, g.official, values["areas"])
    attached = {}
    for code, asset_id in values["language_recordings"].items():
        asset = db.get(AudioAsset, whole(asset_id)) if whole(asset_id) else None
        if code in spoken and asset is not None and may_see_asset(db, g.official, asset):
            attached[code] = asset
    return render_template("console/compose.html", values=values, errors=list(errors), spoken=spoken,
                           attached=attached, missing=languages.missing(db, set(attached), spoken),
                           area_choices=choices, area_tree=area_tree(db, choices), audiences=AUDIENCES, channels=CHANNELS,
                           priorities=PRIORITIES, recording=recording,
                           price=current_app.config.get("SMS_PRICE_VND")), status


@bp.get("/announcements/new")
@login_required()
def compose():
    return _render_form(_form_values(MultiDict()))


@bp.post("/announcements")
@login_required()
def create_announcement():
    db = get_db()
    values = _form_values(request.form)
    errors, clean = validate(db, g.official, values)
    if errors:
        return _render_form(values, errors, 400)
    from gateway.media.assets import remember_base_url

    sms_text = clean.pop("sms_text")
    remember_base_url()  # group posts link the audio where officials reach the gateway
    try:
        announcement = service.create(db, official=g.official, **clean)
    except service.AnnouncementError as exc:
        db.rollback()
        return _render_form(values, [str(exc)], 400)
    if sms_text:
        announcement.sms_text = sms_text  # what the official chose; the broadcast sends it as it is
    db.commit()
    log.info("console: announcement created id=%s official=%s", announcement.id, g.official.id)
    if announcement.send_at <= utcnow() + dt.timedelta(minutes=1):
        flash(t("ann.sending_now"), "success")
    else:
        flash(t("ann.created_at", time=local_time(announcement.send_at)), "success")
    return redirect(url_for("console.announcement", announcement_id=announcement.id))


@bp.get("/announcements")
@login_required()
def announcements():
    db = get_db()
    page = whole(request.args.get("page"), low=1) or 1
    rows = list(db.scalars(visible_announcements(db, g.official).limit(PAGE + 1).offset((page - 1) * PAGE)))
    return render_template("console/announcements.html", announcements=rows[:PAGE], page=page,
                           more=len(rows) > PAGE, states=status.describe(db, rows[:PAGE]))


def _visible(announcement_id):
    a = visible_announcement(get_db(), g.official, announcement_id)
    if a is None:
        abort(404)
    return a


def may_cancel(db, official, announcement):
    """Only an official whose scope holds every area of the announcement may cancel it."""
    return all(may_act_on(db, official, x.id) for x in announcement.areas)


def progress_json(db, announcement):
    from gateway.broadcast import coverage

    from gateway.auth import area_scope

    progress = coverage.progress(db, announcement, within=area_scope(db, g.official))
    channels = {}
    for channel, counts in progress.items():
        if channel == "total":
            continue
        channels[channel] = [{"status": s, "label": t(f"delivery.{s}") if s else s, "count": n}
                             for s, n in sorted(counts.items())]
    channels.update(status.channel_rows(db, announcement))  # group posts and the loudspeaker file
    badge, label = status.describe(db, [announcement])[announcement.id]
    return {"id": announcement.id, "status": announcement.status, "badge": badge, "status_label": label,
            "total": progress["total"], "channels": channels, "done": badge in ("sent", "cancelled", "failed"),
            "cancellable": announcement.status in ("draft", "scheduled")}


@bp.get("/announcements/<int:announcement_id>")
@login_required()
def announcement(announcement_id):
    a = _visible(announcement_id)
    spoken = {}
    for area in a.areas:
        spoken.update(languages.of_area(area))
    return render_template("console/announcement.html", a=a, progress=progress_json(get_db(), a),
                           missing=languages.missing(get_db(), a, spoken),
                           sms_parts=count_segments(a.sms_text or "")[1])


@bp.get("/announcements/<int:announcement_id>/progress")
@login_required()
def announcement_progress(announcement_id):
    db = get_db()
    a = _visible(announcement_id)
    db.refresh(a)
    return progress_json(db, a)


@bp.post("/announcements/<int:announcement_id>/cancel")
@login_required()
def cancel_announcement(announcement_id):
    db = get_db()
    a = _visible(announcement_id)
    if not may_cancel(db, g.official, a):
        abort(403)
    try:
        service.cancel(db, a)
    except service.AnnouncementError:
        db.rollback()
        flash(t("status." + a.status), "error")
    else:
        db.commit()
        flash(t("ann.cancelled"), "success")
    return redirect(url_for("console.announcement", announcement_id=a.id))


# The live preview and audio (fetched by the compose page's script) -------------------------

@bp.post("/announcements/preview")
@login_required()
def preview():
    """The SMS exactly as residents will get it (or the choice when it does not fit one), its parts,
    the cost for the chosen recipients, and how long the audio will be."""
    db = get_db()
    data = json_fields(request.get_data())
    title = nfc(str(data.get("title") or "")).strip()
    body = nfc(str(data.get("body") or "")).strip()
    if not title and not body:
        return {"available": True, "text": "", "summary": t("ann.preview_empty"), "cost_text": "", "segments": 0,
                "recipients": 0, "cost": 0, "fits": True, "warnings": [], "audio_text": ""}
    areas = _chosen_areas(db, g.official, data)
    priority = data.get("priority") if data.get("priority") in PRIORITIES else "normal"
    plan = _plan(title, body, priority, areas)
    recipients = sms_recipients(db, areas, data)
    price = _price(areas)

    def cost_text(parts):
        return t("ann.preview_cost", recipients=_number(recipients), segments=parts, price=_number(price),
                 cost=_number(recipients * parts * price))

    fits = plan["needed"] == 1
    mode = "short" if data.get("sms_mode") == "short" and not fits else "full"
    short = _short_choice(data.get("sms_short"), plan)
    text = plan["full"] if mode == "full" else short["text"]
    encoding, segments = count_segments(text)
    seconds = audio_seconds(title, body)
    warnings = []
    if plan["full_parts"] > LONG_SMS_PARTS:
        warnings.append(t("ann.warn_sms_long", parts=plan["full_parts"]))
    if plan["needed"] > plan["full_parts"]:
        warnings.append(t("ann.warn_too_long_for_sms", parts=plan["full_parts"])
                        + (" " + t("ann.warn_sms_lacks", facts=", ".join(plan["full_lost"])) if plan["full_lost"] else ""))
    if seconds > LONG_AUDIO_SECONDS:
        warnings.append(t("ann.warn_audio_long", length=_duration(seconds), limit=_duration(LONG_AUDIO_SECONDS)))
    return {
        "available": True, "text": text, "encoding": encoding, "segments": segments, "chars": len(text), "fits": fits, "mode": mode,
        "recipients": recipients, "cost": recipients * segments * price, "cut": plan["needed"] > plan["full_parts"] or mode == "short",
        "summary": t("ann.preview_segments", segments=segments, chars=len(text)),
        "cost_text": cost_text(segments),
        "full": {"text": plan["full"], "parts": plan["full_parts"], "lost": plan["full_lost"],
                 "label": t("ann.sms_full", parts=plan["full_parts"], cost=cost_text(plan["full_parts"]))},
        "short": {**short, "label": t("ann.sms_short", cost=cost_text(1))},
        "warnings": warnings, "audio_seconds": round(seconds),
        "audio_text": t("ann.audio_estimate", length=_duration(seconds)),
    }


def _price(areas):
    """One SMS segment's price: the chosen commune's own (areas settings), else SMS_PRICE_VND."""
    communes = {a.commune().id: a.commune() for a in areas if a.commune() is not None}
    return sms_price(next(iter(communes.values())) if len(communes) == 1 else None, current_app.config)


LONG_SMS_PARTS = 3  # more parts than this: costly, and some old phones show them out of order
LONG_AUDIO_SECONDS = 120  # longer than this, listeners at a loudspeaker or on a call stop following
SYLLABLE_SECONDS = 0.31  # espeak-ng's Vietnamese voice at its default rate (measured; gTTS is a little faster)


def _hotline(areas):
    """The hotline the SMS ends with, as the broadcast chooses it."""
    return (areas[0].inherited("hotline_number") if areas else None) or current_app.config.get("HOTLINE_NUMBER")


def _plan(title, body, priority, areas):
    from gateway.sms.digest import sms_plan

    return sms_plan(Announcement(title=title, body=body, priority=priority), hotline=_hotline(areas))


def _short_choice(edited, plan):
    """The one-part SMS: the official's edit (as residents will read it) or the proposed shortening,
    with its parts and the facts of the whole text it lacks."""
    from gateway.sms.digest import missing_facts
    from gateway.sms.encoding import to_gsm

    text = " ".join(to_gsm(nfc(str(edited or ""))).split()) or plan["short"]
    return {"text": text, "parts": count_segments(text)[1], "lost": missing_facts(plan["full"], text),
            "edited": bool(str(edited or "").strip())}


def chosen_sms(values, title, body, priority, areas):
    """(the SMS text to store, errors): None when the text fits one SMS (the broadcast writes it)."""
    plan = _plan(title, body, priority, areas)
    if plan["needed"] == 1:
        return None, []
    if values.get("sms_mode") == "short":
        short = _short_choice(values.get("sms_short"), plan)
        if short["parts"] > 1:
            return None, [t("ann.err_sms_short_long", parts=short["parts"])]
        return short["text"], []
    return plan["full"], []


def audio_seconds(title, body):
    """About how long the announcement's audio lasts: intro and text twice (the loudspeaker
    convention), a pause between, a chime before."""
    from audio import verbalize
    from gateway.media.assets import announcement_intro

    spoken = verbalize(" ".join(x for x in (announcement_intro(title, body), body) if x))
    syllables = len(re.findall(r"\w+", spoken))
    return 2 * syllables * SYLLABLE_SECONDS + 2 + 2


def _duration(seconds):
    """95 → "1 phút 35 giây"."""
    minutes, rest = divmod(int(round(seconds)), 60)
    if not minutes:
        return t("ann.seconds", s=rest)
    return t("ann.minutes", m=minutes, s=rest) if rest else t("ann.minutes_only", m=minutes)


def _chosen_areas(db, official, data):
    ids = [whole(x) for x in data.get("areas") or [] if whole(x) is not None]
    return [a for a in (db.get(Area, i) for i in ids) if a is not None and may_act_on(db, official, a.id)]


def sms_recipients(db, areas, data):
    """How many households the chosen areas and audiences reach by SMS (0 without SMS).

    One COUNT (the preview asks on every pause in typing): the broadcast's own recipient query,
    with its SMS rule (gateway.announcements.targeting.channels_for) as a condition."""
    from sqlalchemy import or_

    from gateway.announcements.targeting import recipients_query

    channels = [c for c in data.get("channels") or [] if c in CHANNELS]
    audiences = [a for a in data.get("audiences") or [] if a in AUDIENCES] or ["everyone"]
    if not areas or "sms" not in channels:
        return 0
    draft = Announcement(title="", body="", areas=areas, audiences=audiences, channels=channels)
    with db.no_autoflush:
        query = recipients_query(db, draft).order_by(None)
    if "voice" in channels:
        query = query.where(or_(Resident.prefers_sms.is_(True), Resident.prefers_voice.is_(False)))
    if draft in db:
        db.expunge(draft)
    return db.scalar(select(func.count()).select_from(query.subquery()))


def _number(value):
    """12800 → "12.800" (Vietnamese thousands separator)."""
    return f"{int(round(value)):,}".replace(",", ".")


def asset_json(asset):
    from gateway.ivr.calls import phone_warning
    from gateway.media.assets import asset_url

    ready = asset.status == "ready"
    # The asset's error is for the logs and admins (engine and ffmpeg words, server paths), not this page.
    return {"id": asset.id, "status": asset.status, "kind": asset.kind,
            "url": asset_url(asset, "mp3", external=False) if ready else None,
            "name": asset.original_name, "seconds": round((asset.duration_ms or 0) / 1000, 1),
            "phone_warning": phone_warning(asset),
            "message": t("ann.audio_ready") if ready else t("ann.audio_failed_plain")
            if asset.status == "failed" else t("ann.audio_rendering")}


@bp.post("/audio/speak")
@login_required()
def speak():
    """Queue the spoken rendition of the draft (as the announcement will sound) and return its asset."""
    from gateway.media.assets import announcement_intro, ensure_text_asset

    data = json_fields(request.get_data())
    title = nfc(str(data.get("title") or "")).strip()
    body = nfc(str(data.get("body") or "")).strip()
    if not body:
        return {"error": t("ann.err_body")}, 400
    try:
        asset = ensure_text_asset(get_db(), body, kind="announcement", intro=announcement_intro(title, body),
                                  areas=scope_roots(g.official))
    except ValueError as exc:
        return {"error": str(exc)}, 400
    return asset_json(asset)


def _asset(asset_id):
    """The asset if the official's scope covers it; 404 otherwise (out of scope looks missing)."""
    db = get_db()
    asset = db.get(AudioAsset, asset_id)
    if asset is None or not may_see_asset(db, g.official, asset):
        abort(404)
    return asset


@bp.get("/audio/<int:asset_id>")
@login_required(roles=ALL_ROLES)
def audio_status(asset_id):
    return asset_json(_asset(asset_id))


@bp.get("/audio/<int:asset_id>.<ext>")
@login_required(roles=ALL_ROLES)
def audio_file(asset_id, ext):
    """An asset's file for an official in scope: how recordings (residents' voice reports) are heard."""
    from gateway.media.views import send_asset

    response = send_asset(_asset(asset_id), ext)
    response.headers["Cache-Control"] = "private, no-store"
    return response


@bp.post("/audio/upload")
@login_required()
def upload():
    """Store an uploaded or microphone recording; a file that is not usable gets its reason."""
    from audio.uploads import UploadRejected

    from gateway.media.assets import store_upload

    limit = float(current_app.config.get("UPLOAD_MAX_MB") or 20) * 1024 * 1024
    if request.content_length and request.content_length > limit + 64 * 1024:
        return {"error": t("error.413")}, 413
    file = request.files.get("file")
    if file is None or not file.filename:
        return {"error": t("ann.upload_none")}, 400
    data = file.read()
    try:
        asset = store_upload(get_db(), file.filename, data, kind="recording", areas=scope_roots(g.official))
    except UploadRejected as exc:
        return {"error": exc.message, "code": exc.code}, 400
    return asset_json(asset)
