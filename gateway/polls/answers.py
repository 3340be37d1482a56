"""Residents' answers: a digit or an option's word by SMS, a key on a call. One answer per
household and poll, the latest counts; every answer received is logged (PollAnswerEvent) and
gets a receipt; one after the deadline is logged as late and not counted."""
import logging
from dataclasses import dataclass

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError

from gateway.models import Delivery, PollAnswer, PollAnswerEvent, utcnow
from gateway.polls.polls import is_open, open_polls_for

log = logging.getLogger(__name__)



@dataclass
class Receipt:
    """What became of an answer: outcome new, changed, same or late."""

    outcome: str
    choice: int
    label: str

    @property
    def counted(self):
        return self.outcome != "late"


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
