"""Posting into groups, as RQ jobs. A post retries until it lands: while the group is
unreachable its state stays in the database and the job reschedules itself, honouring the
platform's Retry-After (RQ's fixed retry intervals cannot), with backoff up to an hour.

A post is sent once. When a post may have gone out without our knowing (the platform timed out
after taking it, or a worker died while posting), it is sent again only where that is safe: the
target refuses a second post with the same id (`dedupes`), or it can be asked whether the post
went out (`can_lookup`). Otherwise it is marked failed, "outcome_unknown", for an operator, as
stuck SMS are. A post whose area names an unknown group target fails at once with the reason.
"""
import datetime as dt
import logging

from flask import current_app
from sqlalchemy import update

from gateway.db import get_db
from gateway.mirror import MIRROR_TARGETS, get_target
from gateway.mirror.base import ChatMigrated
from gateway.mirror.outbound import POST_JOB
from gateway.models import Area, GroupPost, utcnow
from gateway.queue import enqueue
from gateway.transport import TransportError

log = logging.getLogger(__name__)
MAX_ATTEMPTS = 60  # about two days at the capped backoff
NEEDS_OPERATOR = "outcome_unknown"
UNKNOWN_OUTCOME = ("Không rõ bài đã lên nhóm chưa ({why}); hãy xem trong nhóm, "
                   "rồi đăng lại bằng tay nếu chưa có.")


def backoff(attempt):
    """Seconds before retry number `attempt`: 10 s doubling, capped at an hour."""
    return min(10 * 2 ** (attempt - 1), 3600)


def _target(db, gp):
    """The post's group target, or None after failing the post for good (unknown or not configured)."""
    try:
        return get_target(gp.target, current_app.config)
    except ValueError:
        reason = (f"Nhóm của khu vực dùng kênh '{gp.target}' không có; kênh có: "
                  f"{', '.join(MIRROR_TARGETS.names())}. Sửa cài đặt nhóm của khu vực.")
    except TransportError as exc:
        reason = str(exc)
    gp.status, gp.last_error = "failed", reason[:1000]
    db.commit()
    log.warning("group post failed post=%s target=%s: target unknown or not configured", gp.id, gp.target)
    return None


def post(post_id):
    """Post one GroupPost; a retried or duplicated job never posts it twice."""
    db = get_db()
    claimed = db.execute(
        update(GroupPost).where(GroupPost.id == post_id, GroupPost.status == "pending")
        .values(status="posting", attempts=GroupPost.attempts + 1, updated_at=utcnow())
    ).rowcount
    db.commit()
    if not claimed:
        return "not pending"
    gp = db.get(GroupPost, post_id)
    target = _target(db, gp)
    if target is None:
        return "failed"
    try:
        gp.message_id = target.post(gp.chat_id, gp.text, reply_to=gp.reply_to,
                                    data={"post_id": gp.id, "report_id": gp.report_id,
                                          "announcement_id": gp.announcement_id})
    except ChatMigrated as exc:
        _move_chat(db, gp, exc.new_chat_id)
        return _retry(db, gp, exc, delay=0)
    except TransportError as exc:
        if exc.code == "timeout" and not target.dedupes:
            # It may have been posted: look, or hand it to an operator rather than post it twice.
            return _unknown_outcome(db, gp, target, f"{exc}")
        if exc.permanent or gp.attempts >= MAX_ATTEMPTS:
            gp.status, gp.last_error = "failed", str(exc)[:1000]
            db.commit()
            log.warning("group post failed post=%s target=%s attempts=%s permanent=%s",
                        gp.id, gp.target, gp.attempts, exc.permanent)
            return "failed"
        return _retry(db, gp, exc, delay=exc.retry_after if exc.retry_after is not None else backoff(gp.attempts))
    return _posted(db, gp)


def _posted(db, gp):
    gp.status, gp.posted_at, gp.last_error = "posted", utcnow(), None
    db.commit()
    log.info("group post posted post=%s target=%s report=%s", gp.id, gp.target, gp.report_id)
    return "posted"


def _unknown_outcome(db, gp, target, why):
    if target.can_lookup:
        message_id = target.lookup(gp)
        if message_id is not None:
            gp.message_id = message_id
            return _posted(db, gp)
        return _retry(db, gp, TransportError(why), delay=backoff(gp.attempts))
    gp.status, gp.last_error = "failed", UNKNOWN_OUTCOME.format(why=why)[:1000]
    db.commit()
    log.warning("group post outcome unknown post=%s target=%s: left to an operator", gp.id, gp.target)
    return NEEDS_OPERATOR


def recover_posting(db, gp):
    """A post left "posting" by a worker that died: posted (found), posted again (safe), or failed
    for an operator. Returns what became of it."""
    target = _target(db, gp)
    if target is None:
        return "failed"
    if target.dedupes:
        return _retry(db, gp, TransportError("the worker stopped while posting"), delay=0)
    return _unknown_outcome(db, gp, target, "the worker stopped while posting")


def _retry(db, gp, exc, *, delay):
    gp.status, gp.last_error = "pending", str(exc)[:1000]
    gp.next_attempt_at = utcnow() + dt.timedelta(seconds=delay)
    db.commit()
    enqueue(POST_JOB, gp.id, queue="high", at=gp.next_attempt_at, job_id=f"group-post-{gp.id}-{gp.attempts}")
    log.info("group post retry post=%s in=%ss attempt=%s", gp.id, delay, gp.attempts)
    return "retry"


def _move_chat(db, gp, new_chat_id):
    """The group became a supergroup: follow it, for this post and the areas using it."""
    db.execute(update(Area).where(Area.group_target == gp.target, Area.group_chat_id == gp.chat_id)
               .values(group_chat_id=new_chat_id))
    db.execute(update(GroupPost).where(GroupPost.target == gp.target, GroupPost.chat_id == gp.chat_id,
                                       GroupPost.status == "pending").values(chat_id=new_chat_id))
    gp.chat_id = new_chat_id
    log.warning("group chat migrated target=%s post=%s", gp.target, gp.id)
