"""Polls by keypad: on a call we placed (after the message, "bấm 1 …, bấm 2 …") and on the hotline
(after the news, the open polls of the caller's household), walked through the real webhooks in
each dialect; receipts spoken, the latest key counts, a key after the deadline does not."""
import datetime as dt

import pytest
from sqlalchemy import select, update

from gateway.db import get_db
from gateway.media.assets import request_announcement_audio
from gateway.models import Delivery, Official, Poll, PollAnswer, PollAnswerEvent, Resident, utcnow
from gateway.broadcast.polls import create as create_poll
from gateway.polls import voice
from gateway.queue import drain
from tests.ivr_helpers import (  # noqa: F401  (fixtures)
    DIALECTS, KNOWN, UNKNOWN, Call, area, hotline, hotline_template, shared_audio, walk,
)
from tests.test_ivr_calls import Outbound, set_quiet

OPTIONS = [{"label": "Thứ bảy", "words": ["t7"]}, {"label": "Chủ nhật", "words": ["cn"]},
           {"label": "Thứ hai", "words": ["t2"]}]
TITLE = "Hỏi ý kiến: họp tổ"
NEWS = ["play:greeting", "play:news_intro", f"play:ann:{TITLE}", "play:ann:Tiêm phòng dại"]
ASK = ["say:intro", "say:question", "say:keys"]
MENU = "play:menu"
BYE = ["play:goodbye", "hangup"]


@pytest.fixture
def poll_app(hotline):
    """The hotline with a poll for Khu phố 5 sent by calls and on the hotline, its audio rendered
    (its own prompts left to the provider's speech, as before their render)."""
    set_quiet(hotline, "00:00-00:00")
    with hotline.app_context():
        db = get_db()
        admin = db.scalar(select(Official).where(Official.login == "admin"))
        poll = create_poll(db, official=admin, question="Bà con chọn ngày họp nào?", options=OPTIONS,
                            areas=[area(db, "KP5")], closes_at=utcnow() + dt.timedelta(days=2),
                            channels=("voice", "hotline"), title=TITLE)
        db.commit()
        drain(hotline)  # start, fan-out, calls placed into the outbox
        request_announcement_audio(db, poll.announcement)
        drain(hotline, ["audio"])
        hotline.names.learn(db)
        for key, text in voice.prompt_texts(poll).items():
            hotline.names.texts[text] = key.replace(f"poll_{poll.id}_", "").replace("poll_", "")
        hotline.poll_id = poll.id
    return hotline


def answers_of(app):
    with app.app_context():
        return [(a.choice, a.channel, a.changes) for a in get_db().scalars(select(PollAnswer))]


def known_delivery(app):
    with app.app_context():
        d = get_db().scalar(select(Delivery).where(Delivery.phone == KNOWN, Delivery.channel == "voice"))
        return d.id, d.provider_id


# (name, steps after the answer, the answer stored, the call's final status)
OUTBOUND = [
    ("presses 2", [("press", "2", ["say:choice_2", *BYE])], [(2, "call", 0)], "confirmed"),
    ("a wrong key, then 3", [
        ("press", "8", ["gather:1[play:wrong_key, say:keys]"]),
        ("press", "3", ["say:choice_3", *BYE])], [(3, "call", 0)], "confirmed"),
    ("silence twice", [
        ("silence", None, ["gather:1[play:menu_again, say:keys]"]),
        ("silence", None, BYE)], [], "answered"),
]


@pytest.mark.parametrize("name, steps, stored, final", OUTBOUND, ids=[w[0] for w in OUTBOUND])
def test_outbound_call_asks_after_the_message(poll_app, name, steps, stored, final):
    delivery_id, sid = known_delivery(poll_app)
    call = Outbound(poll_app, delivery_id, sid=sid)
    walk(call, [("answer", "human", [f"gather:1[play:ann:{TITLE}, say:keys]"]), *steps])
    assert answers_of(poll_app) == stored
    with poll_app.app_context():
        assert get_db().get(Delivery, delivery_id).status == final


def test_an_answering_machine_is_not_asked(poll_app):
    delivery_id, sid = known_delivery(poll_app)
    walk(Outbound(poll_app, delivery_id, sid=sid), [("answer", "machine_end_beep", [f"play:ann:{TITLE}", *BYE])])
    assert answers_of(poll_app) == []


# (name, steps): the known caller of Khu phố 5, whose household the poll asks.
HOTLINE = [
    ("the poll after the news; a key answers, then the menu", [
        ("inbound", None, [f"gather:1[{', '.join(NEWS + ASK)}]"]),
        ("press", "1", [f"gather:1[say:choice_1, {MENU}]"]),
        ("press", "1", [f"gather:1[{', '.join(NEWS[1:])}, {MENU}]"]),  # 1 in the menu replays the news
    ]),
    ("a wrong key asks again, then the key counts", [
        ("inbound", None, [f"gather:1[{', '.join(NEWS + ASK)}]"]),
        ("press", "7", [f"gather:1[play:wrong_key, {', '.join(ASK)}]"]),
        ("press", "2", [f"gather:1[say:choice_2, {MENU}]"]),
    ]),
    ("silence twice: the menu, nothing stored", [
        ("inbound", None, [f"gather:1[{', '.join(NEWS + ASK)}]"]),
        ("silence", None, [f"gather:1[play:menu_again, {', '.join(ASK)}]"]),
        ("silence", None, [f"gather:1[{MENU}]"]),
    ]),
]


@pytest.mark.parametrize("dialect", DIALECTS)
@pytest.mark.parametrize("name, steps", HOTLINE, ids=[w[0] for w in HOTLINE])
def test_hotline_asks_the_open_polls_after_the_news(poll_app, dialect, name, steps):
    walk(Call(poll_app, poll_app.names, caller=KNOWN, dialect=dialect), steps)
    keyed = [s[1] for s in steps if s[0] == "press" and s[1] in "123"][:1]
    assert answers_of(poll_app) == [(int(k), "hotline", 0) for k in keyed]


def test_an_answered_poll_is_not_asked_again_and_a_new_key_changes_it(poll_app):
    walk(Call(poll_app, poll_app.names, caller=KNOWN), [
        ("inbound", None, [f"gather:1[{', '.join(NEWS + ASK)}]"]), ("press", "1", [f"gather:1[say:choice_1, {MENU}]"])])
    walk(Call(poll_app, poll_app.names, caller=KNOWN, sid="CA" + "2" * 32), [
        ("inbound", None, [f"gather:1[{', '.join(NEWS)}, {MENU}]"])])
    # The call placed to the same household asks again: its key replaces the hotline's.
    delivery_id, sid = known_delivery(poll_app)
    walk(Outbound(poll_app, delivery_id, sid=sid), [("answer", "human", [f"gather:1[play:ann:{TITLE}, say:keys]"]),
                                                    ("press", "3", ["say:choice_3", *BYE])])
    assert answers_of(poll_app) == [(3, "call", 1)]
    with poll_app.app_context():
        log = [(e.channel, e.choice, e.outcome) for e in get_db().scalars(select(PollAnswerEvent).order_by(PollAnswerEvent.id))]
    assert log == [("hotline", 1, "new"), ("call", 3, "changed")]


def test_a_key_after_the_deadline_is_thanked_and_not_counted(poll_app):
    call = Call(poll_app, poll_app.names, caller=KNOWN)
    walk(call, [("inbound", None, [f"gather:1[{', '.join(NEWS + ASK)}]"])])
    with poll_app.app_context():
        db = get_db()
        db.execute(update(Poll).values(closes_at=utcnow() - dt.timedelta(seconds=1)))
        db.commit()
    walk(call, [("press", "2", [f"gather:1[say:late, {MENU}]"])])
    assert answers_of(poll_app) == []
    with poll_app.app_context():
        assert [e.outcome for e in get_db().scalars(select(PollAnswerEvent))] == ["late"]


def test_callers_the_poll_does_not_ask_hear_the_usual_menu(poll_app):
    with poll_app.app_context():
        db = get_db()
        db.add(Resident(phone="+84912999888", area_id=area(db, "KP1").id, consent_source="test"))
        db.commit()
    walk(Call(poll_app, poll_app.names, caller="+84912999888"), [
        ("inbound", None, ["gather:1[play:greeting, play:no_news, play:menu]"])])
    walk(Call(poll_app, poll_app.names, caller=UNKNOWN, sid="CA" + "3" * 32), [
        ("inbound", None, ["gather:2[play:greeting, play:area_unknown_caller, play:area_ask]"]),
        ("press", "5", [f"gather:1[{', '.join(NEWS[1:])}, {MENU}]"])])  # no household: no poll
    assert answers_of(poll_app) == []


def test_two_open_polls_are_asked_one_after_the_other(poll_app):
    with poll_app.app_context():
        db = get_db()
        admin = db.scalar(select(Official).where(Official.login == "admin"))
        second = create_poll(db, official=admin, question="Hộ có cần hỗ trợ gạo không?",
                              options=[{"label": "Có", "words": []}, {"label": "Không", "words": []}],
                              areas=[area(db, "KP5")], closes_at=utcnow() + dt.timedelta(days=1),
                              channels=("hotline",), title="Hỏi ý kiến: gạo")
        db.commit()
        drain(poll_app)
        second_texts = voice.prompt_texts(second)
        names = poll_app.names
        names.texts[second_texts[voice.question_key(second)]] = "question2"
        names.texts[second_texts[voice.keys_key(second)]] = "keys2"
        names.texts[second_texts[voice.receipt_key(second, 2)]] = "choice2_2"
    call = Call(poll_app, poll_app.names, caller=KNOWN)
    turn = call.inbound()
    assert turn.tokens[0].endswith("say:intro, say:question2, say:keys2]")  # the newest first
    walk(call, [("press", "2", ["gather:1[say:choice2_2, say:intro, say:question, say:keys]"]),
                ("press", "1", [f"gather:1[say:choice_1, {MENU}]"])])
    with poll_app.app_context():
        rows = {(a.poll_id, a.choice) for a in get_db().scalars(select(PollAnswer))}
    assert rows == {(second.id, 2), (poll_app.poll_id, 1)}
