"""Outbound calls: queueing them, missed-call callbacks, and the status a call's delivery is in.

A voice Delivery's `body` says what the call is for, as "<purpose>:<priority>" (purpose
"announcement" or "callback"), so a job can act on the row alone with no extra column.
Statuses of one attempt only move forwards (RANK); a retry starts the next attempt.
"""
import datetime as dt
import logging

from flask import current_app
from rq import Retry
from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError

from gateway.announcements.quiet import held_back, next_allowed
from gateway.models import PRIORITIES, Area, Delivery, Resident, utcnow
from gateway.phone import PhoneError, normalize
from gateway.queue import enqueue_on_commit, get_connection

log = logging.getLogger(__name__)

JOB = "gateway.ivr.jobs.place_call"
# Provider errors that may pass (timeouts, 5xx, 429): the job is tried again by RQ.
TRANSIENT_RETRY = Retry(max=3, interval=[30, 120, 600])
PURPOSES = ("announcement", "callback")
# One attempt's statuses in order; a status only replaces a lower-ranked one.
RANK = {"pending": 0, "sending": 1, "no_answer": 2, "busy": 2, "failed": 2, "cancelled": 2,
        "answered": 3, "confirmed": 4}
RETRIABLE = ("no_answer", "busy", "failed")
# A caller's missed call is answered by one callback within this window.
CALLBACK_DEDUPE = dt.timedelta(minutes=10)
# Unknown numbers get at most one callback in this window (and CALLBACK_UNKNOWN_PER_HOUR in all).
CALLBACK_UNKNOWN_DEDUPE = dt.timedelta(hours=1)
# A callback this fresh is placed even in quiet hours: the caller rang us just now.
CALLBACK_FRESH = dt.timedelta(minutes=15)
# A recording the caller neither sent (1) nor recorded again (2) is filed this long after the
# provider stored it: they hung up while "bấm 1 để gửi, bấm 2 để ghi lại" played.
REVIEW_GRACE = dt.timedelta(minutes=3)
FILE_RECORDING_JOB = "gateway.ivr.jobs.file_recording"
# A placed call whose provider gave no id yet (its answer request names it): never NULL, since a
# "sending" call with no provider id is one a worker died placing (gateway.reconcile).
PROVISIONAL_ID = "provisional:"
_DISCARDED = "ivr:discarded-recording:"


def queue_call(session, *, phone, key, announcement_id=None, resident_id=None, area_id=None,
               purpose="announcement", priority="normal", queue="default"):
    """Get or create the voice Delivery `key` and place the call after the caller commits."""
    if purpose not in PURPOSES:
        raise ValueError(f"purpose must be one of {', '.join(PURPOSES)}, not {purpose!r}")
    if priority not in PRIORITIES:
        raise ValueError(f"priority must be one of {', '.join(PRIORITIES)}, not {priority!r}")
    existing = session.scalar(select(Delivery).where(Delivery.idempotency_key == key))
    if existing is not None:
        return existing
    delivery = Delivery(idempotency_key=key, channel="voice", phone=phone, announcement_id=announcement_id,
                        resident_id=resident_id, area_id=area_id, body=f"{purpose}:{priority}", status="pending")
    try:
        with session.begin_nested():
            session.add(delivery)
    except IntegrityError:
        # The same key queued by another request meanwhile: its job places the call.
        return session.scalar(select(Delivery).where(Delivery.idempotency_key == key))
    enqueue_on_commit(session, JOB, delivery.id, queue=queue, retry=TRANSIENT_RETRY)
    log.info("call queued delivery=%s purpose=%s priority=%s", delivery.id, purpose, priority)
    return delivery


def purpose_of(delivery):
    return (delivery.body or "announcement").split(":", 1)[0]


def priority_of(delivery):
    """The call's priority: what it was queued with, raised to its announcement's."""
    stored = (delivery.body or "").partition(":")[2] or "normal"
    ann = delivery.announcement.priority if delivery.announcement is not None else "normal"
    order = {p: i for i, p in enumerate(PRIORITIES)}
    return max(stored, ann, key=lambda p: order.get(p, 0))


def job_queue(delivery):
    return "high" if purpose_of(delivery) == "callback" or priority_of(delivery) != "normal" else "default"


def area_of(session, delivery):
    """The area whose quiet hours and announcements apply to a call (the resident's, else the first commune)."""
    if delivery.area_id:
        return session.get(Area, delivery.area_id)
    if delivery.resident is not None and delivery.resident.area_id:
        return session.get(Area, delivery.resident.area_id)
    return session.scalar(select(Area).where(Area.level == "commune").order_by(Area.id))


def audio_ready(session, delivery):
    """True when an announcement call's audio is rendered: the Vietnamese one, and the one in the
    household's language when the announcement has a recording in it (gateway.languages)."""
    from gateway import languages

    ann = delivery.announcement
    if ann.audio is None or ann.audio.status != "ready":
        return False
    code = delivery.resident.language if delivery.resident is not None else languages.VI
    row = languages.recordings(session, ann).get(code) if code != languages.VI else None
    if row is None or row.recording_id is None:
        return True
    return row.audio is not None and row.audio.status in ("ready", "failed")


def retry_delays(config):
    """Minutes to wait before each retry: VOICE_RETRY_MINUTES "10,30" → [10, 30]."""
    text = str(config.get("VOICE_RETRY_MINUTES") or "").strip()
    return [int(float(m)) for m in text.split(",") if m.strip()] if text else []


def max_attempts(config):
    return 1 + len(retry_delays(config))


def quiet_exempt(delivery, priority, now):
    """True when the call may go during quiet hours."""
    if not held_back(priority, "voice"):
        return True
    return purpose_of(delivery) == "callback" and now - delivery.created_at < CALLBACK_FRESH


def advance(session, delivery, status, **values):
    """Move the delivery to `status` unless it is already there or further (one conditional UPDATE).

    Returns True when it moved; `values` are written with it. Commits."""
    lower = [s for s, r in RANK.items() if r < RANK[status]]
    result = session.execute(
        update(Delivery).where(Delivery.id == delivery.id, Delivery.status.in_(lower))
        .values(status=status, updated_at=utcnow(), **values).execution_options(synchronize_session=False))
    session.commit()
    session.refresh(delivery)
    return result.rowcount == 1


def schedule_retry(session, delivery, *, now=None):
    """After an unanswered, busy or failed attempt: queue the next one (VOICE_RETRY_MINUTES, outside
    quiet hours unless urgent), or leave the final status when the attempts are used up."""
    config = current_app.config
    now = now or utcnow()
    delays = retry_delays(config)
    if delivery.status not in RETRIABLE or delivery.attempts >= 1 + len(delays):
        return None
    at = now + dt.timedelta(minutes=delays[delivery.attempts - 1])
    priority = priority_of(delivery)
    if priority == "normal":
        # Urgent and emergency calls may ring at night (emergency) or wait in the job (urgent);
        # a plain retry never lands in quiet hours.
        at = next_allowed(area_of(session, delivery), at)
    delivery.next_attempt_at = at
    enqueue_on_commit(session, JOB, delivery.id, queue=job_queue(delivery), at=at, retry=TRANSIENT_RETRY)
    session.commit()
    log.info("call retry scheduled delivery=%s attempt=%s at=%s", delivery.id, delivery.attempts + 1, at.isoformat())
    return at


def schedule_callback(session, caller, *, reason):
    """Call back a number that rang the hotline (a missed call or a rejected one); None when not allowed.

    One callback per number within 10 minutes; numbers not on the household list are called back
    too, at most once an hour each and CALLBACK_UNKNOWN_PER_HOUR in all, and only Vietnamese numbers."""
    try:
        phone = normalize(caller)
    except PhoneError:
        log.info("no callback: caller number unusable reason=%s", reason)
        return None
    now = utcnow()
    resident = session.scalar(select(Resident).where(Resident.phone == phone))
    window = CALLBACK_DEDUPE if resident is not None else CALLBACK_UNKNOWN_DEDUPE
    recent = session.scalar(
        select(Delivery).where(Delivery.channel == "voice", Delivery.phone == phone,
                               Delivery.idempotency_key.like("callback:%"), Delivery.created_at > now - window)
        .order_by(Delivery.id.desc()).limit(1))
    if recent is not None:
        log.info("callback already scheduled delivery=%s reason=%s", recent.id, reason)
        return recent
    if resident is None:
        if not phone.startswith("+84"):
            log.info("no callback to an unknown foreign number reason=%s", reason)
            return None
        limit = int(current_app.config.get("CALLBACK_UNKNOWN_PER_HOUR") or 0)
        placed = session.scalar(
            select(func.count(Delivery.id)).where(Delivery.channel == "voice", Delivery.resident_id.is_(None),
                                                  Delivery.idempotency_key.like("callback:%"),
                                                  Delivery.created_at > now - dt.timedelta(hours=1)))
        if placed >= limit:
            log.warning("no callback: %s callbacks to unknown numbers in the last hour (limit %s)", placed, limit)
            return None
    elif resident.opted_out_at is not None:
        return None
    key = f"callback:{phone}:{int(now.timestamp() // window.total_seconds())}"
    delivery = queue_call(session, phone=phone, key=key, resident_id=resident.id if resident else None,
                          area_id=resident.area_id if resident else None, purpose="callback", queue="high")
    session.commit()
    log.info("callback scheduled delivery=%s reason=%s known=%s", delivery.id, reason, resident is not None)
    return delivery


def remember_call_id(session, delivery, call_id):
    """Store the provider's id of the call answering `delivery`, unless a real one is stored already."""
    unknown = Delivery.provider_id.is_(None) | Delivery.provider_id.like(PROVISIONAL_ID + "%")
    session.execute(update(Delivery).where(Delivery.id == delivery.id, unknown)
                    .values(provider_id=call_id).execution_options(synchronize_session=False))
    session.commit()
    session.refresh(delivery)


def schedule_abandoned_recording(session, *, area_id, category, url, recording_id="", caller="", call_id=""):
    """File this recording after REVIEW_GRACE unless the caller sent it or recorded again by then."""
    fields = {"area": area_id, "category": category or "other", "url": url, "rec": recording_id or "",
              "caller": caller or "", "call": call_id or ""}
    enqueue_on_commit(session, FILE_RECORDING_JOB, fields, queue="high", at=utcnow() + REVIEW_GRACE)
    session.commit()


def discard_recording(url):
    """The caller chose to record again: the job filing an abandoned recording leaves this one."""
    get_connection().set(_DISCARDED + url, "1", ex=int(REVIEW_GRACE.total_seconds()) * 20)


def recording_discarded(url):
    return bool(get_connection().exists(_DISCARDED + url))


# The phone rendition is 8 kHz µ-law WAV, one byte a sample (audio.codec.PHONE_ARGS): its size
# gives its length to a hundredth of a second (the header is a few dozen bytes).
PHONE_BYTES_PER_SECOND = 8000
# Longer than this on the phone, an elderly listener loses the thread (and hangs up).
PHONE_WARN_SECONDS = 60


def phone_seconds(asset):
    """How long a rendered asset lasts on the phone (read once), or None before it is rendered."""
    if asset is None or asset.status != "ready" or not asset.phone_bytes:
        return None
    return round(asset.phone_bytes / PHONE_BYTES_PER_SECOND, 1)


def phone_warning(asset):
    """The warning the compose page shows when an announcement lasts more than a minute on the phone, else None."""
    seconds = phone_seconds(asset)
    if seconds is None or seconds <= PHONE_WARN_SECONDS:
        return None
    minutes, rest = divmod(int(round(seconds)), 60)
    return (f"Nghe qua điện thoại, thông báo này dài {minutes} phút {rest} giây: người cao tuổi khó nghe hết. "
            f"Nên viết ngắn lại, dưới một phút.")
