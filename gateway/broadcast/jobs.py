"""The broadcast pipeline as RQ jobs: start → audio and SMS text → fan-out in chunks (each
chunk inserts its deliveries, queues its calls and sends its SMS) → group posts; then an
escalation call for urgent notices the elderly have not confirmed.

Every job takes ids and reloads state. Nothing is sent twice: each recipient and channel is one
Delivery row with a unique key (f"ann:{id}:{channel}:{phone}"), SMS rows inserted with
INSERT … ON CONFLICT DO NOTHING, calls through the hotline module's queue_call; only the SMS and
hotline modules send, each claiming the row first. So a re-run chunk, a duplicated job or a
worker killed mid-way skips what was done and finishes the rest. The plan is in the database
(a BroadcastChunk row per chunk, pending until fanned out), so when a job is lost with Redis or
a worker, the reconciler (gateway.reconcile) finds its chunk and runs it again; the
announcement is "sent" once every chunk is done and none of its SMS or calls is still pending.
"""
import datetime as dt
import logging
from collections import Counter, defaultdict

from flask import current_app
from rq import Retry
from sqlalchemy import select, update
from sqlalchemy.dialects import postgresql, sqlite

from gateway import queue
from gateway.announcements import quiet
from gateway.announcements.targeting import chunk_bounds, recipients
from gateway.db import get_db
from gateway.models import Announcement, Area, BroadcastChunk, Delivery, Resident, utcnow

log = logging.getLogger(__name__)

THIS = "gateway.broadcast.jobs."
AUDIO_POLL_SECONDS = 30
CHUNK_RETRY = dict(max=5, interval=[10, 30, 120, 300, 900])


def _retry():
    return Retry(**CHUNK_RETRY)


def _setting(name, cast=int):
    return cast(current_app.config[name])


# --- start -------------------------------------------------------------------------------

def start(announcement_id):
    """Begin sending a scheduled announcement: audio, SMS text, fan-out chunks, group posts.

    The conditional UPDATE scheduled→sending makes a duplicate start (or one after a cancel) a
    no-op; the plan (one BroadcastChunk row per chunk, and one for the group posts) is written
    once, guarded by `planned_at`, so a start that died before planning is simply run again (the
    reconciler does that) and two racing starts leave one plan."""
    db = get_db()
    claimed = db.execute(update(Announcement).where(Announcement.id == announcement_id,
                                                    Announcement.status == "scheduled")
                         .values(status="sending", updated_at=utcnow())).rowcount
    db.commit()
    ann = db.get(Announcement, announcement_id)
    if ann is None:
        log.warning("broadcast start: announcement=%s is gone", announcement_id)
        return "missing"
    if ann.status != "sending" or ann.planned_at is not None:
        log.info("broadcast start skipped id=%s status=%s planned=%s", ann.id, ann.status, ann.planned_at is not None)
        return "skipped"
    if not claimed:
        log.warning("broadcast start resumed id=%s (an earlier start stopped before planning)", ann.id)
    _prepare_content(db, ann)
    bounds = chunk_bounds(db, ann, _setting("BROADCAST_CHUNK_SIZE")) if _person_channels(ann) else []
    now = utcnow()
    steps = [{"announcement_id": ann.id, "kind": "fanout", "first_id": lo, "last_id": hi} for lo, hi in bounds]
    if "group" in (ann.channels or []):
        steps.append({"announcement_id": ann.id, "kind": "groups", "first_id": 0, "last_id": 0})
    if steps:
        _insert_steps(db, [{**step, "status": "pending", "requeued": 0, "created_at": now, "updated_at": now}
                           for step in steps])
    planned = db.execute(update(Announcement).where(Announcement.id == ann.id, Announcement.planned_at.is_(None))
                         .values(planned_at=now)).rowcount
    if not planned:
        db.rollback()  # another start planned it meanwhile; its plan stands
        return "skipped"
    db.commit()
    for lo, hi in bounds:
        enqueue_fan_out(ann.id, lo, hi)
    if "group" in (ann.channels or []):
        enqueue_group_posts(ann.id)
    log.info("broadcast started id=%s chunks=%s channels=%s priority=%s", ann.id, len(bounds),
             ",".join(ann.channels or []), ann.priority)
    finish_if_done(db, ann.id)
    return f"{len(bounds)} chunks"


def _insert_steps(db, rows):
    dialect = db.get_bind().dialect.name
    insert = {"postgresql": postgresql.insert, "sqlite": sqlite.insert}[dialect]
    db.execute(insert(BroadcastChunk.__table__).on_conflict_do_nothing(
        index_elements=["announcement_id", "kind", "first_id"]), rows)


def enqueue_fan_out(announcement_id, first_id, last_id):
    """The fan-out job of one chunk (one job id per chunk: the reconciler does not duplicate a live one)."""
    return queue.enqueue_unless_alive(THIS + "fan_out", announcement_id, first_id, last_id, queue="bulk",
                                      retry=_retry(), job_timeout=chunk_timeout(),
                                      job_id=f"ann-{announcement_id}-fanout-{first_id}")


def enqueue_group_posts(announcement_id, attempt=0):
    """The job that writes an announcement's group posts."""
    return queue.enqueue_unless_alive(THIS + "post_to_groups", announcement_id, attempt, queue="default",
                                      retry=_retry(), job_id=f"ann-{announcement_id}-groups")


def _person_channels(ann):
    return {"sms", "voice"} & set(ann.channels or [])


def _prepare_content(db, ann):
    """Queue the audio rendering and write the SMS text (once: a resumed start keeps it)."""
    if {"voice", "hotline", "loudspeaker", "group"} & set(ann.channels or []) or ann.priority != "normal":
        from gateway.media.assets import request_announcement_audio

        request_announcement_audio(db, ann)
    if "sms" in (ann.channels or []) and not ann.sms_text:
        from gateway.sms.digest import default_sms

        # the console stores the official's choice first
        ann.sms_text = default_sms(ann, hotline=_hotline(ann.areas[0] if ann.areas else None))
        db.commit()


UNFINISHED = ("pending", "sending")


def finish_if_done(db, announcement_id):
    """Mark a sending announcement "sent" once every chunk is fanned out (so every targeted
    household has its rows) and none of its SMS or calls is still pending or being sent.

    One conditional UPDATE, run after the caller's own commit, so of two chunks finishing
    together at least the later one sees both done; the reconciler catches any other case."""
    steps_left = select(BroadcastChunk.id).where(BroadcastChunk.announcement_id == announcement_id,
                                                 BroadcastChunk.kind == "fanout", BroadcastChunk.status != "done")
    unsent = select(Delivery.id).where(Delivery.announcement_id == announcement_id,
                                       Delivery.channel.in_(("sms", "voice")), Delivery.status.in_(UNFINISHED))
    done = db.execute(update(Announcement).where(
        Announcement.id == announcement_id, Announcement.status == "sending", Announcement.planned_at.is_not(None),
        ~steps_left.exists(), ~unsent.exists()).values(status="sent", updated_at=utcnow())).rowcount
    db.commit()
    if done:
        log.info("broadcast done id=%s status=sent", announcement_id)
    return bool(done)


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
    _step_done(db, ann.id, "fanout", first_id)  # every household of the chunk has its rows now
    if rows:
        send_chunk(ann.id, first_id, last_id)
    finish_if_done(db, ann.id)
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
        from gateway.sms.digest import _suffix

        # The stored text (chosen by the official, or the default) ends with the first area's
        # hotline: that ending is swapped for this commune's, the words stay as they were chosen.
        text, old, new = self.ann.sms_text or "", _suffix(self.default_hotline), _suffix(hotline)
        if old and text.endswith(old):
            return text[: -len(old)] + new
        return text + new


def _hotline(area):
    """The hotline residents of `area` call (its own, its commune's, else the gateway's)."""
    return (area.inherited("hotline_number") if area is not None else None) or current_app.config.get("HOTLINE_NUMBER")


def chunk_timeout():
    """Seconds a chunk job may run: its SMS at the shared rate (all of them, if one worker gets every slot)."""
    config = current_app.config
    return int(int(config["BROADCAST_CHUNK_SIZE"]) / float(config["SMS_RATE_PER_SECOND"]) * 2) + 180


def _step_done(db, announcement_id, kind, first_id):
    db.execute(update(BroadcastChunk).where(BroadcastChunk.announcement_id == announcement_id,
                                            BroadcastChunk.kind == kind, BroadcastChunk.first_id == first_id)
               .values(status="done", done_at=utcnow(), updated_at=utcnow()))
    db.commit()


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
    """Send a chunk's pending SMS through the SMS module (claimed in batches), within the shared rate limit;
    what quiet hours hold back comes back as this job when they end."""
    db = get_db()
    ann = db.get(Announcement, announcement_id)
    if ann is None or ann.status not in ("sending", "sent"):
        return "skipped"
    now = utcnow()
    if ann.expires_at is not None and ann.expires_at <= now:
        # Held back past its expiry (a long night, a long outage): old news is not sent.
        n = db.execute(update(Delivery).where(*_in_chunk(ann.id, first_id, last_id), Delivery.status == "pending")
                       .values(status="skipped", error_code="expired", updated_at=now)).rowcount
        db.commit()
        log.info("send chunk id=%s residents=%s..%s expired: skipped=%s", ann.id, first_id, last_id, n)
        finish_if_done(db, ann.id)
        return "expired"
    pending = list(db.execute(select(Delivery.id, Delivery.area_id)
                              .where(*_in_chunk(ann.id, first_id, last_id), Delivery.status == "pending")
                              .order_by(Delivery.id)))
    areas = _Areas(db, ann.areas[0] if ann.areas else None)
    held_until = None
    from gateway.sms.jobs import send_deliveries  # each takes a slot of the shared send rate

    held, due = defaultdict(list), []
    for delivery_id, area_id in pending:
        area = areas.get(area_id)
        if area is not None and quiet.held_back(ann.priority, "sms"):
            allowed = quiet.next_allowed(area, now)
            if allowed > now:
                held[allowed].append(delivery_id)
                continue
        due.append(delivery_id)
    outcomes = send_deliveries(due) if due else Counter()
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
    finish_if_done(db, ann.id)
    return dict(outcomes)


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
    sent ESCALATE_AFTER_MINUTES ago (confirmed: `confirmed_at` on any of the announcement's
    deliveries to that phone). Safe to run any time and again: the periodic sweep does."""
    db = get_db()
    ann = db.get(Announcement, announcement_id)
    if ann is None or ann.priority not in ("urgent", "emergency") or ann.status not in ("sending", "sent"):
        return "skipped"
    candidates = list(db.execute(
        select(Delivery.phone, Delivery.resident_id, Delivery.area_id, Delivery.status, Delivery.sent_at)
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
    cutoff = utcnow() - dt.timedelta(minutes=_setting("ESCALATE_AFTER_MINUTES"))
    for c in candidates:
        if c.phone in confirmed or c.phone in called:
            continue
        if c.status in ("pending", "sending") or (c.sent_at is not None and c.sent_at > cutoff):
            waiting += 1  # its SMS has not gone yet (quiet hours, retries), or not long ago
            continue
        _queue_call(db, ann, phone=c.phone, resident_id=c.resident_id, area_id=c.area_id)
        calls += 1
    db.commit()
    # Households still waiting are called by a later run: the periodic `escalations` task
    # (gateway.reconcile) runs this for every chunk of a live urgent announcement.
    log.info("escalation id=%s residents=%s..%s households=%s confirmed=%s calls=%s waiting=%s", ann.id, first_id,
             last_id, len(candidates), len(confirmed), calls, waiting)
    return calls


# --- group posts -------------------------------------------------------------------------

def post_to_groups(announcement_id, attempt=0):
    """One post per main group of the target areas, with a link to the audio once it is rendered
    (posted without the link if the audio fails or takes too long)."""
    from gateway.media.assets import asset_url
    from gateway.mirror import messages
    from gateway.mirror.outbound import queue_post

    db = get_db()
    ann = db.get(Announcement, announcement_id)
    if ann is None or ann.status not in ("sending", "sent"):
        return "skipped"
    state = _audio_state(ann)
    if state == "wait" and attempt * AUDIO_POLL_SECONDS < _setting("BROADCAST_AUDIO_WAIT_MINUTES") * 60:
        # Touched, so the reconciler sees this step is alive; `attempt` counts the wait even when
        # the reconciler has to start it again (from the step's age).
        db.execute(update(BroadcastChunk).where(BroadcastChunk.announcement_id == ann.id,
                                                BroadcastChunk.kind == "groups").values(updated_at=utcnow()))
        db.commit()
        queue.enqueue(THIS + "post_to_groups", ann.id, attempt + 1, queue="default", retry=_retry(),
                      at=utcnow() + dt.timedelta(seconds=AUDIO_POLL_SECONDS))
        return "waiting for audio"
    url = asset_url(ann.audio, "mp3") if state == "ready" else None
    text = messages.announcement_text(ann, audio_url=url)
    posts = set()
    for area in ann.areas:
        post = queue_post(db, area=area, text=text, key=f"ann:{ann.id}:group", one_per_group=True,
                          announcement_id=ann.id)
        if post is None:
            log.info("broadcast id=%s area=%s has no group", ann.id, area.id)
        else:
            posts.add(post.id)
    db.commit()
    _step_done(db, ann.id, "groups", 0)
    log.info("broadcast group posts id=%s posts=%s audio=%s", ann.id, len(posts), state)
    return len(posts)
