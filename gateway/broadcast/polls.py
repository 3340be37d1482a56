"""An announcement that carries a poll: on its own the poll gets an announcement whose text is the
question; with an announcement the official's text comes first and the question after it. So the
poll reuses the whole broadcast (fan-out, senders, calls, the hotline's news, group posts, the
reconciler), and it stops being current (hotline, digest) at its deadline."""
import datetime as dt
import logging

from gateway.broadcast import service
from gateway.models import Poll, utcnow
from gateway.polls.polls import (MAX_OPTIONS, MAX_QUESTION, MIN_OPTIONS, POLL_CHANNELS, SUMMARY_JOB, PollError,
                                 parse_options, summary_job_id)
from gateway.queue import enqueue_on_commit
from gateway.sms.polls import sms_text
from gateway.text import nfc

log = logging.getLogger(__name__)


def create(session, *, official, question, options, areas, closes_at, audiences=("everyone",),
           channels=("sms", "hotline"), title="", body="", recording=None, send_at=None):
    """Validate and schedule a poll and the announcement carrying it; AnnouncementError or
    PollError name what to fix. The deadline's summary job is queued for `closes_at`."""
    question = nfc(question or "").strip()
    if not question:
        raise PollError("the question is empty")
    if len(question) > MAX_QUESTION:
        raise PollError(f"the question is longer than {MAX_QUESTION} characters")
    if isinstance(options, str):
        options = parse_options(options)
    if not MIN_OPTIONS <= len(options) <= MAX_OPTIONS:
        raise PollError(f"a poll has {MIN_OPTIONS} to {MAX_OPTIONS} options")
    bad = [c for c in channels if c not in POLL_CHANNELS]
    if bad or not channels:
        raise PollError(f"channels must be some of {', '.join(POLL_CHANNELS)}")
    now = utcnow()
    opens_at = send_at or now
    if closes_at is None or closes_at.tzinfo is None:
        raise PollError("the deadline needs a date and time")
    if closes_at <= max(now, opens_at) + dt.timedelta(minutes=5):
        raise PollError("the deadline must be later than the sending time")
    title, body = nfc(title or "").strip(), nfc(body or "").strip()
    carrier = service.create(
        session, official=official, title=title or f"Hỏi ý kiến: {question}"[: service.MAX_TITLE],
        body=f"{body}\n{question}" if body else question, areas=areas, audiences=audiences,
        channels=channels, category="poll", send_at=send_at, expires_at=closes_at, recording=recording)
    carrier.sms_text = sms_text(question, options, lead=f"{title}: {body}" if body and title else body)
    poll = Poll(question=question, options=options, audiences=list(carrier.audiences), opens_at=carrier.send_at,
                closes_at=closes_at, status="open", announcement=carrier, created_by_id=official.id,
                areas=list(carrier.areas))
    session.add(poll)
    session.flush()
    enqueue_on_commit(session, SUMMARY_JOB, poll.id, queue="default", at=closes_at, job_id=summary_job_id(poll.id))
    log.info("poll scheduled id=%s announcement=%s official=%s closes=%s", poll.id, carrier.id, official.id,
             closes_at.isoformat())
    return poll
