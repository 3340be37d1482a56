"""The hotline's call flow, written once for every voice provider: a call event in, a script out.

No Flask and no provider library here. A dialect (gateway/ivr/dialects/) parses the provider's
request into an `Event`, `run()` answers it with a list of neutral steps, and the dialect renders
them (TwiML, SCCO JSON). What the flow needs from outside (prompt audio, URLs of announcements'
audio, the settings) comes in a `Context`. A call's state (area, tries, delivery…) travels in
`Event.state`, the query string of the step URL, so any web process can answer any step.

Steps that wait for the caller (Gather, Record) or leave the flow (Dial, Hangup, Reject) end a
script. A Gather's or a Record's `next` step is asked again when nothing came (silence, an empty
recording): `Event.digits` is then empty. Silence or a wrong key repeats a menu once; after that
the call carries on with a default: the main menu says goodbye (the caller has heard the news),
the category menu files the report as "other", the area picker and the confirmation say goodbye.

Languages (gateway.languages): a call is heard in one language, `Context.language`. A known
caller's is their household's; an unknown caller to a commune with extra languages chooses it
first (step "language"); an outbound call uses the household's. It travels in the state as
`lang` (added to every next step by `run`), and prompts and announcements are played in it,
falling back to Vietnamese where there is no recording.
"""
import dataclasses
import functools
import logging
import re
from dataclasses import dataclass, field

from sqlalchemy import bindparam, or_, select

from gateway import categories as report_categories, languages
from gateway.announcements.cache import version_column
from gateway.announcements.current import current_announcements, current_until
from gateway.ivr import calls, prompts
from gateway.models import Area, AudioAsset, Delivery, Report, Resident, utcnow
from gateway.parse import whole
from gateway.phone import PhoneError, hotline, normalize
from gateway.polls import answers as poll_answers, polls as poll_service, voice as poll_voice
from gateway.reports.records import next_number, open_report

log = logging.getLogger(__name__)

MENU_TIMEOUT = 6  # seconds of silence before a menu counts as unanswered
PICK_TIMEOUT = 5  # an unknown caller who keys nothing this long hears the list of areas
DIAL_TIMEOUT = 30
RECORD_SILENCE = 10


# --- the neutral steps --------------------------------------------------------------------

@dataclass(frozen=True)
class Next:
    """The flow step asked next, with the state it carries (becomes a URL in the dialect)."""

    step: str
    params: tuple = ()

    @classmethod
    def to(cls, step, **params):
        return cls(step, tuple((k, str(v)) for k, v in params.items() if v is not None))


@dataclass(frozen=True)
class Play:
    url: str
    name: str = ""  # what is heard (a prompt key, "ann:<id>"): for logs and the simulator


@dataclass(frozen=True)
class Say:
    text: str
    name: str = ""


@dataclass(frozen=True)
class Gather:
    """Keys from the caller while `prompts` play (a key interrupts them); then `next` with the keys."""

    next: Next
    prompts: tuple = ()
    digits: int = 1
    finish_on_key: str = ""
    timeout: int = MENU_TIMEOUT


@dataclass(frozen=True)
class Record:
    """A voice message after a beep, ended by `#` or silence; then `next` with the recording."""

    next: Next
    callback: Next | None = None  # told when the recording is stored (a caller may hang up first)
    max_seconds: int = 120
    silence: int = RECORD_SILENCE


@dataclass(frozen=True)
class Dial:
    number: str
    next: Next
    timeout: int = DIAL_TIMEOUT


@dataclass(frozen=True)
class Hangup:
    pass


@dataclass(frozen=True)
class Reject:
    reason: str = "busy"


SPOKEN = (Play, Say)
FINAL = (Gather, Record, Dial, Hangup, Reject)


@dataclass
class Event:
    """One provider request, in the flow's terms."""

    step: str
    state: dict = field(default_factory=dict)
    caller: str = ""  # the resident's side: From on an inbound call, To on one we placed
    called: str = ""  # our side
    call_id: str = ""
    outbound: bool = False
    digits: str = ""
    recording_url: str = ""
    recording_id: str = ""
    recording_seconds: str = ""
    hung_up: bool = False  # the caller hung up while recording
    answered_by: str = ""  # "", human, machine, fax (dialects map their own values to these)
    status: str | None = None  # a delivery status (calls.RANK), mapped by the dialect
    raw_status: str = ""
    missed: bool = False  # an inbound call that nobody answered
    dial_answered: bool = False

    def int_arg(self, name):
        """The state's `name` as an integer, or None."""
        return whole(self.state.get(name))  # "²" and 20 digits are no id: None, not a database error

    @property
    def tries(self):
        return max(0, self.int_arg("tries") or 0)


@dataclass
class Context:
    """What the flow needs from the web process: the session, the settings, prompt audio."""

    db: object
    config: dict
    # (keys, commune, texts) → [Play|Say]: ready audio for prompt keys, text until rendered.
    resolve: object
    # asset → the URL of its phone rendition.
    audio_url: object
    # announcement → queue the rendering of its audio.
    request_audio: object
    # gateway.announcements.cache.AreaCache of this process (None: nothing kept between calls).
    cache: object = None
    # The language the call is heard in (gateway.languages); Vietnamese unless the call chose another.
    language: str = languages.VI


# --- helpers ------------------------------------------------------------------------------

def _say(ctx, keys, commune, texts=None, language=None):
    """The prompts `keys` as Play (ready audio) or Say steps in the call's language, with the commune's own texts."""
    keys = list(keys)
    texts = {**prompts.commune_texts(ctx.db, commune, keys), **(texts or {})}
    return list(ctx.resolve(keys, commune, texts, language or ctx.language))


@functools.cache
def _caller_query():
    return select(Resident, version_column()).where(Resident.phone == bindparam("phone"))


def _caller(ctx, event):
    """(phone, resident, policy version): the version comes in the same statement."""
    try:
        phone = normalize(event.caller)
    except PhoneError:
        return None, None, None
    row = ctx.db.execute(_caller_query(), {"phone": phone}).first()
    return (phone, *row) if row is not None else (phone, None, None)


def _area(ctx, event):
    area_id = event.int_arg("area")
    return ctx.db.get(Area, area_id) if area_id else None


def commune_for(db, called):
    """The commune whose hotline is `called`, else the first commune."""
    try:
        number = hotline(called)  # 1800/1900 service numbers too
    except PhoneError:
        number = None
    communes = select(Area).where(Area.level == "commune").order_by(Area.id)
    if number:
        found = db.scalar(communes.where(Area.hotline_number == number))
        if found is not None:
            return found
    return db.scalar(communes)


def _lead(event):
    return ["wrong_key"] if event.digits else ["menu_again"]


def goodbye(ctx, commune, lead=()):
    return [*_say(ctx, [*lead, "goodbye"], commune), Hangup()]


def menu(ctx, area, tries=0, lead=(), before=()):
    """The main menu: one key; silence or a wrong key repeats it once. `before` plays inside it too."""
    commune = area.commune()
    return [Gather(Next.to("menu", area=area.id, tries=tries),
                   prompts=(*before, *_say(ctx, [*lead, "menu"], commune)), digits=1)]


def _playable(ctx, announcement):
    """Whether the announcement's audio in the call's language (or its Vietnamese) can be played."""
    audio = _heard(ctx, announcement)
    return audio is not None and audio.status == "ready" and bool(audio.phone_path)


def _with_audio(ctx, announcements):
    ids = [a.audio_id for a in announcements if a.audio_id]
    if ids:  # one query for their audio, instead of one lazy load each
        list(ctx.db.scalars(select(AudioAsset).where(AudioAsset.id.in_(ids))))
    return announcements


def news_items(ctx, area, announcements=None):
    """The area's current announcements as heard on the phone (rendered ones; the rest are queued)."""
    if announcements is None:
        announcements = _with_audio(ctx, current_announcements(ctx.db, area))
    items = []
    for ann in announcements:
        if _playable(ctx, ann):
            items.append(Play(ctx.audio_url(_heard(ctx, ann)), name=f"ann:{ann.id}"))
        else:
            log.warning("announcement=%s skipped on the hotline: audio not rendered", ann.id)
            ctx.request_audio(ann)
    return items


def news(ctx, area, lead=(), *, listener=True, announcements=None, resident=None):
    """Greeting (`lead`) and the area's news inside the menu's Gather: any key goes to the menu.

    With nobody to press keys (an answering machine), the news and goodbye. A known caller
    (`resident`) is asked the open polls for their household after the news."""
    commune = area.commune()
    items = news_items(ctx, area, announcements)
    heard = [*_say(ctx, [*lead, "news_intro" if items else "no_news"], commune), *items]
    if not listener:
        return [*heard, *goodbye(ctx, commune)]
    if resident is not None:
        return hotline_polls(ctx, area, resident, before=heard)
    return menu(ctx, area, before=heard)


def picker(ctx, commune, tries=0, lead=(), listed=False):
    """An unknown caller keys their neighbourhood's number and `#`; the list is read after a silence."""
    choices = prompts.area_choices(ctx.db, commune)
    if not choices:
        log.error("commune=%s has no neighbourhoods to pick on the hotline", commune.id)
        return goodbye(ctx, commune)
    keys = [*lead, "area_ask"]
    if listed:
        keys.append(prompts.area_picker_key(commune))
    return [Gather(Next.to("pick", commune=commune.id, tries=tries, listed=1 if listed else None),
                   prompts=tuple(_say(ctx, keys, commune)), digits=len(str(len(choices))), finish_on_key="#",
                   timeout=PICK_TIMEOUT if not listed else MENU_TIMEOUT)]


def categories(ctx, area, tries=0, lead=()):
    return [Gather(Next.to("report", area=area.id, tries=tries),
                   prompts=tuple(_say(ctx, [*lead, "category_menu"], area.commune())))]


def record(ctx, area, category, lead=()):
    commune = area.commune()
    params = {"area": area.id, "category": category}
    return [*_say(ctx, [*lead, "record_instructions"], commune),
            Record(Next.to("record", **params), callback=Next.to("recording", **params),
                   max_seconds=int(ctx.config.get("IVR_RECORD_MAX_SECONDS") or 120))]


def duty(ctx, area):
    number = area.inherited("duty_officer_phone") or ctx.config.get("DUTY_OFFICER_PHONE")
    if not number:
        return menu(ctx, area, lead=["duty_unavailable"])
    return [*_say(ctx, ["duty_connecting"], area.commune()), Dial(number, Next.to("dialed", area=area.id))]


# --- the hotline --------------------------------------------------------------------------

def inbound(ctx, event):
    """Entry of the hotline: a short greeting naming the commune and the caller's news at once."""
    db = ctx.db
    phone, resident, version = _caller(ctx, event)
    log.info("hotline call=%s known=%s", event.call_id, resident is not None)
    if ctx.config.get("HOTLINE_MODE") == "callback":
        # Rejected as busy, so the caller pays nothing; we call back.
        calls.schedule_callback(db, event.caller, reason="hotline in callback mode")
        return [Reject("busy")]
    if resident is not None and resident.area_id:
        ctx.language = _household_language(ctx, resident)
        return entry(ctx, resident.area_id, version, resident=resident)
    commune = commune_for(db, event.called)
    if commune is None:
        log.error("hotline call=%s but no commune is set up", event.call_id)
        return goodbye(ctx, None)
    if len(languages.of_area(commune)) > 1:
        return language_choice(ctx, commune, lead=["greeting"])
    return picker(ctx, commune, lead=["greeting", "area_unknown_caller"])


def entry(ctx, area_id, version, resident=None):
    """Greeting, the area's news and the menu: the same for every caller of the area, so kept in
    the area cache (per language) while the policy `version` holds and every announcement's audio is ready.
    When the news carry an open poll, a known caller (`resident`) is asked it after them."""
    now, key = utcnow(), ("hotline_entry", area_id, ctx.language)
    cached = ctx.cache.get(key, version, now) if ctx.cache is not None else None
    if cached is not None and not (cached[1] and resident is not None):
        return list(cached[0])
    area = ctx.db.get(Area, area_id)
    announcements = _with_audio(ctx, current_announcements(ctx.db, area, now=now))
    # Polls ride on announcements, so the current ones say whether any is open (and a new poll
    # is a new announcement, which moves the policy version).
    polled = any(poll_service.for_announcement(ctx.db, a, now=now) is not None for a in announcements)
    script = news(ctx, area, lead=["greeting"], announcements=announcements)
    if ctx.cache is not None and all(_playable(ctx, a) for a in announcements):
        ctx.cache.put(key, version, (tuple(script), polled), now=now,
                      until=current_until(ctx.db, area, announcements, now=now))
    if polled and resident is not None:
        return news(ctx, area, lead=["greeting"], announcements=announcements, resident=resident)
    return script


# --- the language of the call -------------------------------------------------------------

def _household_language(ctx, resident):
    """A household's language when its commune still has it, else Vietnamese (most households are
    Vietnamese: they cost no lookup, so the cached hotline entry stays one statement)."""
    code = resident.language if resident is not None else None
    if not code or code == languages.VI or not resident.area_id:
        return languages.VI
    return code if code in languages.of_area(ctx.db.get(Area, resident.area_id)) else languages.VI


def language_choice(ctx, commune, tries=0, lead=()):
    """"Bấm 1 nghe tiếng Việt, bấm 2 …": each line in its own language's recording (Vietnamese text until then)."""
    spoken = languages.of_area(commune)
    lines = [*_say(ctx, lead, commune, language=languages.VI)] if lead else []
    for code in spoken:
        lines.extend(_say(ctx, [languages.choice_prompt_key(code)], commune, texts=languages.choice_texts(spoken),
                          language=code))
    return [Gather(Next.to("language", commune=commune.id, tries=tries), prompts=tuple(lines), digits=1)]


def language_key(ctx, event):
    """The language an unknown caller keyed; a silence or a wrong key repeats the choice once, then Vietnamese."""
    commune = ctx.db.get(Area, event.int_arg("commune")) if event.int_arg("commune") else None
    if commune is None:
        return goodbye(ctx, None)
    code = languages.choice_keys(languages.of_area(commune)).get(event.digits)
    if code is None and event.tries < 1:
        return language_choice(ctx, commune, tries=event.tries + 1, lead=_lead(event))
    ctx.language = code or languages.VI
    return picker(ctx, commune, lead=["area_unknown_caller"])


_LANGUAGE_CODE = re.compile(r"[a-z]{2,3}")


def _carry_language(ctx, steps):
    """The call's language added to the state of every next step (a Gather's, a Record's, a Dial's)."""
    if ctx.language == languages.VI:
        return steps
    extra = (("lang", ctx.language),)

    def carried(nxt):
        return Next(nxt.step, tuple(p for p in nxt.params if p[0] != "lang") + extra) if nxt is not None else None

    out = []
    for step in steps:
        changes = {name: carried(getattr(step, name)) for name in ("next", "callback") if hasattr(step, name)}
        out.append(dataclasses.replace(step, **changes) if changes else step)
    return out


def play(ctx, event):
    """The area's news and the menu again."""
    area = _area(ctx, event)
    return news(ctx, area) if area is not None else goodbye(ctx, None)


def menu_key(ctx, event):
    """A key from the main menu (prompts.MAIN_MENU, whose table the menu prompt is read from)."""
    area = _area(ctx, event)
    if area is None:
        return goodbye(ctx, None)
    action = prompts.MAIN_MENU.get(event.digits, (None,))[0]
    if action == "replay":
        return news(ctx, area)
    if action == "report":
        return categories(ctx, area)
    if action == "area":
        return picker(ctx, area.commune())
    if action == "duty":
        return duty(ctx, area)
    if event.tries >= 1:
        return goodbye(ctx, area.commune())
    return menu(ctx, area, tries=event.tries + 1, lead=_lead(event))


def pick(ctx, event):
    """The area a caller keyed; a first silence reads the list of areas."""
    commune = ctx.db.get(Area, event.int_arg("commune")) if event.int_arg("commune") else None
    if commune is None:
        return goodbye(ctx, None)
    listed = bool(event.int_arg("listed"))
    area = prompts.area_choices(ctx.db, commune).get(event.digits.lstrip("0"))
    if area is not None:
        return news(ctx, area)
    if not event.digits and not listed:
        return picker(ctx, commune, tries=event.tries, listed=True)
    if event.tries >= 1:
        return goodbye(ctx, commune)
    return picker(ctx, commune, tries=event.tries + 1, lead=_lead(event), listed=listed)


def dialed(ctx, event):
    """After the duty officer's line: back to the menu when they did not answer."""
    area = _area(ctx, event)
    if area is None or event.dial_answered:
        return [Hangup()]
    return menu(ctx, area, lead=["duty_no_answer"])


# --- reports by phone ---------------------------------------------------------------------

def report(ctx, event):
    """The category key, then the recording."""
    area = _area(ctx, event)
    if area is None:
        return goodbye(ctx, None)
    category = report_categories.BY_KEY.get(event.digits)
    if category is None and event.tries < 1:
        return categories(ctx, area, tries=event.tries + 1, lead=_lead(event))
    return record(ctx, area, category.code if category else report_categories.DEFAULT)


def recorded(ctx, event):
    """The recording is done: "bấm 1 để gửi, bấm 2 để ghi lại" before it is filed."""
    area = _area(ctx, event)
    if area is None:
        return goodbye(ctx, None)
    if not event.recording_url:
        return menu(ctx, area, tries=1, lead=["record_empty"])
    if event.hung_up:
        file_report(ctx, event, area)
        return []  # nobody is listening any more
    category = event.state.get("category")
    return [Gather(Next.to("review", area=area.id, category=category, url=event.recording_url,
                           rec=event.recording_id or None, seconds=event.recording_seconds or None),
                   prompts=tuple(_say(ctx, ["record_review"], area.commune())))]


def review(ctx, event):
    """1 (or silence: nothing is lost) files the report and reads its number; 2 records again."""
    area = _area(ctx, event)
    url = event.state.get("url", "")
    if area is None or not url:
        return goodbye(ctx, area.commune() if area else None)
    if event.digits == "2":
        calls.discard_recording(url)
        return record(ctx, area, event.state.get("category") or report_categories.DEFAULT)
    filed = file_report(ctx, Event(step="review", state=event.state, caller=event.caller, call_id=event.call_id,
                                   recording_url=url, recording_id=event.state.get("rec", ""),
                                   recording_seconds=event.state.get("seconds", "")), area)
    commune = area.commune()
    return [*_say(ctx, ["report_number", prompts.number_key(filed.number), "report_thanks"], commune,
                  texts=prompts.number_texts(filed.number)),
            *goodbye(ctx, commune)]


def recording_stored(ctx, event):
    """The provider's note that a recording is stored: filed later unless the caller decided meanwhile.

    It comes while the caller hears "bấm 1 để gửi…", or after they hung up; a job files it after
    calls.REVIEW_GRACE unless it was filed or recorded again by then."""
    area = _area(ctx, event)
    if area is not None and event.recording_url:
        calls.schedule_abandoned_recording(ctx.db, area_id=area.id, category=event.state.get("category"),
                                           url=event.recording_url, recording_id=event.recording_id,
                                           caller=event.caller, call_id=event.call_id)
    return []


def file_report(ctx, event, area):
    """The report of this recording: created once, whichever of the caller's key and the job is first."""
    db = ctx.db
    sid, url = event.recording_id, event.recording_url
    commune = area.commune()
    db.commit()  # the lock below must be the first statement of its transaction (SQLite)
    # A per-commune counter row serves as a lock until commit, so two requests filing the same
    # recording together cannot both miss the report and create two.
    next_number(db, commune.id, name="ivr-report-lock")
    same = [Report.recording_url == url] + ([Report.recording_url.like(f"%/{sid}")] if sid else [])
    existing = db.scalar(select(Report).where(Report.channel == "voice", or_(*same)))
    if existing is not None:
        db.commit()
        return existing
    from gateway.ivr.recordings import queue_voice_report

    phone, resident, _version = _caller(ctx, event)
    category = event.state.get("category")
    filed = open_report(db, commune=commune, channel="voice", area=area, resident=resident, phone=phone,
                        category=category if category in report_categories.BY_CODE else report_categories.DEFAULT)
    filed.recording_url = url
    queue_voice_report(db, filed)
    db.commit()
    log.info("voice report=%s call=%s recording=%s seconds=%s", filed.id, event.call_id, sid,
             event.recording_seconds)
    return filed


# --- outbound calls -----------------------------------------------------------------------

def _delivery(ctx, event):
    delivery_id = event.int_arg("delivery")
    delivery = ctx.db.get(Delivery, delivery_id) if delivery_id else None
    return delivery if delivery is not None and delivery.channel == "voice" else None


def _commune_of(ctx, delivery):
    area = calls.area_of(ctx.db, delivery)
    return area.commune() if area is not None else None


def _heard(ctx, ann):
    """The announcement's audio in the call's language (its Vietnamese audio when that has no recording)."""
    return ann.audio if ctx.language == languages.VI else languages.audio(ctx.db, ann, ctx.language)[0]


def announcement_audio(ctx, ann):
    asset = _heard(ctx, ann)
    if asset is not None and asset.status == "ready" and asset.phone_path:
        return [Play(ctx.audio_url(asset), name=f"ann:{ann.id}")]
    return [Say(ann.body, name=f"ann:{ann.id}")]  # placed after waiting for the render (jobs.AUDIO_WAIT)


def confirm_menu(ctx, delivery, tries=0, lead=(), before=()):
    return [Gather(Next.to("confirm", delivery=delivery.id, tries=tries),
                   prompts=(*before, *_say(ctx, [*lead, "confirm"], _commune_of(ctx, delivery))))]


def outbound(ctx, event):
    """A call we placed was answered: the announcement then "press 1", or the callback's news."""
    db = ctx.db
    delivery = _delivery(ctx, event)
    if delivery is None:
        return [Hangup()]
    if event.answered_by == "fax":
        calls.advance(db, delivery, "failed", error_code="fax", last_error="answered by a fax machine")
        return [Hangup()]
    machine = event.answered_by == "machine"
    calls.advance(db, delivery, "answered", delivered_at=utcnow(), **({"error_code": "machine"} if machine else {}))
    if event.call_id and (delivery.provider_id or calls.PROVISIONAL_ID).startswith(calls.PROVISIONAL_ID):
        calls.remember_call_id(db, delivery, event.call_id)
    log.info("outbound answered delivery=%s by=%s", delivery.id, event.answered_by or "-")
    commune = _commune_of(ctx, delivery)
    if delivery.resident is not None:
        ctx.language = _household_language(ctx, delivery.resident)
    if calls.purpose_of(delivery) == "callback":
        area = calls.area_of(db, delivery) if delivery.area_id else None
        if area is not None:
            # An answering machine records the news; nobody is there for the menu.
            return news(ctx, area, lead=["callback_greeting"], listener=not machine)
        if commune is None:
            return goodbye(ctx, None)
        return picker(ctx, commune, lead=["callback_greeting", "area_unknown_caller"])
    ann = delivery.announcement
    if ann is None:
        return goodbye(ctx, commune)
    heard = announcement_audio(ctx, ann)
    if machine:
        # Left on the answering machine after its beep; nobody can press 1.
        return [*heard, *goodbye(ctx, commune)]
    poll = poll_service.for_announcement(db, ann)
    if poll is not None:
        return poll_menu(ctx, poll, commune=commune, delivery=delivery, before=heard)
    return confirm_menu(ctx, delivery, before=heard)


def confirm(ctx, event):
    """Key 1 after an announcement: the delivery is confirmed; 2 replays it."""
    delivery = _delivery(ctx, event)
    if delivery is None:
        return [Hangup()]
    commune = _commune_of(ctx, delivery)
    if event.digits == "1":
        calls.advance(ctx.db, delivery, "confirmed", confirmed_at=utcnow())
        log.info("outbound confirmed delivery=%s", delivery.id)
        return [*_say(ctx, ["confirm_thanks"], commune), Hangup()]
    if event.digits == "2" and delivery.announcement is not None:
        return confirm_menu(ctx, delivery, tries=event.tries, before=announcement_audio(ctx, delivery.announcement))
    if event.tries >= 1:
        return goodbye(ctx, commune)
    return confirm_menu(ctx, delivery, tries=event.tries + 1, lead=_lead(event))


def call_status(ctx, event):
    """Call progress: moves an outbound call's delivery forwards only; a missed inbound call gets a callback."""
    db = ctx.db
    delivery = _delivery(ctx, event)
    if delivery is not None and delivery.provider_id not in (None, event.call_id):
        log.info("status of an earlier attempt ignored delivery=%s call=%s", delivery.id, event.call_id)
        return []
    if delivery is None and event.call_id:
        delivery = db.scalar(select(Delivery).where(Delivery.channel == "voice", Delivery.provider_id == event.call_id))
    if delivery is None:
        if event.missed:
            calls.schedule_callback(db, event.caller, reason=f"missed call ({event.raw_status})")
        return []
    new = event.status
    if new is None:
        return []
    fax = event.answered_by == "fax" or delivery.error_code == "fax"
    if fax:
        new = "failed"  # a fax line: not a listener, and not worth a retry
    if delivery.provider_id is None:
        delivery.provider_id = event.call_id  # the callback came before the job stored the call's id
    values = {}
    if new == "answered" and delivery.delivered_at is None:
        values["delivered_at"] = utcnow()
    if event.answered_by == "machine":
        values["error_code"] = "machine"
    if new not in ("answered", "sending"):
        values["error_code"] = "fax" if fax else (event.raw_status or new)[:40]
    moved = calls.advance(db, delivery, new, **values)
    log.info("call status delivery=%s call=%s status=%s moved=%s", delivery.id, event.call_id, event.raw_status, moved)
    if moved and new in calls.RETRIABLE and not fax:
        calls.schedule_retry(db, delivery)
    return []


# --- polls (issue 21) ---------------------------------------------------------------------

def poll_menu(ctx, poll, *, commune, delivery=None, area=None, before=(), lead=(), tries=0):
    """The poll's keys ("Có cần, bấm 1. …") inside a Gather; on the hotline (`area`) the question
    first, on a call we placed (`delivery`) the announcement just said it."""
    keys = [*lead, *([] if delivery is not None else [poll_voice.INTRO, poll_voice.question_key(poll)]),
            poll_voice.keys_key(poll)]
    return [Gather(Next.to("poll", poll=poll.id, delivery=delivery.id if delivery else None,
                           area=area.id if area else None, tries=tries),
                   prompts=(*before, *_say(ctx, keys, commune, texts=poll_voice.prompt_texts(poll))))]


def hotline_polls(ctx, area, resident, before=()):
    """The next open poll this caller's household has not answered, else the main menu."""
    waiting = poll_answers.unanswered(ctx.db, resident)
    if waiting:
        return poll_menu(ctx, waiting[0], commune=area.commune(), area=area, before=before)
    return menu(ctx, area, before=before)


def poll_key(ctx, event):
    """A key answering a poll: its receipt, then goodbye (a call we placed) or the next poll or the
    menu (the hotline). A wrong key or silence asks once more."""
    from gateway.models import Poll

    delivery, area = _delivery(ctx, event), _area(ctx, event)
    commune = _commune_of(ctx, delivery) if delivery is not None else area.commune() if area else None
    poll = ctx.db.get(Poll, event.int_arg("poll")) if event.int_arg("poll") else None
    if poll is None or (delivery is None and area is None):
        return goodbye(ctx, commune)
    choice = whole(event.digits)
    if choice is None or not 1 <= choice <= len(poll.options):
        if event.tries < 1:
            return poll_menu(ctx, poll, commune=commune, delivery=delivery, area=area, tries=event.tries + 1,
                             lead=_lead(event))
        return goodbye(ctx, commune) if delivery is not None else menu(ctx, area)
    _, resident, _version = _caller(ctx, event)
    resident = resident or (delivery.resident if delivery is not None else None)
    if resident is None:
        return goodbye(ctx, commune)
    receipt = poll_answers.record(ctx.db, poll, resident, choice, channel="call" if delivery else "hotline")
    ctx.db.commit()
    heard = _say(ctx, [poll_voice.receipt_key(poll, choice) if receipt.counted else poll_voice.LATE], commune,
                 texts=poll_voice.prompt_texts(poll))
    if delivery is not None:
        calls.advance(ctx.db, delivery, "confirmed", confirmed_at=utcnow())  # answering means they heard it
        return [*heard, *goodbye(ctx, commune)]
    return hotline_polls(ctx, area, resident, before=heard)


STEPS = {
    "inbound": inbound, "play": play, "menu": menu_key, "pick": pick, "dialed": dialed, "report": report,
    "record": recorded, "review": review, "recording": recording_stored, "outbound": outbound,
    "confirm": confirm, "status": call_status, "poll": poll_key, "language": language_key,
}


def run(ctx, event):
    """The script answering `event` (a list of steps; empty: nothing to say)."""
    lang = event.state.get("lang", "")
    if _LANGUAGE_CODE.fullmatch(lang):
        ctx.language = lang  # one the call chose earlier; a code without recordings is heard in Vietnamese
    return _carry_language(ctx, STEPS[event.step](ctx, event))
