"""Residents' answers: a digit or an option's word by SMS, a key on a call. One answer per
household and poll, the latest counts; every answer received is logged (PollAnswerEvent) and
gets a receipt; one after the deadline is logged as late and not counted."""
import logging
from dataclasses import dataclass

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError

from gateway.models import Delivery, PollAnswer, PollAnswerEvent, utcnow
from gateway.polls.polls import any_live, is_open, late_poll_for, open_polls_for
from gateway.sms.commands import _core, similar
from gateway.sms.replies import render
from gateway.text import fold

log = logging.getLogger(__name__)
# Words people put before their choice: "chọn 2", "trả lời 1", "phương án 3", "ý kiến: có".
_LEADS = ("traloi", "chon", "phuongan", "dapan", "ykien", "so", "y")
OUT_OF_RANGE = 0



@dataclass
class Receipt:
    """What became of an answer: outcome new, changed, same or late."""

    outcome: str
    choice: int
    label: str

    @property
    def counted(self):
        return self.outcome != "late"


def match_choice(options, text):
    """The option (1-based) a text picks: its digit, or a word of one option (diacritics and keypad
    slips forgiven); OUT_OF_RANGE for a digit with no option; None when it is no answer."""
    words = fold(text).split()
    if not words:
        return None
    core = _core(words)
    for lead in _LEADS:
        if core.startswith(lead) and len(core) > len(lead):
            rest = core[len(lead):]
            if rest.isdigit() or any(_matches(o, rest) for o in options):
                core = rest
                break
    if core.isdigit():
        if len(core) > 1:
            return None  # a number, not a key
        n = int(core)
        return n if 1 <= n <= len(options) else OUT_OF_RANGE
    found = [i for i, option in enumerate(options, 1) if _matches(option, core)]
    return found[0] if len(found) == 1 else None


def _matches(option, typed):
    names = [option["label"], *option.get("words", [])]
    return any(similar(typed, fold(name).replace(" ", "")) for name in names if fold(name))


def record(session, poll, resident, choice, *, channel, text=None, now=None):
    """Store `resident`'s answer `choice` (1-based) and log it; the Receipt says what it became.
    Also marks the poll's announcement heard by that household. Flushes; the caller commits."""
    now = now or utcnow()
    label = poll.options[choice - 1]["label"]
    if not is_open(poll, now):
        outcome = "late"
    else:
        answer = session.scalar(select(PollAnswer).where(PollAnswer.poll_id == poll.id,
                                                         PollAnswer.resident_id == resident.id))
        if answer is None:
            answer = PollAnswer(poll_id=poll.id, resident_id=resident.id, area_id=resident.area_id,
                                choice=choice, channel=channel)
            try:
                with session.begin_nested():
                    session.add(answer)
                outcome = "new"
            except IntegrityError:  # the same household answering twice at once: the other is stored
                answer = session.scalar(select(PollAnswer).where(PollAnswer.poll_id == poll.id,
                                                                 PollAnswer.resident_id == resident.id))
                outcome = None
        else:
            outcome = None
        if outcome is None:
            outcome = "same" if answer.choice == choice else "changed"
            if outcome == "changed":
                answer.choice, answer.channel, answer.changes = choice, channel, answer.changes + 1
                answer.updated_at = now
        session.execute(update(Delivery).where(Delivery.announcement_id == poll.announcement_id,
                                               Delivery.phone == resident.phone, Delivery.confirmed_at.is_(None))
                        .values(confirmed_at=now).execution_options(synchronize_session=False))
    session.add(PollAnswerEvent(poll_id=poll.id, resident_id=resident.id, choice=choice, channel=channel,
                                outcome=outcome, text=text, created_at=now))
    session.flush()
    log.info("poll answer poll=%s resident=%s channel=%s outcome=%s", poll.id, resident.id, channel, outcome)
    return Receipt(outcome, choice, label)


def unanswered(session, resident, now=None):
    """Open polls asking this household that it has not answered yet, newest first."""
    polls = open_polls_for(session, resident, now)
    if not polls:
        return []
    done = set(session.scalars(select(PollAnswer.poll_id).where(PollAnswer.resident_id == resident.id,
                                                                PollAnswer.poll_id.in_([p.id for p in polls]))))
    return [p for p in polls if p.id not in done]


def sms_reply(session, resident, text, now=None, *, version=None):
    """The receipt for an SMS answering a poll, or None when the text answers none (then it keeps its
    usual meaning: `1` confirms, other text is a command or a report).

    While polls are open for the household, the newest one is answered; after a deadline, an answer
    to that poll (the last thing the household was asked) gets "het han" and is not counted."""
    if resident is None or resident.opted_out:
        return None
    now = now or utcnow()
    if not any_live(session, now, version=version):
        return None
    polls = open_polls_for(session, resident, now)
    poll = polls[0] if polls else late_poll_for(session, resident, now)
    if poll is None:
        return None
    choice = match_choice(poll.options, text)
    if choice is None:
        return None
    if choice == OUT_OF_RANGE:
        if not polls:
            return None  # a digit after the deadline with no option behind it: its usual meaning
        return render("poll_out_of_range", n=len(poll.options))
    receipt = record(session, poll, resident, choice, channel="sms", text=text, now=now)
    return render(f"poll_{receipt.outcome}", label=receipt.label)
