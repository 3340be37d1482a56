"""Outbound group posts: a GroupPost row per post (get-or-create by idempotency key), posted by
an RQ job (POST_JOB) that claims the row first, so nothing is posted twice.

    queue_post(session, area=..., text=..., key=...) -> GroupPost | None   (posted after commit)
    requeue_post(session, post)                                          (after an operator's check)
"""
import hashlib
import logging

from sqlalchemy import select

from gateway.mirror import group_of
from gateway.models import GroupPost
from gateway.queue import enqueue_on_commit

log = logging.getLogger(__name__)
POST_JOB = "gateway.mirror.jobs.post"


def queue_post(session, *, area, text, key, in_group_of=None, one_per_group=False, report_id=None,
               announcement_id=None, reply_to_key=None):
    """The GroupPost for `key` in the group of `area`, created and posted (after the caller
    commits) the first time; None when no area up the tree has a group.

    `in_group_of`: the area whose group to use when it is not `area`'s (a report with no area
    goes to its commune's group). `one_per_group`: `key` gets the group appended, so areas that
    share a group get one post. `reply_to_key`: the post this one answers in the group."""
    if not one_per_group and (existing := _by_key(session, key)) is not None:
        return existing  # queued already (a retried job)
    where = in_group_of if in_group_of is not None else area
    group = group_of(where) if where is not None else None
    if group is None:
        log.info("no group to post into key=%s", key)
        return None
    target, chat_id = group
    if one_per_group:
        key += ":" + hashlib.sha256(f"{target}:{chat_id}".encode()).hexdigest()[:32]
        if (existing := _by_key(session, key)) is not None:
            return existing  # posted already (a duplicate job, or two areas sharing a group)
    first = _by_key(session, reply_to_key) if reply_to_key else None
    post = GroupPost(idempotency_key=key, report_id=report_id, announcement_id=announcement_id,
                     area_id=area.id if area is not None else None, target=target, chat_id=chat_id, text=text,
                     reply_to=first.message_id if first is not None else None)
    session.add(post)
    session.flush()
    enqueue_on_commit(session, POST_JOB, post.id, queue="high")
    return post


def requeue_post(session, post):
    """Post a failed group post again (after the caller commits)."""
    post.status, post.next_attempt_at, post.last_error = "pending", None, None
    enqueue_on_commit(session, POST_JOB, post.id, queue="high")


def _by_key(session, key):
    return session.scalar(select(GroupPost).where(GroupPost.idempotency_key == key))
