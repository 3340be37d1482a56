"""The job that places one outbound call (runs in RQ workers; it imports the provider).

Idempotent: the row is claimed with a conditional UPDATE (pending, or a retriable status
whose retry is due, → sending), so a duplicated or retried job never places a second call.
Quiet hours and the concurrency cap put the job back on the queue for later, unclaimed.
"""
import datetime as dt
import logging
import random

from flask import current_app
from sqlalchemy import func, select, update

from gateway.announcements.quiet import next_allowed
from gateway.db import get_db
from gateway.ivr import calls
from gateway.ivr.providers import get_provider
from gateway.models import Delivery, utcnow
from gateway.queue import enqueue, retries_left
from gateway.transport import TransportError
from gateway.twilio_auth import url_for_provider

log = logging.getLogger(__name__)

# A call still "sending" after this long lost its status callbacks: it no longer counts
# against VOICE_MAX_CONCURRENT.
SENDING_WINDOW = dt.timedelta(minutes=10)
# Waiting for an announcement's audio; after this the call goes with <Say> instead.
AUDIO_WAIT = dt.timedelta(minutes=10)
CLAIMABLE = ("pending", *calls.RETRIABLE)


def place_call(delivery_id):
    """Place the call of voice Delivery `delivery_id` unless it was placed already; returns what happened."""
    db = get_db()
    config = current_app.config
    delivery = db.get(Delivery, delivery_id)
    if delivery is None or delivery.channel != "voice":
        return "missing"
    now = utcnow()
    if delivery.status not in CLAIMABLE or delivery.attempts >= calls.max_attempts(config):
        return f"nothing to do ({delivery.status})"
    if delivery.status != "pending" and (delivery.next_attempt_at is None or delivery.next_attempt_at > now
                                         + dt.timedelta(seconds=5)):
        return "retry not due"  # a stale duplicate of an earlier attempt's job
    skip = _skip_reason(delivery, now)
    if skip:
        calls.advance(db, delivery, "skipped" if skip != "cancelled" else "cancelled", last_error=skip)
        log.info("call skipped delivery=%s reason=%s", delivery.id, skip)
        return f"skipped ({skip})"
    area = calls.area_of(db, delivery)
    priority = calls.priority_of(delivery)
    if area is not None and not calls.quiet_exempt(delivery, priority, now):
        allowed = next_allowed(area, now)
        if allowed > now:
            return _later(db, delivery, allowed, "quiet hours")
    ann = delivery.announcement
    if ann is not None and not calls.audio_ready(db, delivery) and now - delivery.created_at < AUDIO_WAIT:
        from gateway.media.assets import request_announcement_audio

        request_announcement_audio(db, ann)
        return _later(db, delivery, now + dt.timedelta(seconds=20), "audio not rendered yet")
    previous = (delivery.status, delivery.attempts)
    claimed = db.execute(
        update(Delivery).where(Delivery.id == delivery.id, Delivery.status == previous[0],
                               Delivery.attempts == previous[1])
        .values(status="sending", attempts=Delivery.attempts + 1, provider_id=None, error_code=None,
                last_error=None, sent_at=now, next_attempt_at=None, updated_at=now)
        .execution_options(synchronize_session=False)).rowcount
    db.commit()
    if not claimed:
        return "claimed by another job"
    db.refresh(delivery)
    cap = int(config.get("VOICE_MAX_CONCURRENT") or 0)
    if cap and _in_flight(db, now) > cap:
        _release(db, delivery, previous)
        return _later(db, delivery, now + dt.timedelta(seconds=random.randint(15, 45)), "concurrency cap")
    provider = get_provider(config)
    url, status_callback = provider.webhook_urls(delivery.id)
    try:
        call_id = provider.call(delivery.phone, purpose=calls.purpose_of(delivery), url=url_for_provider(url),
                                status_callback=url_for_provider(status_callback) if status_callback else None)
    except TransportError as exc:
        if exc.permanent or not retries_left():
            db.execute(update(Delivery).where(Delivery.id == delivery.id, Delivery.status == "sending")
                       .values(status="failed", error_code=exc.code or "error", last_error=str(exc)[:2000],
                               provider=provider.name).execution_options(synchronize_session=False))
            db.commit()
            log.warning("call failed delivery=%s code=%s permanent=%s", delivery.id, exc.code, exc.permanent)
            return "failed"
        # Unclaimed so RQ's retry can claim again; a call that was in fact placed has meanwhile
        # moved the row on through its status callback, and the retry then finds nothing to do.
        _release(db, delivery, previous)
        log.warning("call transient error delivery=%s code=%s: retrying", delivery.id, exc.code)
        raise
    db.execute(update(Delivery).where(Delivery.id == delivery.id,
                                      (Delivery.provider_id.is_(None)) | (Delivery.provider_id == call_id))
               .values(provider=provider.name, provider_id=call_id).execution_options(synchronize_session=False))
    db.commit()
    log.info("call placed delivery=%s provider=%s call=%s attempt=%s", delivery.id, provider.name, call_id,
             delivery.attempts)
    return "placed"


def _skip_reason(delivery, now):
    if delivery.resident is not None and delivery.resident.opted_out_at is not None:
        return "opted out"
    ann = delivery.announcement
    if ann is not None:
        if ann.status == "cancelled":
            return "cancelled"
        if ann.expires_at is not None and ann.expires_at <= now:
            return "announcement expired"
    return None


def _in_flight(db, now):
    """Voice calls ringing or in progress (placed in the last few minutes), this one included."""
    return db.scalar(select(func.count(Delivery.id)).where(
        Delivery.channel == "voice", Delivery.status == "sending", Delivery.sent_at > now - SENDING_WINDOW))


def _release(db, delivery, previous):
    status, attempts = previous
    db.execute(update(Delivery).where(Delivery.id == delivery.id, Delivery.status == "sending",
                                      Delivery.provider_id.is_(None))
               .values(status=status, attempts=attempts, sent_at=None).execution_options(synchronize_session=False))
    db.commit()
    db.refresh(delivery)


def _later(db, delivery, at, reason):
    db.execute(update(Delivery).where(Delivery.id == delivery.id).values(next_attempt_at=at)
               .execution_options(synchronize_session=False))
    db.commit()
    enqueue(calls.JOB, delivery.id, queue=calls.job_queue(delivery), at=at, retry=calls.TRANSIENT_RETRY)
    log.info("call delayed delivery=%s until=%s reason=%s", delivery.id, at.isoformat(), reason)
    return f"later ({reason})"


def file_recording(fields):
    """File a voice report the caller left at "bấm 1 để gửi" (hung up); nothing when it was filed or re-recorded.

    `fields` is what the provider's recording callback said (area, category, url, rec, caller,
    call): the recording is not in the database until it is filed."""
    from gateway.ivr import flow
    from gateway.models import Area

    db = get_db()
    area = db.get(Area, int(fields["area"]))
    if area is None:
        return "no area"
    if calls.recording_discarded(fields["url"]):
        log.info("recording recorded again, not filed call=%s", fields.get("call"))
        return "recorded again"
    event = flow.Event(step="recording", state={"category": fields.get("category")}, caller=fields.get("caller", ""),
                       call_id=fields.get("call", ""), recording_url=fields["url"], recording_id=fields.get("rec", ""))
    report = flow.file_report(flow.Context(db=db, config=current_app.config, resolve=None, audio_url=None,
                                           request_audio=None), event, area)
    return f"report {report.id}"
