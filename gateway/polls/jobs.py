"""The deadline's summary: one post per poll area into that area's group, with its own counts.

Queued for the deadline when the poll is created; the reconciler (gateway.reconcile) queues it
again for a poll past its deadline whose summary was not posted (the job lost with Redis).
Idempotent: each post has its key (gateway.mirror.outbound.queue_post), and `summary_posted_at`
is set once all are queued, so a second run posts nothing."""
import logging

from sqlalchemy import update

from gateway.db import get_db
from gateway.models import Poll, utcnow
from gateway.phone import mask_text
from gateway.polls.results import share, tally

log = logging.getLogger(__name__)


def summary_text(poll, counts, area):
    """The group's message: the question, each option's households and share, and how many answered."""
    total = counts["total"]
    lines = [f"Kết quả hỏi ý kiến ({area.name}): {poll.question}"]
    for label, n in zip(counts["options"], total["counts"]):
        lines.append(f"- {label}: {n} hộ ({share(n, total['answered'])}%)")
    lines.append(f"Đã trả lời: {total['answered']}/{total['asked']} hộ ({total['share']}%). Cảm ơn bà con.")
    return mask_text("\n".join(lines))  # an official's question may carry a phone number


def post_summary(poll_id):
    """Post the summary of a poll whose deadline has passed (once; a repeat is a no-op)."""
    from gateway.mirror.outbound import queue_post

    db = get_db()
    poll = db.get(Poll, poll_id)
    if poll is None or poll.status != "open":
        return "skipped"
    if poll.announcement is None or poll.announcement.status == "cancelled":
        # Cancelled before it went out: nobody was asked, so nothing is summed up (and the
        # reconciler stops looking for it).
        db.execute(update(Poll).where(Poll.id == poll.id).values(status="cancelled", updated_at=utcnow()))
        db.commit()
        return "cancelled"
    if poll.summary_posted_at is not None:
        return "posted already"
    if utcnow() < poll.closes_at:
        return "not yet"  # run early (a clock moved): the reconciler runs it after the deadline
    posts = 0
    for area in poll.areas:
        counts = tally(db, poll, within=set(area.descendant_ids(db)))
        post = queue_post(db, area=area, text=summary_text(poll, counts, area), key=f"poll:{poll.id}:summary:{area.id}")
        posts += post is not None
    db.execute(update(Poll).where(Poll.id == poll.id, Poll.summary_posted_at.is_(None))
               .values(summary_posted_at=utcnow()))
    db.commit()
    log.info("poll summary id=%s posts=%s", poll.id, posts)
    return posts
