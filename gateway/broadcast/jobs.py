"""The broadcast pipeline as RQ jobs: start → audio and SMS text → fan-out in chunks (each
chunk inserts its deliveries, queues its calls and sends its SMS) → group posts; then an
escalation call for urgent notices the elderly have not confirmed.

Every job takes ids and reloads state. Nothing is sent twice: each recipient and channel is one
Delivery row with a unique key (f"ann:{id}:{channel}:{phone}"), SMS rows inserted with
INSERT … ON CONFLICT DO NOTHING, calls through the hotline module's queue_call; only the SMS and
hotline modules send, each claiming the row first. So a re-run chunk, a duplicated job or a
worker killed mid-way skips what was done and finishes the rest. The chunks still to fan out
are a Redis set per announcement; the last one done marks the announcement "sent".
"""
import datetime as dt
import hashlib
import logging
from collections import Counter, defaultdict

from flask import current_app
from rq import Retry
from sqlalchemy import func, select, update
from sqlalchemy.dialects import postgresql, sqlite

from gateway import queue
from gateway.broadcast import quiet
from gateway.broadcast.targeting import chunk_bounds, recipients
from gateway.db import get_db
from gateway.models import Announcement, Area, Delivery, GroupPost, Resident, utcnow

log = logging.getLogger(__name__)

POST_JOB = "gateway.mirror.jobs.post"
THIS = "gateway.broadcast.jobs."
KEEP_STATE = 30 * 86400  # seconds the Redis bookkeeping of a broadcast outlives it
AUDIO_POLL_SECONDS = 30
CHUNK_RETRY = dict(max=5, interval=[10, 30, 120, 300, 900])
PLANNING_LOCK = 300  # seconds; start's own retries (service.START_RETRY) reach past it


def _retry():
    return Retry(**CHUNK_RETRY)


def _chunks_key(announcement_id):
    return f"gateway:bcast:{announcement_id}:chunks"


def _planned_key(announcement_id):
    return f"gateway:bcast:{announcement_id}:planned"


def _planning_key(announcement_id):
    return f"gateway:bcast:{announcement_id}:planning"


class PlanningInProgress(RuntimeError):
    """Another start job is planning this announcement (or died doing so): RQ retries this one later."""


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
    if not claimed and (ann.status != "sending" or conn.exists(_planned_key(ann.id))):
        log.info("broadcast start skipped id=%s status=%s", ann.id, ann.status)
        return "skipped"
    # Whoever plans holds this lock; it outlives a dead planner by PLANNING_LOCK seconds.
    if not conn.set(_planning_key(ann.id), "1", nx=True, ex=PLANNING_LOCK):
        # Sending, not planned, and another start holds the lock: it is planning now, or died
        # doing so. Raise, so RQ tries this one again after the lock has expired.
        raise PlanningInProgress(f"announcement {ann.id} is being planned by another start job")
    if not claimed:
        log.warning("broadcast start resumed id=%s (an earlier start stopped before planning)", ann.id)
    _prepare_content(db, ann)
    bounds = chunk_bounds(db, ann, _setting("BROADCAST_CHUNK_SIZE")) if _person_channels(ann) else []
    pipe = conn.pipeline()
    pipe.delete(_chunks_key(ann.id))  # a resumed start plans afresh (chunks run twice are harmless)
    if bounds:
        pipe.sadd(_chunks_key(ann.id), *[f"{lo}-{hi}" for lo, hi in bounds])
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

        ann.sms_text = announcement_sms(ann, hotline=_hotline(ann.areas[0] if ann.areas else None))
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
    """One chunk: an SMS Delivery per recipient (bulk insert) and its call (hotline module), then
    the chunk's SMS sent."""
    db = get_db()
    ann = db.get(Announcement, announcement_id)
    if ann is None or ann.status not in ("sending", "sent"):
        log.info("fan-out skipped id=%s status=%s", announcement_id, ann.status if ann else None)
        return "skipped"
    now = utcnow()
    rows, calls = [], []
    bodies = _SmsBodies(db, ann)
    for r in recipients(db, ann, first_id=first_id, last_id=last_id):
        if "sms" in r.channels:
            # area_id keeps each household's commune: its hotline is in the body, its sender sends it.
            rows.append({
                "idempotency_key": delivery_key(ann.id, "sms", r.phone), "announcement_id": ann.id,
                "resident_id": r.resident_id, "area_id": r.area_id, "phone": r.phone, "channel": "sms",
                "body": bodies.get(r.area_id), "status": "pending", "attempts": 0, "created_at": now, "updated_at": now,
            })
        if "voice" in r.channels:
            calls.append(r)
    inserted = insert_ignoring_duplicates(db, rows)
    db.commit()
    for r in calls:
        # The hotline module places it (after quiet hours, once the audio is rendered); a call
        # queued before (a re-run chunk) is found by its key and not queued again.
        _queue_call(db, ann, phone=r.phone, resident_id=r.resident_id, area_id=r.area_id)
    db.commit()
    log.info("fan-out id=%s residents=%s..%s sms_rows=%s inserted=%s calls=%s", ann.id, first_id, last_id,
             len(rows), inserted, len(calls))
    if rows:
        send_chunk(ann.id, first_id, last_id)
    _chunk_done(db, ann.id, first_id, last_id)
    return inserted


class _SmsBodies:
    """The SMS each household gets: the announcement's text with its own commune's hotline (an
    announcement to a whole province reaches every commune, each with its own number)."""

    def __init__(self, db, ann):
        self.db, self.ann, self.by_area = db, ann, {}
        self.default_hotline = _hotline(ann.areas[0] if ann.areas else None)

    def get(self, area_id):
        if area_id not in self.by_area:
            area = self.db.get(Area, area_id) if area_id is not None else None
            hotline = _hotline(area) if area is not None else self.default_hotline
            self.by_area[area_id] = self.ann.sms_text if hotline == self.default_hotline else self._text(hotline)
        return self.by_area[area_id]

    def _text(self, hotline):
        from gateway.sms.digest import announcement_sms

        # Written afresh from the title and body: the stored sms_text already ends with a hotline.
        draft = Announcement(title=self.ann.title, body=self.ann.body, priority=self.ann.priority)
        return announcement_sms(draft, hotline=hotline)


def _hotline(area):
    """The hotline residents of `area` call (its own, its commune's, else the gateway's)."""
    return (area.inherited("hotline_number") if area is not None else None) or current_app.config.get("HOTLINE_NUMBER")


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
    """Areas by id, loaded once per job (quiet hours are per commune, inherited down the tree)."""

    def __init__(self, db, fallback):
        self.db, self.fallback, self.cache = db, fallback, {}

    def get(self, area_id):
        if area_id is None:
            return self.fallback
        if area_id not in self.cache:
            self.cache[area_id] = self.db.get(Area, area_id) or self.fallback
        return self.cache[area_id]


def _in_chunk(announcement_id, first_id, last_id):
    return (Delivery.announcement_id == announcement_id, Delivery.channel == "sms",
            Delivery.resident_id.between(first_id, last_id))


def send_chunk(announcement_id, first_id, last_id):
    """Send a chunk's pending SMS, one by one through the SMS module, within the shared rate limit;
    what quiet hours hold back comes back as this job when they end."""
    db = get_db()
    ann = db.get(Announcement, announcement_id)
    if ann is None or ann.status not in ("sending", "sent"):
        return "skipped"
    _recover_stuck(db, ann.id, first_id, last_id)
    now = utcnow()
    if ann.expires_at is not None and ann.expires_at <= now:
        # Held back past its expiry (a long night, a long outage): old news is not sent.
        n = db.execute(update(Delivery).where(*_in_chunk(ann.id, first_id, last_id), Delivery.status == "pending")
                       .values(status="skipped", error_code="expired", updated_at=now)).rowcount
        db.commit()
        log.info("send chunk id=%s residents=%s..%s expired: skipped=%s", ann.id, first_id, last_id, n)
        return "expired"
    pending = list(db.execute(select(Delivery.id, Delivery.area_id)
                              .where(*_in_chunk(ann.id, first_id, last_id), Delivery.status == "pending")
                              .order_by(Delivery.id)))
    areas = _Areas(db, ann.areas[0] if ann.areas else None)
    held_until, outcomes = None, Counter()
    send = _sms_sender(db)
    held = defaultdict(list)
    for delivery_id, area_id in pending:
        area = areas.get(area_id)
        if area is not None and quiet.held_back(ann.priority, "sms"):
            allowed = quiet.next_allowed(area, now)
            if allowed > now:
                held[allowed].append(delivery_id)
                continue
        outcomes[send(delivery_id)] += 1
    for allowed, ids in held.items():
        # Due then, not before: the SMS module's clean-up leaves pending rows alone until they are overdue.
        db.execute(update(Delivery).where(Delivery.id.in_(ids)).values(next_attempt_at=allowed))
        held_until = min(held_until or allowed, allowed)
    db.commit()
    if held_until is not None:
        queue.enqueue(THIS + "send_chunk", ann.id, first_id, last_id, queue="bulk", at=held_until,
                      retry=_retry(), job_timeout=chunk_timeout())
    if ann.priority in ("urgent", "emergency") and outcomes:
        _schedule_escalation(ann, first_id, last_id)
    log.info("send chunk id=%s residents=%s..%s outcomes=%s held=%s until=%s", ann.id, first_id, last_id,
             dict(outcomes), sum(len(ids) for ids in held.values()), held_until.isoformat() if held_until else None)
    return dict(outcomes)


def _recover_stuck(db, announcement_id, first_id, last_id):
    """SMS a killed worker left "sending" in this chunk: the SMS module's requeue_stuck decides
    (look up, resend or leave to an operator) once they are old enough to be surely dead; until
    then a clean-up job is scheduled for that moment."""
    from gateway.sms import outbound

    oldest = db.scalar(select(func.min(Delivery.updated_at))
                       .where(*_in_chunk(announcement_id, first_id, last_id), Delivery.status == "sending"))
    if oldest is None:
        return
    due = oldest + outbound.STUCK_AFTER
    if due <= utcnow():
        counts = outbound.requeue_stuck(db, current_app.config)
        log.warning("broadcast id=%s residents=%s..%s stuck sms handled: %s", announcement_id, first_id, last_id,
                    counts)
    else:
        minutes = int(outbound.STUCK_AFTER.total_seconds() // 60)
        queue.enqueue("gateway.sms.jobs.requeue_stuck", minutes, queue="default",
                      at=due + dt.timedelta(seconds=30), job_id=f"ann-{announcement_id}-stuck-{first_id}")
        log.info("broadcast id=%s residents=%s..%s sms left sending: clean-up at %s", announcement_id, first_id,
                 last_id, due.isoformat())


def _sms_sender(db):
    """Send one pending SMS delivery through the SMS module's send path (claim, send, record; its
    own retries), after a slot of the provider's shared rate limit; a 429 pauses every sender."""
    from gateway.broadcast.ratelimit import RateLimiter
    from gateway.sms.jobs import send_delivery

    config = current_app.config
    limiter = RateLimiter(queue.get_connection(), f"sms:{config['SMS_PROVIDER']}",
                          float(config["SMS_RATE_PER_SECOND"]))

    def send(delivery_id):
        limiter.acquire()
        outcome = send_delivery(delivery_id)
        if outcome == "retry":
            d = db.get(Delivery, delivery_id)
            if d.error_code == "429" and d.next_attempt_at is not None:
                # The provider asked everyone to slow down: nobody sends until its Retry-After.
                limiter.pause(max(0.0, (d.next_attempt_at - utcnow()).total_seconds()))
        return outcome

    return send


def _queue_call(db, ann, *, phone, resident_id, area_id):
    """A call through the hotline module; the key makes a second request for the same phone a no-op."""
    from gateway.ivr.calls import queue_call

    return queue_call(db, phone=phone, key=delivery_key(ann.id, "voice", phone), announcement_id=ann.id,
                      resident_id=resident_id, area_id=area_id, purpose="announcement",
                      priority=ann.priority, queue="high" if ann.priority != "normal" else "default")


def _audio_state(ann):
    """ready / wait / failed: whether the announcement's audio can be linked to yet."""
    asset = ann.audio
    if asset is None:
        return "wait"
    if asset.status == "failed":
        return "failed"
    return "ready" if asset.status == "ready" and asset.mp3_path else "wait"


# --- escalation --------------------------------------------------------------------------

def _schedule_escalation(ann, first_id, last_id):
    minutes = _setting("ESCALATE_AFTER_MINUTES")
    queue.enqueue(THIS + "escalate", ann.id, first_id, last_id, queue="default", retry=_retry(),
                  at=utcnow() + dt.timedelta(minutes=minutes), job_id=f"ann-{ann.id}-escalate-{first_id}")


def escalate(announcement_id, first_id, last_id):
    """Call the elderly and no-smartphone households of a chunk that have not confirmed an urgent SMS
    (confirmed: `confirmed_at` on any of the announcement's deliveries to that phone)."""
    db = get_db()
    ann = db.get(Announcement, announcement_id)
    if ann is None or ann.priority not in ("urgent", "emergency") or ann.status not in ("sending", "sent"):
        return "skipped"
    candidates = list(db.execute(
        select(Delivery.phone, Delivery.resident_id, Delivery.area_id, Delivery.status)
        .join(Resident, Resident.id == Delivery.resident_id)
        .where(*_in_chunk(ann.id, first_id, last_id), Resident.opted_out_at.is_(None))
        .where(Resident.is_elderly.is_(True) | Resident.no_smartphone.is_(True))
        .order_by(Delivery.id)))
    if not candidates:
        return 0
    phones = [c.phone for c in candidates]
    confirmed = set(db.scalars(select(Delivery.phone).where(
        Delivery.announcement_id == ann.id, Delivery.confirmed_at.is_not(None), Delivery.phone.in_(phones))))
    called = set(db.scalars(select(Delivery.phone).where(
        Delivery.announcement_id == ann.id, Delivery.channel == "voice", Delivery.phone.in_(phones))))
    waiting, calls = 0, 0
    for c in candidates:
        if c.phone in confirmed or c.phone in called:
            continue
        if c.status in ("pending", "sending"):
            waiting += 1  # its SMS has not gone yet (quiet hours, retries): the clock has not started
            continue
        _queue_call(db, ann, phone=c.phone, resident_id=c.resident_id, area_id=c.area_id)
        calls += 1
    db.commit()
    if waiting:
        queue.enqueue(THIS + "escalate", ann.id, first_id, last_id, queue="default", retry=_retry(),
                      at=utcnow() + dt.timedelta(minutes=_setting("ESCALATE_AFTER_MINUTES")))
    log.info("escalation id=%s residents=%s..%s households=%s confirmed=%s calls=%s waiting=%s", ann.id, first_id,
             last_id, len(candidates), len(confirmed), calls, waiting)
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
