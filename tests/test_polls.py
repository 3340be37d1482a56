"""Polls (issue 21): created through an announcement, answered by SMS (digit or word, slips
forgiven), one answer per household with the latest counting and every change logged, late
answers refused politely, a digit with no poll keeping its meaning, results and their scope,
the export, and the deadline's summary posted once."""
import datetime as dt

import pytest
from sqlalchemy import func, select, update

from gateway.models import (
    Announcement, Area, Delivery, GroupPost, Official, Poll, PollAnswer, PollAnswerEvent, Resident, utcnow,
)
from gateway.broadcast.polls import create as create_poll
from gateway.polls import polls
from gateway.polls.results import tally
from gateway.console.polls import export_rows
from gateway.sms.polls import match_choice
from gateway.queue import drain
from gateway.sms.encoding import count_segments
from gateway.sms.inbound import receive

OPTIONS = [{"label": "Có cần", "words": ["co", "can"]}, {"label": "Không cần", "words": ["khong"]}]
QUESTION = "Hộ có cần hỗ trợ gạo không?"


def neighbourhood(db, code):
    return db.scalar(select(Area).where(Area.code == code, Area.level == "neighbourhood"))


def households(db, code, n=None):
    area = neighbourhood(db, code)
    query = select(Resident).where(Resident.area_id.in_(area.descendant_ids(db))).order_by(Resident.id)
    return list(db.scalars(query.limit(n) if n else query))


def official(db, login="admin"):
    return db.scalar(select(Official).where(Official.login == login))


def make_poll(db, *, codes=("KP5",), options=OPTIONS, hours=48, who="admin", **kw):
    poll = create_poll(db, official=official(db, who), question=QUESTION, options=options,
                        areas=[neighbourhood(db, c) for c in codes], closes_at=utcnow() + dt.timedelta(hours=hours),
                        **kw)
    db.commit()
    return poll


def sms(app, db, body, phone):
    return receive(db, provider="twilio", sender=phone, body=body, config=app.config)


def past_deadline(db, poll, hours=1):
    """The deadline passed `hours` ago (what the clock would do, done to the row)."""
    db.execute(update(Poll).where(Poll.id == poll.id).values(closes_at=utcnow() - dt.timedelta(hours=hours)))
    db.commit()
    db.refresh(poll)


# --- the poll and its SMS -------------------------------------------------------------------

def test_poll_goes_out_as_one_gsm_sms_through_the_broadcast(app, db, demo):
    poll = make_poll(db)
    ann = poll.announcement
    assert ann.sms_text == "Hoi y kien: Ho co can ho tro gao khong? Tra loi 1 neu Co can, 2 neu Khong can."
    assert count_segments(ann.sms_text) == ("GSM-7", 1)
    assert ann.expires_at == poll.closes_at and ann.category == "poll"
    drain(app)
    sent = list(db.scalars(select(Delivery).where(Delivery.announcement_id == ann.id, Delivery.channel == "sms")))
    assert {d.phone for d in sent} == {r.phone for r in households(db, "KP5") if not r.opted_out}
    assert {d.body for d in sent} == {ann.sms_text}


def test_poll_with_an_announcement_says_the_news_first(app, db, demo):
    poll = make_poll(db, title="Họp tổ", body="Tối thứ sáu họp tổ dân phố.")
    assert poll.announcement.sms_text.startswith("Hop to: Toi thu sau hop to dan pho. Hoi y kien: Ho co can")
    assert poll.announcement.body == f"Tối thứ sáu họp tổ dân phố.\n{QUESTION}"


@pytest.mark.parametrize("text, error", [
    ("Chỉ một", "2 to 9 options"),
    ("\n".join(str(i) for i in range(10)), "2 to 9 options"),
    ("Có\ncó", "same name"),
])
def test_options_are_two_to_nine_distinct(text, error):
    with pytest.raises(polls.PollError, match=error):
        polls.parse_options(text)


def test_options_with_their_words():
    assert polls.parse_options("Thứ bảy | t7, thu 7\n\n Chủ nhật |cn ") == [
        {"label": "Thứ bảy", "words": ["t7", "thu 7"]}, {"label": "Chủ nhật", "words": ["cn"]}]


def test_out_of_scope_area_creates_nothing(app, db, demo):
    from gateway.broadcast.service import AnnouncementError

    with pytest.raises(AnnouncementError, match="not your area"):
        make_poll(db, codes=("KP5",), who="tanloi")
    db.rollback()
    assert db.scalar(select(func.count()).select_from(Poll)) == 0
    assert db.scalar(select(func.count()).select_from(Announcement)) == 0


# --- answers by SMS ---------------------------------------------------------------------------

# (what the household texts, the option it picks; None: not an answer)
SMS_ANSWERS = [
    ("1", 1), ("2", 2), (" 2. ", 2), ("2 ạ", 2), ("Chọn 1", 1), ("tra loi 2", 2), ("so 1 nhe", 1),
    ("Có cần", 1), ("co can", 1), ("CÓ", 1), ("can", 1), ("Không", 2), ("khong can a", 2), ("Khôg cần", 2),
    ("khonh can", 2),  # a keypad slip (h for g: same key)
    ("ok", None), ("HUY", None), ("Đèn đường hỏng ở hẻm 5", None), ("0912345678", None),
]


@pytest.mark.parametrize("text, choice", SMS_ANSWERS)
def test_what_an_sms_answers(text, choice):
    assert match_choice(OPTIONS, text) == choice


def test_sms_answers_count_once_per_household_the_latest_wins(app, db, demo):
    poll = make_poll(db)
    a, b = households(db, "KP5", 2)
    replies = [sms(app, db, body, phone).reply for body, phone in
               [("1", a.phone), ("Có cần", a.phone), ("khong", a.phone), ("2", b.phone)]]
    assert replies == ["Da ghi nhan y kien: Co can. Cam on ban! Muon doi, nhan so khac truoc han.",
                       "Y kien cua ban da duoc ghi nhan: Co can. Cam on ban!",
                       "Da doi y kien thanh: Khong can. Cam on ban!",
                       "Da ghi nhan y kien: Khong can. Cam on ban! Muon doi, nhan so khac truoc han."]
    assert all(count_segments(r)[1] == 1 for r in replies)
    rows = {r.resident_id: (r.choice, r.changes, r.channel) for r in db.scalars(select(PollAnswer))}
    assert rows == {a.id: (2, 1, "sms"), b.id: (2, 0, "sms")}
    log = [(e.resident_id, e.choice, e.outcome, e.text) for e in db.scalars(select(PollAnswerEvent)
                                                                             .order_by(PollAnswerEvent.id))]
    assert log == [(a.id, 1, "new", "1"), (a.id, 1, "same", "Có cần"), (a.id, 2, "changed", "khong"),
                   (b.id, 2, "new", "2")]
    assert tally(db, poll)["total"]["counts"] == [0, 2]


def test_an_sms_answer_also_confirms_the_poll_was_received(app, db, demo):
    poll = make_poll(db)
    drain(app)
    resident = households(db, "KP5", 1)[0]
    assert sms(app, db, "1", resident.phone).intent == "poll"
    delivery = db.scalar(select(Delivery).where(Delivery.announcement_id == poll.announcement_id,
                                                Delivery.phone == resident.phone))
    assert delivery.confirmed_at is not None


def test_a_digit_with_no_option_gets_the_choices(app, db, demo):
    make_poll(db)
    resident = households(db, "KP5", 1)[0]
    result = sms(app, db, "7", resident.phone)
    assert result.reply == "Chi co lua chon tu 1 den 2. Xin nhan lai 1 so trong khoang do. Cam on ban!"
    assert db.scalar(select(func.count()).select_from(PollAnswer)) == 0


def test_other_texts_keep_their_meaning_while_a_poll_is_open(app, db, demo):
    make_poll(db)
    resident = households(db, "KP5", 1)[0]
    assert sms(app, db, "Đèn đường hỏng ở hẻm 5", resident.phone).intent == "report"
    assert sms(app, db, "TIN", resident.phone).intent == "news"
    assert db.scalar(select(func.count()).select_from(PollAnswerEvent)) == 0


def test_a_household_outside_the_poll_is_not_asked(app, db, demo):
    make_poll(db, codes=("KP5",))
    elsewhere = households(db, "KP1", 1)[0]
    result = sms(app, db, "1", elsewhere.phone)
    assert result.intent == "confirm" and result.reply == "Khong co thong bao nao can xac nhan. Nhan TIN de xem tin moi."
    assert db.scalar(select(func.count()).select_from(PollAnswerEvent)) == 0


def test_audiences_limit_who_is_asked(app, db, demo):
    make_poll(db, audiences=["elderly"])
    kp5 = households(db, "KP5")
    elderly = next(r for r in kp5 if r.is_elderly)
    young = next(r for r in kp5 if not r.is_elderly)
    assert sms(app, db, "1", elderly.phone).intent == "poll"
    assert sms(app, db, "1", young.phone).intent == "confirm"


def test_answers_after_the_deadline_get_a_polite_no_and_do_not_count(app, db, demo):
    poll = make_poll(db)
    a, b = households(db, "KP5", 2)
    sms(app, db, "1", a.phone)
    past_deadline(db, poll)
    assert sms(app, db, "2", a.phone).reply == "Cuoc hoi y kien da het han, y kien nay khong duoc tinh. Cam on ban!"
    assert sms(app, db, "khong", b.phone).intent == "poll"
    assert {(r.resident_id, r.choice) for r in db.scalars(select(PollAnswer))} == {(a.id, 1)}
    late = [(e.resident_id, e.outcome) for e in db.scalars(select(PollAnswerEvent).where(PollAnswerEvent.outcome == "late"))]
    assert late == [(a.id, "late"), (b.id, "late")]


def test_a_digit_with_no_open_poll_still_confirms(app, db, demo):
    resident = households(db, "KP5", 1)[0]
    ann = Announcement(title="Tiêm phòng", body="Tiêm phòng dại", status="sent")
    db.add(ann)
    db.flush()
    db.add(Delivery(idempotency_key="x1", announcement_id=ann.id, phone=resident.phone, channel="sms",
                    status="delivered"))
    db.commit()
    result = sms(app, db, "1", resident.phone)
    assert (result.intent, result.reply) == ("confirm", "Cam on ban da xac nhan da nhan thong bao.")
    assert db.scalar(select(func.count()).select_from(PollAnswerEvent)) == 0


def test_after_the_deadline_a_newer_announcement_gets_the_1(app, db, demo):
    poll = make_poll(db)
    resident = households(db, "KP5", 1)[0]
    past_deadline(db, poll)
    ann = Announcement(title="Cúp điện", body="Cúp điện sáng mai", status="sent")
    db.add(ann)
    db.flush()
    db.add(Delivery(idempotency_key="x2", announcement_id=ann.id, phone=resident.phone, channel="sms",
                    status="delivered"))
    db.commit()
    assert sms(app, db, "1", resident.phone).intent == "confirm"


def test_long_after_the_deadline_a_digit_confirms_again(app, db, demo):
    poll = make_poll(db)
    resident = households(db, "KP5", 1)[0]
    past_deadline(db, poll, hours=24 * 3)
    assert sms(app, db, "1", resident.phone).intent == "confirm"


def test_the_newest_open_poll_is_answered(app, db, demo):
    first = make_poll(db)
    second = make_poll(db, options=[{"label": "Thứ bảy", "words": ["t7"]}, {"label": "Chủ nhật", "words": ["cn"]}])
    resident = households(db, "KP5", 1)[0]
    assert sms(app, db, "chu nhat", resident.phone).reply.startswith("Da ghi nhan y kien: Chu nhat.")
    assert [(a.poll_id, a.choice) for a in db.scalars(select(PollAnswer))] == [(second.id, 2)]
    assert first.id != second.id


def test_opted_out_households_are_not_asked(app, db, demo):
    make_poll(db)
    resident = households(db, "KP5", 1)[0]
    resident.opted_out_at = utcnow()
    db.commit()
    assert sms(app, db, "1", resident.phone).intent == "confirm"
    assert db.scalar(select(func.count()).select_from(PollAnswerEvent)) == 0


# --- results, scope and export ------------------------------------------------------------------

def test_results_per_area_and_audience_with_the_share_that_answered(app, db, demo):
    poll = make_poll(db, codes=("KP1", "KP5"))
    kp1, kp5 = households(db, "KP1"), households(db, "KP5")
    for r in kp1[:2]:
        sms(app, db, "1", r.phone)
    sms(app, db, "2", kp5[0].phone)
    result = tally(db, poll)
    by_area = {row["area"]: row for row in result["areas"]}
    asked1 = len([r for r in kp1 if not r.opted_out])
    assert by_area["Khu phố 1"]["counts"] == [2, 0] and by_area["Khu phố 1"]["asked"] == asked1
    assert by_area["Khu phố 1"]["share"] == round(200 / asked1)
    assert by_area["Khu phố 5"]["counts"] == [0, 1]
    assert result["total"]["answered"] == 3
    elderly = next(row for row in result["audiences"] if row["audience"] == "elderly")
    expected = sum(1 for r in (*kp1[:2], kp5[0]) if r.is_elderly)
    assert elderly["answered"] == expected


def test_a_leader_sees_only_their_households(app, db, demo):
    poll = make_poll(db, codes=("KP1", "KP5"))
    for r in households(db, "KP1", 2) + households(db, "KP5", 3):
        sms(app, db, "1", r.phone)
    from gateway.auth import area_scope

    leader = official(db, "truongkp1")  # Khu phố 1 and 2
    mine = tally(db, poll, within=area_scope(db, leader))
    assert mine["total"]["answered"] == 2 and [r["area"] for r in mine["areas"]] == ["Khu phố 1"]
    rows = export_rows(db, poll, within=area_scope(db, leader))
    assert len(rows) == 3 and all(row[0].startswith("Khu phố 1") for row in rows[1:])


def test_export_masks_phones_and_never_runs_a_formula(app, db, demo):
    from gateway.residents import rows_csv

    poll = make_poll(db, options=[{"label": "=HYPERLINK(\"x\")", "words": []}, {"label": "Không", "words": []}])
    resident = households(db, "KP5", 1)[0]
    sms(app, db, "1", resident.phone)
    header, row = export_rows(db, poll)
    assert header[2] == "Số điện thoại" and row[2].endswith(resident.phone[-3:]) and resident.phone[3:-3] not in row[2]
    assert (row[6], row[7], row[8]) == (1, "=HYPERLINK(\"x\")", "Tin nhắn")
    csv_text = rows_csv([header, row]).decode("utf-8")
    assert "'=HYPERLINK" in csv_text and resident.phone not in csv_text


# --- the deadline's summary -----------------------------------------------------------------------

def test_summary_is_posted_once_per_area_at_the_deadline(app, db, demo):
    from gateway.polls.jobs import post_summary

    poll = make_poll(db, codes=("KP1", "KP5"))
    for r in households(db, "KP5", 3):
        sms(app, db, "2", r.phone)
    with app.app_context():
        assert post_summary(poll.id) == "not yet"
    past_deadline(db, poll)
    with app.app_context():
        assert post_summary(poll.id) == 2
        assert post_summary(poll.id) == "posted already"
    posts = list(db.scalars(select(GroupPost).order_by(GroupPost.id)))
    assert [p.chat_id for p in posts] == ["kp1-group", "kp5-group"]
    kp5 = posts[1].text
    assert kp5.startswith(f"Kết quả hỏi ý kiến (Khu phố 5): {QUESTION}")
    assert "- Không cần: 3 hộ (100%)" in kp5 and "Đã trả lời: 3/" in kp5
    assert "Đã trả lời: 0/" in posts[0].text  # Khu phố 1 counts only its own households


def test_a_poll_cancelled_with_its_announcement_asks_nobody_and_sums_up_nothing(app, db, demo):
    from gateway.broadcast.service import cancel
    from gateway.polls.jobs import post_summary

    poll = make_poll(db)
    cancel(db, poll.announcement)
    db.commit()
    resident = households(db, "KP5", 1)[0]
    assert sms(app, db, "1", resident.phone).intent == "confirm"
    past_deadline(db, poll)
    with app.app_context():
        assert post_summary(poll.id) == "cancelled"
    db.expire_all()
    assert db.get(Poll, poll.id).status == "cancelled"
    assert db.scalar(select(func.count()).select_from(GroupPost)) == 0


def test_a_lost_summary_job_is_found_by_the_reconciler(app, db, demo):
    from gateway.reconcile import reconcile, poll_summaries

    poll = make_poll(db)
    drain(app)  # the broadcast; the summary job waits for the deadline
    app.config["RECONCILE_AFTER_SECONDS"] = 0
    with app.app_context():
        assert reconcile([poll_summaries]) == {"poll_summaries": 0}  # not due yet
    past_deadline(db, poll)
    from gateway.queue import get_connection
    from rq.registry import ScheduledJobRegistry

    with app.app_context():
        ScheduledJobRegistry("default", connection=get_connection()).remove(polls.summary_job_id(poll.id),
                                                                             delete_job=True)  # lost with Redis
        assert reconcile([poll_summaries]) == {"poll_summaries": 1}
        assert reconcile([poll_summaries]) == {"poll_summaries": 0}  # its job is queued: not twice
    drain(app)
    db.expire_all()
    assert db.get(Poll, poll.id).summary_posted_at is not None
    assert db.scalar(select(func.count()).select_from(GroupPost).where(GroupPost.idempotency_key.like("poll:%"))) == 1
    with app.app_context():
        assert reconcile([poll_summaries]) == {"poll_summaries": 0}


# --- the same on PostgreSQL ------------------------------------------------------------------------

def test_answers_results_and_scope_on_both_databases(any_app):
    from gateway.auth import area_scope
    from gateway.db import get_db
    from gateway.demo import load_demo

    with any_app.app_context():
        db = get_db()
        load_demo(db, households=60)
        poll = make_poll(db, codes=("KP1", "KP5"))
        kp1, kp5 = households(db, "KP1", 2), households(db, "KP5", 2)
        for body, r in [("1", kp1[0]), ("2", kp1[0]), ("co", kp1[1]), ("Không cần", kp5[0])]:
            assert sms(any_app, db, body, r.phone).intent == "poll"
        assert {(a.resident_id, a.choice, a.changes) for a in db.scalars(select(PollAnswer))} == {
            (kp1[0].id, 2, 1), (kp1[1].id, 1, 0), (kp5[0].id, 2, 0)}
        assert tally(db, poll)["total"]["counts"] == [1, 2]
        mine = tally(db, poll, within=area_scope(db, official(db, "truongkp1")))
        assert mine["total"]["counts"] == [1, 1] and [r["area"] for r in mine["areas"]] == ["Khu phố 1"]
        assert len(export_rows(db, poll, within=area_scope(db, official(db, "tanloi")))) == 1  # the header only
        past_deadline(db, poll)
        assert sms(any_app, db, "1", kp5[1].phone).reply == \
            "Cuoc hoi y kien da het han, y kien nay khong duoc tinh. Cam on ban!"
        assert db.scalar(select(func.count()).select_from(PollAnswer)) == 3
