"""The reconciler and the periodic work, run by the workers themselves (no crontab).

The database is the record of work and Redis only wakes workers, so a job lost with Redis (a
restart, a flush) or with a worker (SIGKILL) leaves rows behind: pending, sending, posting. Each
rule below finds one kind of such rows, older than RECONCILE_AFTER_SECONDS, and enqueues its
work again under a fixed job id, unless that job is still waiting or running (its heartbeat is
fresh). Every job it enqueues is idempotent (rows are claimed before anything is sent), so a
rule that fires for work that was only slow costs a no-op job, never a second SMS or call.

What runs, and how often (`TASKS`; each worker's ticker enqueues a task when its interval has
passed, under a Redis lock, so one worker runs it and any live worker carries on):

    reconcile     RECONCILE_INTERVAL_SECONDS (30)  every rule in RULES
    rq_registries 60 s                             RQ's registries: abandoned jobs retried or failed
    escalations   300 s                            urgent announcements' escalation calls
    bulletins     900 s                            today's daily bulletin of every area with an operator link
"""
import datetime as dt
import logging
from collections import defaultdict

import click
from flask import current_app
from flask.cli import AppGroup
from sqlalchemy import String, cast, func, literal, select, update

from gateway import queue
from gateway.db import get_db
from gateway.mirror.outbound import POST_JOB, requeue_post
from gateway.models import (
    Announcement, Area, AudioAsset, BroadcastChunk, Bulletin, Delivery, GroupPost, OperatorLink, Report, utcnow,
)
from gateway.registry import import_string

log = logging.getLogger(__name__)
BCAST = "gateway.broadcast.jobs."
SMS_JOB = "gateway.sms.jobs.send_delivery"
CALL_JOB = "gateway.ivr.jobs.place_call"
BATCH = 2000  # rows one rule handles per run; the next run takes the rest
# A broadcast step whose job keeps being lost or failing is given up (and shows in /healthz).
MAX_REQUEUES = 20
# A call whose provider never said how it ended (its status callbacks lost).
CALL_STATUS_LOST = dt.timedelta(hours=1)
# Rules look this far back: older work is history, not work.
HORIZON = dt.timedelta(days=7)

TASKS = {
    "reconcile": ("RECONCILE_INTERVAL_SECONDS", "gateway.reconcile.reconcile"),
    "rq_registries": (60, "gateway.queue.clean_registries"),
    "escalations": (300, "gateway.reconcile.escalations"),
    "bulletins": (900, "gateway.reconcile.daily_bulletins"),
}


def task_intervals(config):
    """{task name: seconds between runs}."""
    return {name: float(config[every] if isinstance(every, str) else every) for name, (every, _) in TASKS.items()}


def run_task(name):
    """Run the periodic task `name` (the job the ticker enqueues)."""
    return import_string(TASKS[name][1])()


def _after(config):
    return dt.timedelta(seconds=float(config["RECONCILE_AFTER_SECONDS"]))


def _due(model, cutoff):
    """Rows last touched before `cutoff` whose next attempt (if any) was due before it."""
    return (model.updated_at < cutoff, model.next_attempt_at.is_(None) | (model.next_attempt_at < cutoff))


# --- announcements ---------------------------------------------------------------------------

def scheduled_starts(db, config, now):
    """Announcements whose time has come but whose start job is gone; and starts that died before
    planning (status sending, no plan)."""
    from gateway.broadcast.service import START_JOB, START_RETRY
    from rq import Retry

    cutoff = now - _after(config)
    ids = list(db.scalars(select(Announcement.id).where(
        ((Announcement.status == "scheduled") & (func.coalesce(Announcement.send_at, Announcement.created_at) < cutoff))
        | ((Announcement.status == "sending") & Announcement.planned_at.is_(None) & (Announcement.updated_at < cutoff)))
        .where(Announcement.created_at > now - HORIZON).limit(BATCH)))
    return sum(queue.enqueue_unless_alive(START_JOB, i, job_id=f"announcement-{i}-start", queue="default",
                                          retry=Retry(**START_RETRY)) is not None for i in ids)


def broadcast_steps(db, config, now):
    """Fan-out chunks (and group-post steps) still pending whose job is gone."""
    from gateway.broadcast import jobs

    cutoff = now - _after(config)
    steps = list(db.scalars(select(BroadcastChunk).join(Announcement, Announcement.id == BroadcastChunk.announcement_id)
                            .where(BroadcastChunk.status == "pending", BroadcastChunk.updated_at < cutoff,
                                   Announcement.status.in_(("sending", "sent")))
                            .order_by(BroadcastChunk.id).limit(BATCH)))
    n = 0
    for step in steps:
        if step.requeued >= MAX_REQUEUES:
            step.status = "failed"
            log.error("reconcile: broadcast step given up announcement=%s kind=%s first=%s after %s tries",
                      step.announcement_id, step.kind, step.first_id, step.requeued)
            continue
        if step.kind == "fanout":
            job = jobs.enqueue_fan_out(step.announcement_id, step.first_id, step.last_id)
        else:
            waited = int((now - step.created_at).total_seconds() // jobs.AUDIO_POLL_SECONDS)
            job = jobs.enqueue_group_posts(step.announcement_id, waited)
        if job is not None:
            step.requeued += 1
            step.updated_at = now
            n += 1
            log.warning("reconcile: broadcast step requeued announcement=%s kind=%s first=%s times=%s",
                        step.announcement_id, step.kind, step.first_id, step.requeued)
    db.commit()
    return n


def finished_announcements(db, config, now):
    """Sending announcements whose last SMS or call ended outside a chunk job (a retry, a callback)."""
    from gateway.broadcast.jobs import finish_if_done

    ids = list(db.scalars(select(Announcement.id).where(Announcement.status == "sending",
                                                        Announcement.planned_at.is_not(None)).limit(BATCH)))
    return sum(finish_if_done(db, i) for i in ids)


def announcement_audio(db, config, now):
    """Announcements that need audio but never got their rendition (the render job was lost)."""
    from gateway.media.assets import ANNOUNCEMENT_JOB, JOB_TIMEOUT

    cutoff = now - _after(config)
    rows = db.scalars(select(Announcement).where(
        Announcement.status.in_(("sending", "sent")), Announcement.audio_id.is_(None),
        Announcement.planned_at < cutoff, Announcement.planned_at > now - HORIZON).limit(BATCH))
    n = 0
    for ann in rows:
        needs = {"voice", "hotline", "loudspeaker", "group"} & set(ann.channels or []) or ann.priority != "normal"
        if needs and (ann.expires_at is None or ann.expires_at > now) and (ann.body or ann.recording_id):
            n += queue.enqueue_unless_alive(ANNOUNCEMENT_JOB, ann.id, job_id=f"announcement-{ann.id}-audio",
                                            queue="audio", job_timeout=JOB_TIMEOUT) is not None
    return n


# --- SMS -------------------------------------------------------------------------------------

def sms_pending(db, config, now):
    """Pending SMS overdue with no live job: a broadcast's through its chunk's send job (quiet
    hours, expiry and the rate limit apply there), any other through the SMS send job."""
    from gateway.broadcast.jobs import chunk_timeout

    cutoff = now - _after(config)
    live = select(Announcement.id).where(Announcement.status.in_(("sending", "sent")))
    rows = list(db.execute(select(Delivery.id, Delivery.announcement_id, Delivery.resident_id).where(
        Delivery.channel == "sms", Delivery.status == "pending", *_due(Delivery, cutoff),
        Delivery.created_at > now - HORIZON,
        Delivery.announcement_id.is_(None) | Delivery.announcement_id.in_(live)).order_by(Delivery.id).limit(BATCH)))
    chunks = defaultdict(list)
    for step in db.scalars(select(BroadcastChunk).where(
            BroadcastChunk.kind == "fanout",
            BroadcastChunk.announcement_id.in_({r.announcement_id for r in rows if r.announcement_id}))):
        chunks[step.announcement_id].append(step)
    n, wanted = 0, set()
    for delivery_id, announcement_id, resident_id in rows:
        step = next((c for c in chunks.get(announcement_id, ()) if resident_id is not None
                     and c.first_id <= resident_id <= c.last_id), None)
        if step is None:
            n += queue.enqueue_unless_alive(SMS_JOB, delivery_id, job_id=f"sms-{delivery_id}-r",
                                            queue="high") is not None
        else:
            wanted.add((step.announcement_id, step.first_id, step.last_id))
    for announcement_id, first_id, last_id in sorted(wanted):
        if queue.job_alive(f"ann-{announcement_id}-fanout-{first_id}"):
            continue  # its fan-out job is still sending them
        n += queue.enqueue_unless_alive(BCAST + "send_chunk", announcement_id, first_id, last_id, queue="bulk",
                                        job_id=f"ann-{announcement_id}-send-{first_id}",
                                        job_timeout=chunk_timeout()) is not None
    return n


def sms_sending(db, config, now):
    """SMS left "sending" by a worker that died: found at the provider, sent again where the
    provider refuses duplicates, or left to an operator (the SMS module's stuck-message rules)."""
    from gateway.sms.outbound import recover_sending

    counts = recover_sending(db, config, older_than=_after(config))
    return sum(counts.values())


# --- calls -----------------------------------------------------------------------------------

def calls_pending(db, config, now):
    """Calls pending, or due for their retry, with no live job."""
    from gateway.ivr import calls

    cutoff = now - _after(config)
    rows = list(db.scalars(select(Delivery).where(
        Delivery.channel == "voice", Delivery.created_at > now - HORIZON, *_due(Delivery, cutoff),
        (Delivery.status == "pending") | (Delivery.status.in_(calls.RETRIABLE) & Delivery.next_attempt_at.is_not(None)),
        Delivery.attempts < calls.max_attempts(config)).order_by(Delivery.id).limit(BATCH)))
    return sum(queue.enqueue_unless_alive(CALL_JOB, d.id, job_id=f"call-{d.id}-r", queue=calls.job_queue(d),
                                          retry=calls.TRANSIENT_RETRY) is not None for d in rows)


def calls_sending(db, config, now):
    """Calls left "sending": a worker died while placing one (it may have rung: never placed again,
    left to an operator), or the provider's status callbacks never came."""
    from gateway.sms.outbound import NEEDS_OPERATOR

    placing = db.execute(update(Delivery).where(
        Delivery.channel == "voice", Delivery.status == "sending", Delivery.provider_id.is_(None),
        Delivery.updated_at < now - _after(config)).values(
        status="failed", error_code=NEEDS_OPERATOR, updated_at=now,
        last_error="The worker stopped while placing the call; it may have rung. Not placed again.")).rowcount
    lost = db.execute(update(Delivery).where(
        Delivery.channel == "voice", Delivery.status == "sending", Delivery.provider_id.is_not(None),
        Delivery.updated_at < now - CALL_STATUS_LOST).values(
        status="failed", error_code="status_unknown", updated_at=now,
        last_error="The provider never reported how the call ended.")).rowcount
    db.commit()
    if placing or lost:
        log.warning("reconcile: calls left sending placing=%s status_lost=%s", placing, lost)
    return placing + lost


# --- group posts, audio, bulletins -----------------------------------------------------------

def group_posts(db, config, now):
    """Posts pending with no live job, and posts a dead worker left "posting" (sent again only
    where the target makes that safe; otherwise left to an operator)."""
    from gateway.mirror.jobs import recover_posting

    cutoff = now - _after(config)
    pending = list(db.scalars(select(GroupPost.id).where(
        GroupPost.status == "pending", *_due(GroupPost, cutoff), GroupPost.created_at > now - HORIZON)
        .order_by(GroupPost.id).limit(BATCH)))
    n = sum(queue.enqueue_unless_alive(POST_JOB, i, job_id=f"group-post-{i}-r", queue="high") is not None
            for i in pending)
    for gp in db.scalars(select(GroupPost).where(GroupPost.status == "posting", GroupPost.updated_at < cutoff)
                         .limit(BATCH)).all():
        log.warning("reconcile: group post left posting post=%s: %s", gp.id, recover_posting(db, gp))
        n += 1
    return n


def audio_assets(db, config, now):
    """Audio assets pending with no live render job."""
    from gateway.media.assets import JOB_TIMEOUT, RENDER_JOB, job_id

    cutoff = now - _after(config)
    ids = list(db.scalars(select(AudioAsset.id).where(AudioAsset.status == "pending", AudioAsset.created_at < cutoff,
                                                      AudioAsset.created_at > now - HORIZON).limit(BATCH)))
    return sum(queue.enqueue_unless_alive(RENDER_JOB, i, job_id=job_id(i), queue="audio",
                                          job_timeout=JOB_TIMEOUT) is not None for i in ids)


def bulletins(db, config, now):
    """Daily bulletins pending with no live job."""
    from gateway.loudspeaker.bulletin import JOB

    cutoff = now - _after(config)
    ids = list(db.scalars(select(Bulletin.id).where(Bulletin.status == "pending", Bulletin.updated_at < cutoff,
                                                    Bulletin.updated_at > now - HORIZON).limit(BATCH)))
    return sum(queue.enqueue_unless_alive(JOB, i, job_id=f"bulletin-{i}-render", queue="audio",
                                          job_timeout=900) is not None for i in ids)


def voice_reports(db, config, now):
    """Voice reports whose processing job (fetch the recording, then mirror) was lost: no mirror
    post yet though their area has a group."""
    from gateway.mirror import group_of
    from gateway.ivr.recordings import JOB, RETRY

    cutoff = now - _after(config)
    key = literal("report:") + cast(Report.id, String) + literal(":mirror")
    mirrored = select(GroupPost.id).where(GroupPost.report_id == Report.id, GroupPost.idempotency_key == key)
    reports = db.scalars(select(Report).where(Report.channel == "voice", Report.created_at < cutoff,
                                              Report.created_at > now - dt.timedelta(days=1), ~mirrored.exists())
                         .limit(BATCH))
    n = 0
    for report in reports:
        area = report.area or db.get(Area, report.commune_id)
        if area is not None and group_of(area) is not None:
            n += queue.enqueue_unless_alive(JOB, report.id, job_id=f"voice-report-{report.id}", queue="high",
                                            retry=RETRY) is not None
    return n


def poll_summaries(db, config, now):
    """Polls past their deadline whose summary was never posted (the job scheduled for the deadline lost)."""
    from gateway.models import Poll
    from gateway.polls.polls import SUMMARY_JOB, summary_job_id

    cutoff = now - _after(config)
    ids = list(db.scalars(select(Poll.id).where(Poll.status == "open", Poll.summary_posted_at.is_(None),
                                                Poll.closes_at < cutoff, Poll.closes_at > now - HORIZON).limit(BATCH)))
    return sum(queue.enqueue_unless_alive(SUMMARY_JOB, i, job_id=summary_job_id(i), queue="default") is not None
               for i in ids)


RULES = (scheduled_starts, broadcast_steps, announcement_audio, sms_pending, sms_sending, calls_pending,
         calls_sending, group_posts, voice_reports, audio_assets, bulletins, finished_announcements, poll_summaries)


def reconcile(rules=RULES):
    """Run every rule once; {rule name: jobs enqueued or rows settled}."""
    db, config, now = get_db(), current_app.config, utcnow()
    out = {}
    for rule in rules:
        out[rule.__name__] = rule(db, config, now)
    if any(out.values()):
        log.warning("reconcile: %s", {k: v for k, v in out.items() if v})
    return out


# --- other periodic work ---------------------------------------------------------------------

def escalations():
    """Escalation calls of urgent announcements still live: each done chunk's `escalate` (it calls
    only households whose SMS went out ESCALATE_AFTER_MINUTES ago and were not confirmed or called)."""
    from gateway.broadcast.jobs import CHUNK_RETRY
    from rq import Retry

    db, config, now = get_db(), current_app.config, utcnow()
    window = dt.timedelta(minutes=float(config["ESCALATE_AFTER_MINUTES"])) + dt.timedelta(days=1)
    steps = db.execute(select(BroadcastChunk.announcement_id, BroadcastChunk.first_id, BroadcastChunk.last_id)
                       .join(Announcement, Announcement.id == BroadcastChunk.announcement_id)
                       .where(BroadcastChunk.kind == "fanout", BroadcastChunk.status == "done",
                              Announcement.priority.in_(("urgent", "emergency")),
                              Announcement.status.in_(("sending", "sent")), Announcement.planned_at > now - window,
                              (Announcement.expires_at.is_(None)) | (Announcement.expires_at > now)))
    return sum(queue.enqueue_unless_alive(BCAST + "escalate", a, lo, hi, job_id=f"ann-{a}-escalate-{lo}",
                                          queue="default", retry=Retry(**CHUNK_RETRY)) is not None
               for a, lo, hi in steps)


def daily_bulletins():
    """Today's bulletin of every area with a live operator link, requested (re-rendered when the
    day's announcements changed), so operators find it ready."""
    from gateway.loudspeaker.bulletin import request_bulletin
    from gateway.loudspeaker.listing import local_day

    db = get_db()
    day = local_day(utcnow())
    areas = {link.area for link in db.scalars(select(OperatorLink).where(OperatorLink.revoked_at.is_(None)))}
    for area in sorted(areas, key=lambda a: a.id):
        request_bulletin(db, area, day)
    return len(areas)


# --- operators' commands ---------------------------------------------------------------------

work_cli = AppGroup("work", help="Unfinished work: what waits, what needs an operator, the reconciler.")


@work_cli.command("status")
def status_command():
    """Unfinished items per kind of work, and how long the oldest has waited."""
    from gateway.health import unfinished

    for kind, (n, age) in unfinished().items():
        click.echo(f"{kind:<18} {n:>7} unfinished   oldest {age} s")


@work_cli.command("reconcile")
def reconcile_command():
    """Run the reconciler's rules once now (the workers run them every RECONCILE_INTERVAL_SECONDS)."""
    for rule, n in reconcile().items():
        click.echo(f"{rule:<24} {n}")


@work_cli.command("stuck")
def stuck_command():
    """SMS, calls and group posts whose outcome is unknown: check them, then resend or repost."""
    from gateway.mirror.jobs import UNKNOWN_OUTCOME
    from gateway.sms.outbound import NEEDS_OPERATOR

    db = get_db()
    for d in db.scalars(select(Delivery).where(Delivery.status == "failed", Delivery.error_code == NEEDS_OPERATOR)
                        .order_by(Delivery.id)):
        click.echo(f"{d.channel} delivery {d.id}\t{d.provider or ''}\t{d.updated_at:%Y-%m-%d %H:%M}\t{d.idempotency_key}")
    prefix = UNKNOWN_OUTCOME.split("(")[0]
    for gp in db.scalars(select(GroupPost).where(GroupPost.status == "failed", GroupPost.last_error.startswith(prefix))
                         .order_by(GroupPost.id)):
        click.echo(f"group post {gp.id}\t{gp.target}\t{gp.updated_at:%Y-%m-%d %H:%M}\t{gp.idempotency_key}")


@work_cli.command("repost")
@click.argument("post_id", type=int)
def repost_command(post_id):
    """Post a failed group post again (after checking in the group that it is not there)."""
    db = get_db()
    gp = db.get(GroupPost, post_id)
    if gp is None or gp.status != "failed":
        raise click.ClickException(f"No failed group post {post_id}.")
    requeue_post(db, gp)
    db.commit()
    click.echo(f"Group post {post_id} queued again.")


def init_app(app):
    app.cli.add_command(work_cli)
