"""Polls' rules and the open ones for a household (created by gateway.broadcast.polls).

A poll goes out through an announcement, so it reuses the whole broadcast (fan-out in chunks,
SMS senders, calls, the hotline's news, group posts, the reconciler): on its own the poll gets
an announcement of its own whose text is the question; with an announcement the official's
text comes first and the question after it. The announcement's SMS is the text plus
"Tra loi 1 neu …, 2 neu …", and it stops being current (hotline, digest) at the deadline.
"""
import datetime as dt
import logging

from sqlalchemy import exists, select

from gateway.announcements.cache import area_cache
from gateway.announcements.targeting import recipients_query
from gateway.models import Announcement, Delivery, Poll, Resident, utcnow
from gateway.text import fold, nfc

log = logging.getLogger(__name__)
MIN_OPTIONS, MAX_OPTIONS = 2, 9
MAX_QUESTION, MAX_LABEL = 300, 60
SUMMARY_JOB = "gateway.polls.jobs.post_summary"
# A digit or word this long after a deadline gets "đã hết hạn" instead of its usual meaning,
# unless another announcement reached the household since the poll (then `1` confirms that one).
LATE_WINDOW = dt.timedelta(days=2)
POLL_CHANNELS = ("sms", "voice", "hotline")
LIVE = ("scheduled", "sending", "sent")


class PollError(ValueError):
    """Input an official must fix; the message says what."""


def parse_options(text):
    """Options from one line each, "label" or "label | word, word" (the words residents may text
    instead of the digit): [{"label", "words"}]. PollError when fewer than 2 or more than 9."""
    options = []
    for line in nfc(text or "").splitlines():
        label, _, words = line.partition("|")
        label = " ".join(label.split())
        if not label:
            continue
        if len(label) > MAX_LABEL:
            raise PollError(f"option '{label[:20]}…' is longer than {MAX_LABEL} characters")
        options.append({"label": label, "words": [w.strip() for w in words.split(",") if w.strip()]})
    if not MIN_OPTIONS <= len(options) <= MAX_OPTIONS:
        raise PollError(f"a poll has {MIN_OPTIONS} to {MAX_OPTIONS} options, one a line ({len(options)} given)")
    keys = [fold(o["label"]) for o in options]
    if len(set(keys)) != len(keys):
        raise PollError("two options have the same name")
    return options


def keys_text(options):
    """What a call says after the question: "Có cần, bấm 1. Không cần, bấm 2."."""
    return " ".join(f"{o['label']}, bấm {i}." for i, o in enumerate(options, 1))


def summary_job_id(poll_id):
    return f"poll-{poll_id}-summary"


def is_open(poll, now=None):
    """True between the poll's sending and its deadline (and not cancelled)."""
    now = now or utcnow()
    return poll.status == "open" and poll.opens_at <= now < poll.closes_at


def asks(session, poll, resident):
    """True when the poll's announcement targets this household (its areas, subscriptions,
    audiences): the broadcast's own recipient query, for one resident."""
    if poll.announcement is None:
        return False
    query = recipients_query(session, poll.announcement).order_by(None).where(Resident.id == resident.id)
    return session.scalar(query.with_only_columns(Resident.id).limit(1)) is not None


def _candidates(session, now, *, closed_since=None):
    """Polls open now (or, with `closed_since`, those whose deadline fell between it and now), newest first."""
    query = select(Poll).join(Announcement, Announcement.id == Poll.announcement_id).where(
        Poll.status == "open", Poll.opens_at <= now, Announcement.status.in_(LIVE))
    if closed_since is None:
        query = query.where(Poll.closes_at > now)
    else:
        query = query.where(Poll.closes_at > closed_since, Poll.closes_at <= now)
    return list(session.scalars(query.order_by(Poll.opens_at.desc(), Poll.id.desc())))


def any_live(session, now, *, version=None):
    """Whether any poll is open, due to open or within its late window: while none is, an SMS is never
    an answer. Kept in the area cache under the policy `version` (a poll's write raises it)."""
    cache = area_cache()
    live = cache.get(("polls_live",), version, now)
    if live is None:
        live = bool(session.scalar(select(exists().where(Poll.status == "open",
                                                         Poll.closes_at > now - LATE_WINDOW))))
        cache.put(("polls_live",), version, live, now=now)
    return live


def open_polls_for(session, resident, now=None):
    """The polls open now that ask this household, the newest first."""
    now = now or utcnow()
    return [p for p in _candidates(session, now) if asks(session, p, resident)]


def late_poll_for(session, resident, now=None):
    """The poll whose deadline passed within LATE_WINDOW that was the last thing this household was
    asked (no other announcement reached it since), or None."""
    now = now or utcnow()
    for poll in _candidates(session, now, closed_since=now - LATE_WINDOW):
        if not asks(session, poll, resident):
            continue
        newer = session.scalar(select(exists().where(
            Delivery.phone == resident.phone, Delivery.announcement_id.is_not(None),
            Delivery.announcement_id != poll.announcement_id, Delivery.created_at > poll.opens_at)))
        return None if newer else poll
    return None


def for_announcement(session, announcement, now=None):
    """The open poll an announcement carries (a call asks it after the message), or None."""
    if announcement is None:
        return None
    poll = session.scalar(select(Poll).where(Poll.announcement_id == announcement.id))
    return poll if poll is not None and is_open(poll, now) else None


def request_prompts(session, poll):
    """Queue the rendering of what calls say for this poll (question, keys, receipts), so calls
    play audio rather than the provider's speech. Commits (each new asset)."""
    from gateway.media.assets import ensure_text_asset
    from gateway.polls.voice import prompt_texts

    for text in prompt_texts(poll).values():
        ensure_text_asset(session, text, kind="prompt")
