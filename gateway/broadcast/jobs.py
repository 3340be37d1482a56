"""The broadcast pipeline as RQ jobs: start → audio and SMS text → fan-out in chunks → sends,
calls, group posts; then escalation calls for urgent notices nobody confirmed.

Every step takes ids and reloads state. Nothing is sent twice: each recipient and channel is
one Delivery row with a unique idempotency key (f"ann:{id}:{channel}:{phone}"), inserted with
INSERT … ON CONFLICT DO NOTHING, and only the SMS and hotline modules send, each claiming the
row first. So a re-run chunk, a duplicated job or a worker killed mid-way skips what was done
and finishes the rest. Chunks still to fan out are a Redis set per announcement; the last one
marks the announcement "sent".
"""
import datetime as dt
import hashlib
import logging

from flask import current_app
from rq import Retry
from sqlalchemy import select, update
from sqlalchemy.dialects import postgresql, sqlite

from gateway import queue
from gateway.broadcast import quiet
from gateway.broadcast.targeting import chunk_bounds, needs_call, recipients
from gateway.db import get_db
from gateway.models import Announcement, Area, Delivery, GroupPost, Resident, utcnow
from gateway.transport import TransportError

log = logging.getLogger(__name__)

SMS_SEND_JOB = "gateway.sms.jobs.send_delivery"
POST_JOB = "gateway.mirror.jobs.post"
THIS = "gateway.broadcast.jobs."
KEEP_STATE = 30 * 86400  # seconds the Redis bookkeeping of a broadcast outlives it
AUDIO_POLL_SECONDS = 30
CHUNK_RETRY = dict(max=5, interval=[10, 30, 120, 300, 900])


def _retry():
    return Retry(**CHUNK_RETRY)


def _chunks_key(announcement_id):
    return f"gateway:bcast:{announcement_id}:chunks"


def _planned_key(announcement_id):
    return f"gateway:bcast:{announcement_id}:planned"


def _setting(name, cast=int):
    return cast(current_app.config[name])


# --- start -------------------------------------------------------------------------------

def start(announcement_id):
    """Begin sending a scheduled announcement: audio, SMS text, fan-out chunks, group posts.

    The conditional UPDATE scheduled→sending makes a duplicate start (or one after a cancel) a no-op;
    a start that died after claiming (no plan recorded) is resumed by its retry."""
    db = get_db()
    conn = queue.get_connection()
    claimed = db.execute(update(Announcement).where(Announcement.id == announcement_id,
                                                    Announcement.status == "scheduled")
                         .values(status="sending", updated_at=utcnow())).rowcount
    db.commit()
    ann = db.get(Announcement, announcement_id)
    if ann is None:
        log.warning("broadcast start: announcement=%s is gone", announcement_id)
        return "missing"
    if not claimed:
        if ann.status != "sending" or conn.exists(_planned_key(ann.id)):
            log.info("broadcast start skipped id=%s status=%s", ann.id, ann.status)
            return "skipped"
        log.warning("broadcast start resumed id=%s (an earlier start stopped before planning)", ann.id)
    _prepare_content(db, ann)
    bounds = chunk_bounds(db, ann, _setting("BROADCAST_CHUNK_SIZE")) if _person_channels(ann) else []
    if bounds:
        members = [f"{lo}-{hi}" for lo, hi in bounds]
        pipe = conn.pipeline()
        pipe.sadd(_chunks_key(ann.id), *members)
        pipe.expire(_chunks_key(ann.id), KEEP_STATE)
        pipe.execute()
    for lo, hi in bounds:
        queue.enqueue(THIS + "fan_out", ann.id, lo, hi, queue="bulk", retry=_retry(), job_timeout=chunk_timeout(),
                      job_id=f"ann-{ann.id}-fanout-{lo}")
    if "group" in (ann.channels or []):
        queue.enqueue(THIS + "post_to_groups", ann.id, queue="default", retry=_retry())
    conn.set(_planned_key(ann.id), len(bounds), ex=KEEP_STATE)
    log.info("broadcast started id=%s chunks=%s channels=%s priority=%s", ann.id, len(bounds),
             ",".join(ann.channels or []), ann.priority)
    if not bounds:
        _mark_sent(db, ann.id)
    return f"{len(bounds)} chunks"


def _person_channels(ann):
    return {"sms", "voice"} & set(ann.channels or [])


def _prepare_content(db, ann):
    """Queue the audio rendering and write the SMS text (once: a resumed start keeps it)."""
    if {"voice", "hotline", "loudspeaker", "group"} & set(ann.channels or []) or ann.priority != "normal":
        from gateway.media.assets import request_announcement_audio

        request_announcement_audio(db, ann)
    if "sms" in (ann.channels or []) and not ann.sms_text:
        from gateway.sms.digest import announcement_sms

        hotline = ann.areas[0].inherited("hotline_number") if ann.areas else None
        ann.sms_text = announcement_sms(ann, hotline=hotline)
        db.commit()


def _mark_sent(db, announcement_id):
    done = db.execute(update(Announcement).where(Announcement.id == announcement_id,
                                                 Announcement.status == "sending")
                      .values(status="sent", updated_at=utcnow())).rowcount
    db.commit()
    if done:
        log.info("broadcast fanned out id=%s status=sent", announcement_id)


# --- fan-out -----------------------------------------------------------------------------

def delivery_key(announcement_id, channel, phone):
    """The idempotency key of one announcement to one phone on one channel."""
    return f"ann:{announcement_id}:{channel}:{phone}"


def insert_ignoring_duplicates(db, rows):
    """Bulk INSERT of Delivery rows; rows whose idempotency key exists are left as they are."""
    if not rows:
        return 0
    dialect = db.get_bind().dialect.name
    insert = {"postgresql": postgresql.insert, "sqlite": sqlite.insert}[dialect]
    stmt = insert(Delivery.__table__).on_conflict_do_nothing(index_elements=["idempotency_key"])
    return db.execute(stmt, rows).rowcount


def fan_out(announcement_id, first_id, last_id):
    """One chunk: a Delivery per recipient and channel (pending), then its SMS sent (calls queued)."""
    db = get_db()
    ann = db.get(Announcement, announcement_id)
    if ann is None or ann.status not in ("sending", "sent"):
        log.info("fan-out skipped id=%s status=%s", announcement_id, ann.status if ann else None)
        return "skipped"
    now = utcnow()
    rows, channels = [], set()
    for r in recipients(db, ann, first_id=first_id, last_id=last_id):
        for channel in r.channels:
            channels.add(channel)
            rows.append({
                "idempotency_key": delivery_key(ann.id, channel, r.phone), "announcement_id": ann.id,
                "resident_id": r.resident_id, "area_id": r.area_id, "phone": r.phone, "channel": channel,
                "body": ann.sms_text if channel == "sms" else None, "status": "pending", "attempts": 0,
                "created_at": now, "updated_at": now,
            })
    inserted = insert_ignoring_duplicates(db, rows)
    db.commit()
    log.info("fan-out id=%s residents=%s..%s rows=%s inserted=%s", ann.id, first_id, last_id, len(rows), inserted)
    if "voice" in channels:  # calls wait for the audio: a job of their own
        queue.enqueue(THIS + "send_chunk", ann.id, "voice", first_id, last_id, queue="bulk", retry=_retry(),
                      job_timeout=chunk_timeout())
    if "sms" in channels:
        send_chunk(ann.id, "sms", first_id, last_id)
    _chunk_done(db, ann.id, first_id, last_id)
    return inserted


def chunk_timeout():
    """Seconds a chunk job may run: its SMS at the shared rate (all of them, if one worker gets every slot)."""
    config = current_app.config
    return int(int(config["BROADCAST_CHUNK_SIZE"]) / float(config["SMS_RATE_PER_SECOND"]) * 2) + 180


def _chunk_done(db, announcement_id, first_id, last_id):
    pipe = queue.get_connection().pipeline()
    pipe.srem(_chunks_key(announcement_id), f"{first_id}-{last_id}")
    pipe.scard(_chunks_key(announcement_id))
    _, left = pipe.execute()
    if not left:
        _mark_sent(db, announcement_id)


# --- sending -----------------------------------------------------------------------------

class _Areas:
    """Areas by id with their ancestors, loaded once per job (quiet hours are per commune)."""

    def __init__(self, db, fallback):
        self.db, self.fallback, self.cache = db, fallback, {}

    def get(self, area_id):
        if area_id is None:
            return self.fallback
        if area_id not in self.cache:
            self.cache[area_id] = self.db.get(Area, area_id) or self.fallback
        return self.cache[area_id]


def _pending(db, announcement_id, channel, first_id, last_id):
    return list(db.execute(
        select(Delivery.id, Delivery.area_id, Delivery.phone, Delivery.resident_id)
        .where(Delivery.announcement_id == announcement_id, Delivery.channel == channel,
               Delivery.status == "pending", Delivery.resident_id.between(first_id, last_id))
        .order_by(Delivery.id)))


def send_chunk(announcement_id, channel, first_id, last_id, attempt=0):
    """Send one chunk's pending deliveries on `channel` (sms or voice), holding back what quiet
    hours forbid (the job comes back when they end)."""
    db = get_db()
    ann = db.get(Announcement, announcement_id)
    if ann is None or ann.status not in ("sending", "sent"):
        return "skipped"
    if channel == "voice":
        state = _audio_state(ann)
        if state == "wait" and attempt * AUDIO_POLL_SECONDS < _setting("BROADCAST_AUDIO_WAIT_MINUTES") * 60:
            queue.enqueue(THIS + "send_chunk", ann.id, channel, first_id, last_id, attempt + 1, queue="bulk",
                          at=utcnow() + dt.timedelta(seconds=AUDIO_POLL_SECONDS), retry=_retry())
            return "waiting for audio"
        if state != "ready":
            return _fail_pending(db, ann, channel, first_id, last_id, _audio_problem(ann, state))
    areas = _Areas(db, ann.areas[0] if ann.areas else None)
    now = utcnow()
    held_until, sent = None, 0
    send = _sms_sender() if channel == "sms" else None
    for delivery_id, area_id, phone, resident_id in _pending(db, ann.id, channel, first_id, last_id):
        area = areas.get(area_id)
        if area is not None and quiet.held_back(ann.priority, channel):
            allowed = quiet.next_allowed(area, now)
            if allowed > now:
                held_until = min(held_until or allowed, allowed)
                continue
        if channel == "sms":
            send(delivery_id)
        else:
            _queue_call(db, ann, phone=phone, resident_id=resident_id, area_id=area_id)
        sent += 1
    db.commit()
    if held_until is not None:
        queue.enqueue(THIS + "send_chunk", ann.id, channel, first_id, last_id, queue="bulk", at=held_until,
                      retry=_retry(), job_timeout=chunk_timeout())
    if channel == "sms" and ann.priority in ("urgent", "emergency") and sent:
        _schedule_escalation(ann, first_id, last_id)
    log.info("send chunk id=%s channel=%s residents=%s..%s handled=%s held_until=%s", ann.id, channel,
             first_id, last_id, sent, held_until.isoformat() if held_until else None)
    return sent


def _sms_sender():
    """Send one pending SMS delivery through the SMS module's single send path, within the
    provider's shared rate limit; a transient failure is handed to the SMS module's own retrying job."""
    from gateway.broadcast.ratelimit import RateLimiter
    from gateway.sms.jobs import send_delivery

    config = current_app.config
    limiter = RateLimiter(queue.get_connection(), f"sms:{config['SMS_PROVIDER']}",
                          float(config["SMS_RATE_PER_SECOND"]))

    def send(delivery_id):
        limiter.acquire()
        try:
            send_delivery(delivery_id)
        except TransportError as exc:
            delay = exc.retry_after if exc.retry_after is not None else 30
            if exc.retry_after is not None:
                limiter.pause(exc.retry_after)
            queue.enqueue(SMS_SEND_JOB, delivery_id, queue="bulk", at=utcnow() + dt.timedelta(seconds=delay),
                          retry=_retry())
            log.info("sms handed to retries delivery=%s in=%ss", delivery_id, delay)

    return send


def _queue_call(db, ann, *, phone, resident_id, area_id):
    """A call through the hotline module; the key makes a second request for the same phone a no-op."""
    from gateway.ivr.calls import queue_call

    return queue_call(db, phone=phone, key=delivery_key(ann.id, "voice", phone), announcement_id=ann.id,
                      resident_id=resident_id, area_id=area_id, purpose="announcement",
                      priority=ann.priority, queue="default")


def _audio_state(ann):
    """ready / wait / failed: whether the telephone rendition can be played yet."""
    asset = ann.audio
    if asset is None:
        return "wait"
    if asset.status == "failed":
        return "failed"
    return "ready" if asset.status == "ready" and asset.phone_path else "wait"


def _audio_problem(ann, state):
    if state == "failed":
        return f"announcement audio failed: {(ann.audio.error or '')[:200]}"
    return f"announcement audio not ready after {current_app.config['BROADCAST_AUDIO_WAIT_MINUTES']} minutes"


def _fail_pending(db, ann, channel, first_id, last_id, reason):
    failed = db.execute(update(Delivery).where(
        Delivery.announcement_id == ann.id, Delivery.channel == channel, Delivery.status == "pending",
        Delivery.resident_id.between(first_id, last_id)).values(
        status="failed", error_code="audio", last_error=reason, updated_at=utcnow())).rowcount
    db.commit()
    log.warning("broadcast %s failed id=%s residents=%s..%s deliveries=%s: %s", channel, ann.id, first_id,
                last_id, failed, reason)
    return "failed"


# --- escalation --------------------------------------------------------------------------

def _schedule_escalation(ann, first_id, last_id):
    minutes = _setting("ESCALATE_AFTER_MINUTES")
    queue.enqueue(THIS + "escalate", ann.id, first_id, last_id, queue="default", retry=_retry(),
                  at=utcnow() + dt.timedelta(minutes=minutes), job_id=f"ann-{ann.id}-escalate-{first_id}")


def escalate(announcement_id, first_id, last_id, attempt=0):
    """Call the elderly and no-smartphone households of a chunk that have not confirmed an urgent SMS."""
    db = get_db()
    ann = db.get(Announcement, announcement_id)
    if ann is None or ann.priority not in ("urgent", "emergency") or ann.status not in ("sending", "sent"):
        return "skipped"
    candidates = list(db.execute(
        select(Delivery.phone, Delivery.resident_id, Delivery.area_id, Delivery.status)
        .join(Resident, Resident.id == Delivery.resident_id)
        .where(Delivery.announcement_id == ann.id, Delivery.channel == "sms",
               Delivery.resident_id.between(first_id, last_id), Resident.opted_out_at.is_(None))
        .where((Resident.is_elderly.is_(True)) | (Resident.no_smartphone.is_(True)))
        .order_by(Delivery.id)))
    if not candidates:
        return 0
    confirmed = set(db.scalars(select(Delivery.phone).where(
        Delivery.announcement_id == ann.id, Delivery.confirmed_at.is_not(None),
        Delivery.phone.in_([c.phone for c in candidates]))))
    called = set(db.scalars(select(Delivery.phone).where(
        Delivery.announcement_id == ann.id, Delivery.channel == "voice",
        Delivery.phone.in_([c.phone for c in candidates]))))
    due = [c for c in candidates if c.phone not in confirmed and c.phone not in called]
    if not due:
        return 0
    state = _audio_state(ann)
    if state == "wait" and attempt * AUDIO_POLL_SECONDS < _setting("BROADCAST_AUDIO_WAIT_MINUTES") * 60:
        queue.enqueue(THIS + "escalate", ann.id, first_id, last_id, attempt + 1, queue="default", retry=_retry(),
                      at=utcnow() + dt.timedelta(seconds=AUDIO_POLL_SECONDS))
        return "waiting for audio"
    now, held_until, rows, calls = utcnow(), None, [], 0
    areas = _Areas(db, ann.areas[0] if ann.areas else None)
    for c in due:
        if c.status in ("pending", "sending"):
            # The SMS itself has not gone yet (quiet hours, retries): look again later.
            later = now + dt.timedelta(minutes=_setting("ESCALATE_AFTER_MINUTES"))
            held_until = min(held_until or later, later)
            continue
        area = areas.get(c.area_id)
        if area is not None and quiet.held_back(ann.priority, "voice"):
            allowed = quiet.next_allowed(area, now)
            if allowed > now:
                held_until = min(held_until or allowed, allowed)
                continue
        if state != "ready":
            rows.append({"idempotency_key": delivery_key(ann.id, "voice", c.phone), "announcement_id": ann.id,
                         "resident_id": c.resident_id, "area_id": c.area_id, "phone": c.phone, "channel": "voice",
                         "status": "failed", "error_code": "audio", "last_error": _audio_problem(ann, state),
                         "attempts": 0, "created_at": now, "updated_at": now})
            continue
        _queue_call(db, ann, phone=c.phone, resident_id=c.resident_id, area_id=c.area_id)
        calls += 1
    insert_ignoring_duplicates(db, rows)
    db.commit()
    if held_until is not None:
        queue.enqueue(THIS + "escalate", ann.id, first_id, last_id, queue="default", retry=_retry(), at=held_until)
    log.info("escalation id=%s residents=%s..%s unconfirmed=%s calls=%s audio_failed=%s held_until=%s", ann.id,
             first_id, last_id, len(due), calls, len(rows), held_until.isoformat() if held_until else None)
    return calls


# --- group posts -------------------------------------------------------------------------

def post_to_groups(announcement_id, attempt=0):
    """One post per main group of the target areas, with a link to the audio once it is rendered
    (posted without the link if the audio fails or takes too long)."""
    from gateway.media.assets import asset_url
    from gateway.mirror import group_of, messages

    db = get_db()
    ann = db.get(Announcement, announcement_id)
    if ann is None or ann.status not in ("sending", "sent"):
        return "skipped"
    state = _audio_state(ann)
    if state == "wait" and attempt * AUDIO_POLL_SECONDS < _setting("BROADCAST_AUDIO_WAIT_MINUTES") * 60:
        queue.enqueue(THIS + "post_to_groups", ann.id, attempt + 1, queue="default", retry=_retry(),
                      at=utcnow() + dt.timedelta(seconds=AUDIO_POLL_SECONDS))
        return "waiting for audio"
    url = asset_url(ann.audio, "mp3") if state == "ready" else None
    text = messages.announcement_text(ann, audio_url=url)
    posts = 0
    for area in ann.areas:
        group = group_of(area)
        if group is None:
            log.info("broadcast id=%s area=%s has no group", ann.id, area.id)
            continue
        target, chat_id = group
        key = f"ann:{ann.id}:group:" + hashlib.sha256(f"{target}:{chat_id}".encode()).hexdigest()[:32]
        if db.scalar(select(GroupPost.id).where(GroupPost.idempotency_key == key)) is not None:
            continue  # posted already (a duplicate job, or two areas sharing a group)
        post = GroupPost(idempotency_key=key, announcement_id=ann.id, area_id=area.id, target=target,
                         chat_id=chat_id, text=text)
        db.add(post)
        db.flush()
        queue.enqueue_on_commit(db, POST_JOB, post.id, queue="high")
        posts += 1
    db.commit()
    log.info("broadcast group posts id=%s posts=%s audio=%s", ann.id, posts, state)
    return posts
