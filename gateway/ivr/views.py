"""The hotline and call webhooks: TwiML answered from the database, state in the action URLs.

Every endpoint checks X-Twilio-Signature. A call's state (area, step, tries) travels in the
query string of the next action URL, never in a server session, so any web process can answer
any step. Silence or a wrong key repeats a menu once; after that the call carries on with a
default: the main menu says goodbye and hangs up (the caller has heard the news already), the
category menu files the report as "other" (the caller asked to report), the area picker and the
confirmation say goodbye.
"""
import logging
from urllib.parse import urlencode

from flask import Blueprint, Response, current_app, request
from sqlalchemy import or_, select
from twilio.twiml.voice_response import VoiceResponse

from gateway.broadcast.current import current_announcements
from gateway.db import get_db
from gateway.ivr import calls, prompts
from gateway.ivr.providers.twilio import CALL_STATUSES
from gateway.media.assets import asset_url, request_announcement_audio
from gateway.models import REPORT_CATEGORIES, Area, AudioAsset, Delivery, Report, Resident, utcnow
from gateway.parse import whole
from gateway.phone import PhoneError, normalize
from gateway.recordings import queue_voice_report
from gateway.reports import next_number, open_report
from gateway.twilio_auth import twilio_signed, url_for_provider

log = logging.getLogger(__name__)
bp = Blueprint("ivr", __name__, url_prefix="/ivr")

# Keypad → report category (models.REPORT_CATEGORIES, in the order the prompt reads them).
CATEGORY_KEYS = {str(i): c for i, c in enumerate(REPORT_CATEGORIES, start=1)}
MENU_TIMEOUT = 6  # seconds of silence before a menu counts as unanswered
DIAL_TIMEOUT = 30
MISSED = ("canceled", "no-answer", "busy")


# --- helpers -------------------------------------------------------------------------------

def _url(path, **params):
    return url_for_provider(path + ("?" + urlencode(params) if params else ""))


def _twiml(resp):
    return Response(str(resp), mimetype="text/xml")


def _ack():
    """200 with an empty <Response/>: what a status callback gets, known call or not."""
    return _twiml(VoiceResponse())


def _int_arg(name):
    return whole(request.args.get(name))


def _tries():
    return max(0, _int_arg("tries") or 0)


def _say(verb, db, keys, *, commune=None, texts=None):
    """Add the prompts `keys` to `verb` (a response or a Gather): <Play> when rendered, else <Say>."""
    for kind, value in prompts.resolve(db, keys, commune=commune, texts=texts).items:
        if kind == "play":
            verb.play(value)
        else:
            verb.say(value, language="vi-VN", voice=current_app.config.get("IVR_SAY_VOICE") or None)


def _caller(db):
    """(E.164 or None, Resident or None) for the calling number (From, or To on an outbound call)."""
    raw = request.form.get("From", "")
    if request.form.get("Direction", "").startswith("outbound"):
        raw = request.form.get("To", "")
    try:
        phone = normalize(raw)
    except PhoneError:
        return None, None
    return phone, db.scalar(select(Resident).where(Resident.phone == phone))


def _area(db):
    area = db.get(Area, _int_arg("area")) if _int_arg("area") else None
    return area


def _commune_for(db, called):
    """The commune whose hotline is `called`, else the first commune."""
    try:
        number = normalize(called)
    except PhoneError:
        number = None
    communes = select(Area).where(Area.level == "commune").order_by(Area.id)
    if number:
        found = db.scalar(communes.where(Area.hotline_number == number))
        if found is not None:
            return found
    return db.scalar(communes)


def _goodbye(resp, db, commune, lead=()):
    _say(resp, db, [*lead, "goodbye"], commune=commune)
    resp.hangup()
    return resp


def _menu(resp, db, area, tries=0, lead=()):
    """The main menu: one key, repeated once on silence (the Redirect) or a wrong key."""
    commune = area.commune()
    action = _url("/ivr/menu", area=area.id, tries=tries)
    gather = resp.gather(num_digits=1, action=action, method="POST", timeout=MENU_TIMEOUT)
    _say(gather, db, [*lead, "menu"], commune=commune)
    resp.redirect(action, method="POST")  # no key pressed: Twilio falls through to here
    return resp


def _news(resp, db, area, lead=(), *, menu=True):
    """Greeting (`lead`), then the area's current announcements, with no key pressed, then the menu."""
    commune = area.commune()
    playable = []
    announcements = current_announcements(db, area)
    # One query for their audio, instead of one lazy load each.
    ids = [a.audio_id for a in announcements if a.audio_id]
    if ids:
        list(db.scalars(select(AudioAsset).where(AudioAsset.id.in_(ids))))
    for ann in announcements:
        if ann.audio is not None and ann.audio.status == "ready" and ann.audio.phone_path:
            playable.append(asset_url(ann.audio, "phone"))
        else:
            log.warning("announcement=%s skipped on the hotline: audio not rendered", ann.id)
            request_announcement_audio(db, ann)
    _say(resp, db, [*lead, "news_intro" if playable else "no_news"], commune=commune)
    for url in playable:
        resp.play(url)
    return _menu(resp, db, area) if menu else _goodbye(resp, db, commune)


def _picker(resp, db, commune, tries=0, lead=()):
    """The commune's neighbourhoods by number ("Khu phố 5, bấm 5"), two digits ended by # allowed."""
    choices = prompts.area_choices(db, commune)
    if not choices:
        log.error("commune=%s has no neighbourhoods to pick on the hotline", commune.id)
        return _goodbye(resp, db, commune)
    key = prompts.area_picker_key(commune)
    action = _url("/ivr/pick", commune=commune.id, tries=tries)
    gather = resp.gather(num_digits=len(str(len(choices))), finish_on_key="#", action=action,
                         method="POST", timeout=MENU_TIMEOUT)
    _say(gather, db, [*lead, "area_ask", key], commune=commune,
         texts={key: prompts.area_picker_text(db, commune)})
    resp.redirect(action, method="POST")
    return resp


def _categories(resp, db, area, tries=0, lead=()):
    action = _url("/ivr/report", area=area.id, tries=tries)
    gather = resp.gather(num_digits=1, action=action, method="POST", timeout=MENU_TIMEOUT)
    _say(gather, db, [*lead, "category_menu"], commune=area.commune())
    resp.redirect(action, method="POST")
    return resp


def _record(resp, db, area, category):
    commune = area.commune()
    _say(resp, db, ["record_instructions"], commune=commune)
    params = {"area": area.id, "category": category}
    resp.record(max_length=int(current_app.config["IVR_RECORD_MAX_SECONDS"]), finish_on_key="#", play_beep=True,
                timeout=10, action=_url("/ivr/record", **params), method="POST",
                recording_status_callback=_url("/ivr/recording", **params),
                recording_status_callback_method="POST", recording_status_callback_event="completed")
    # An empty recording requests no action: the call falls through to here.
    return _menu(resp, db, area, tries=1, lead=["record_empty"])


def _lead(digits):
    return ["wrong_key"] if digits else ["menu_again"]


# --- the hotline ---------------------------------------------------------------------------

@bp.post("/inbound")
@twilio_signed
def inbound():
    """Entry of the hotline: greeting and the caller's news at once, then the menu."""
    db = get_db()
    phone, resident = _caller(db)
    log.info("hotline call=%s known=%s", request.form.get("CallSid"), resident is not None)
    resp = VoiceResponse()
    if current_app.config.get("HOTLINE_MODE") == "callback":
        # Rejected as busy, so the caller pays nothing; we call back.
        calls.schedule_callback(db, request.form.get("From", ""), reason="hotline in callback mode")
        resp.reject(reason="busy")
        return _twiml(resp)
    area = db.get(Area, resident.area_id) if resident is not None and resident.area_id else None
    if area is not None:
        return _twiml(_news(resp, db, area, lead=["greeting"]))
    commune = _commune_for(db, request.form.get("To", ""))
    if commune is None:
        log.error("hotline call=%s but no commune is set up", request.form.get("CallSid"))
        return _twiml(_goodbye(resp, db, None))
    return _twiml(_picker(resp, db, commune, lead=["greeting", "area_unknown_caller"]))


@bp.post("/play")
@twilio_signed
def play():
    """The area's news and the menu again (key 1, or after choosing an area)."""
    db = get_db()
    area = _area(db)
    if area is None:
        return _twiml(_goodbye(VoiceResponse(), db, None))
    return _twiml(_news(VoiceResponse(), db, area))


@bp.post("/menu")
@twilio_signed
def menu():
    """A key from the main menu: 1 replay, 2 report, 3 another area, 0 the duty officer."""
    db = get_db()
    area = _area(db)
    resp = VoiceResponse()
    if area is None:
        return _twiml(_goodbye(resp, db, None))
    digits = request.form.get("Digits", "")
    if digits == "1":
        return _twiml(_news(resp, db, area))
    if digits == "2":
        return _twiml(_categories(resp, db, area))
    if digits == "3":
        return _twiml(_picker(resp, db, area.commune()))
    if digits == "0":
        return _twiml(_duty(resp, db, area))
    if _tries() >= 1:
        return _twiml(_goodbye(resp, db, area.commune()))
    return _twiml(_menu(resp, db, area, tries=_tries() + 1, lead=_lead(digits)))


@bp.post("/pick")
@twilio_signed
def pick():
    """The area a caller chose by keypad."""
    db = get_db()
    commune = db.get(Area, _int_arg("commune")) if _int_arg("commune") else None
    resp = VoiceResponse()
    if commune is None:
        return _twiml(_goodbye(resp, db, None))
    digits = request.form.get("Digits", "").lstrip("0")
    area = prompts.area_choices(db, commune).get(digits)
    if area is not None:
        return _twiml(_news(resp, db, area))
    if _tries() >= 1:
        return _twiml(_goodbye(resp, db, commune))
    return _twiml(_picker(resp, db, commune, tries=_tries() + 1, lead=_lead(request.form.get("Digits", ""))))


def _duty(resp, db, area):
    number = area.inherited("duty_officer_phone") or current_app.config.get("DUTY_OFFICER_PHONE")
    if not number:
        return _menu(resp, db, area, lead=["duty_unavailable"])
    _say(resp, db, ["duty_connecting"], commune=area.commune())
    resp.dial(number, action=_url("/ivr/dialed", area=area.id), method="POST", timeout=DIAL_TIMEOUT)
    return resp


@bp.post("/dialed")
@twilio_signed
def dialed():
    """After the duty officer's line: back to the menu when they did not answer."""
    db = get_db()
    area = _area(db)
    resp = VoiceResponse()
    if area is None or request.form.get("DialCallStatus") == "completed":
        resp.hangup()
        return _twiml(resp)
    return _twiml(_menu(resp, db, area, lead=["duty_no_answer"]))


# --- reports by phone ----------------------------------------------------------------------

@bp.post("/report")
@twilio_signed
def report():
    """The category key, then the recording."""
    db = get_db()
    area = _area(db)
    resp = VoiceResponse()
    if area is None:
        return _twiml(_goodbye(resp, db, None))
    digits = request.form.get("Digits", "")
    category = CATEGORY_KEYS.get(digits)
    if category is None and _tries() < 1:
        return _twiml(_categories(resp, db, area, tries=_tries() + 1, lead=_lead(digits)))
    return _twiml(_record(resp, db, area, category or "other"))


@bp.post("/record")
@twilio_signed
def record():
    """The <Record> action: file the report (once) and read its number back."""
    db = get_db()
    area = _area(db)
    resp = VoiceResponse()
    if area is None:
        return _twiml(_goodbye(resp, db, None))
    if not request.form.get("RecordingUrl"):
        return _twiml(_menu(resp, db, area, tries=1, lead=["record_empty"]))
    report = _voice_report(db, area)
    if request.form.get("Digits") == "hangup":
        return _twiml(resp)  # nobody is listening any more
    _say(resp, db, ["report_number", *prompts.digit_keys(report.number), "report_thanks"], commune=area.commune())
    return _twiml(_goodbye(resp, db, area.commune()))


@bp.post("/recording")
@twilio_signed
def recording():
    """recordingStatusCallback: keeps a recording whose caller hung up before the action ran."""
    db = get_db()
    area = _area(db)
    if area is not None and request.form.get("RecordingStatus") == "completed" and request.form.get("RecordingUrl"):
        _voice_report(db, area)
    return _ack()


def _voice_report(db, area):
    """The report of this recording: created once whichever of the two callbacks comes first."""
    sid = request.form.get("RecordingSid", "")
    url = request.form["RecordingUrl"]
    commune = area.commune()
    db.commit()  # the lock below must be the first statement of its transaction (SQLite)
    # A per-commune counter row serves as a lock until commit, so the action and the status
    # callback arriving together cannot both miss the report and create two.
    next_number(db, commune.id, name="ivr-report-lock")
    same = [Report.recording_url == url] + ([Report.recording_url.like(f"%/{sid}")] if sid else [])
    existing = db.scalar(select(Report).where(Report.channel == "voice", or_(*same)))
    if existing is not None:
        db.commit()
        return existing
    phone, resident = _caller(db)
    category = request.args.get("category")
    report = open_report(db, commune=commune, channel="voice", category=category if category in REPORT_CATEGORIES
                         else "other", area=area, resident=resident, phone=phone)
    report.recording_url = url
    queue_voice_report(db, report)
    db.commit()
    log.info("voice report=%s call=%s recording=%s seconds=%s", report.id, request.form.get("CallSid"), sid,
             request.form.get("RecordingDuration"))
    return report


# --- outbound calls ------------------------------------------------------------------------

def _delivery(db):
    delivery = db.get(Delivery, _int_arg("delivery")) if _int_arg("delivery") else None
    return delivery if delivery is not None and delivery.channel == "voice" else None


def _announcement_audio(resp, db, ann):
    if ann.audio is not None and ann.audio.status == "ready" and ann.audio.phone_path:
        resp.play(asset_url(ann.audio, "phone"))
    else:  # placed after waiting for the render (gateway.ivr.jobs.AUDIO_WAIT)
        resp.say(ann.body, language="vi-VN", voice=current_app.config.get("IVR_SAY_VOICE") or None)


def _confirm(resp, db, delivery, tries=0, lead=()):
    action = _url("/ivr/confirm", delivery=delivery.id, tries=tries)
    gather = resp.gather(num_digits=1, action=action, method="POST", timeout=MENU_TIMEOUT)
    _say(gather, db, [*lead, "confirm"], commune=_commune_of(db, delivery))
    resp.redirect(action, method="POST")
    return resp


def _commune_of(db, delivery):
    area = calls.area_of(db, delivery)
    return area.commune() if area is not None else None


@bp.post("/outbound")
@twilio_signed
def outbound():
    """TwiML of a call we placed: the announcement then "press 1", or the callback's news."""
    db = get_db()
    delivery = _delivery(db)
    resp = VoiceResponse()
    if delivery is None:
        resp.hangup()
        return _twiml(resp)
    answered_by = request.form.get("AnsweredBy", "")
    now = utcnow()
    if answered_by == "fax":
        calls.advance(db, delivery, "failed", error_code="fax", last_error="answered by a fax machine")
        resp.hangup()
        return _twiml(resp)
    machine = answered_by.startswith("machine")
    calls.advance(db, delivery, "answered", delivered_at=now, **({"error_code": "machine"} if machine else {}))
    log.info("outbound answered delivery=%s by=%s", delivery.id, answered_by or "-")
    commune = _commune_of(db, delivery)
    if calls.purpose_of(delivery) == "callback":
        area = calls.area_of(db, delivery) if delivery.area_id else None
        if area is not None:
            # An answering machine records the news; nobody is there for the menu.
            return _twiml(_news(resp, db, area, lead=["callback_greeting"], menu=not machine))
        if commune is None:
            return _twiml(_goodbye(resp, db, None))
        return _twiml(_picker(resp, db, commune, lead=["callback_greeting", "area_unknown_caller"]))
    ann = delivery.announcement
    if ann is None:
        return _twiml(_goodbye(resp, db, commune))
    _announcement_audio(resp, db, ann)
    if machine:
        # Left on the answering machine after its beep; nobody can press 1.
        return _twiml(_goodbye(resp, db, commune))
    return _twiml(_confirm(resp, db, delivery))


@bp.post("/confirm")
@twilio_signed
def confirm():
    """Key 1 after an announcement: the delivery is confirmed; 2 replays it."""
    db = get_db()
    delivery = _delivery(db)
    resp = VoiceResponse()
    if delivery is None:
        resp.hangup()
        return _twiml(resp)
    commune = _commune_of(db, delivery)
    digits = request.form.get("Digits", "")
    if digits == "1":
        calls.advance(db, delivery, "confirmed", confirmed_at=utcnow())
        log.info("outbound confirmed delivery=%s", delivery.id)
        _say(resp, db, ["confirm_thanks"], commune=commune)
        resp.hangup()
        return _twiml(resp)
    if digits == "2" and delivery.announcement is not None:
        _announcement_audio(resp, db, delivery.announcement)
        return _twiml(_confirm(resp, db, delivery, tries=_tries()))
    if _tries() >= 1:
        return _twiml(_goodbye(resp, db, commune))
    return _twiml(_confirm(resp, db, delivery, tries=_tries() + 1, lead=_lead(digits)))


@bp.post("/status")
@twilio_signed
def status():
    """Call progress: updates an outbound call's delivery; a missed inbound call gets a callback."""
    db = get_db()
    call_sid = request.form.get("CallSid", "")
    call_status = request.form.get("CallStatus", "")
    delivery = _delivery(db)
    if delivery is not None and delivery.provider_id not in (None, call_sid):
        log.info("status of an earlier attempt ignored delivery=%s call=%s", delivery.id, call_sid)
        return _ack()
    if delivery is None and call_sid:
        delivery = db.scalar(select(Delivery).where(Delivery.channel == "voice", Delivery.provider_id == call_sid))
    if delivery is None:
        if request.form.get("Direction") == "inbound" and call_status in MISSED:
            calls.schedule_callback(db, request.form.get("From", ""), reason=f"missed call ({call_status})")
        return _ack()
    new = CALL_STATUSES.get(call_status)
    if new is None:
        return _ack()
    fax = request.form.get("AnsweredBy") == "fax" or delivery.error_code == "fax"
    if fax:
        new = "failed"  # a fax line: not a listener, and not worth a retry
    if delivery.provider_id is None:
        delivery.provider_id = call_sid  # the callback came before the job stored the call's id
    values = {}
    if new == "answered" and delivery.delivered_at is None:
        values["delivered_at"] = utcnow()
    if request.form.get("AnsweredBy", "").startswith("machine"):
        values["error_code"] = "machine"
    if new not in ("answered", "sending"):
        values["error_code"] = "fax" if fax else call_status
    moved = calls.advance(db, delivery, new, **values)
    log.info("call status delivery=%s call=%s status=%s moved=%s", delivery.id, call_sid, call_status, moved)
    if moved and new in calls.RETRIABLE and not fax:
        calls.schedule_retry(db, delivery)
    return _ack()
