"""Inbound SMS behaviour: floods, opt-out and rejoin, confirmations, report threads, areas."""
import datetime as dt

import pytest
from sqlalchemy import func, select

from gateway.models import (Announcement, Area, Delivery, GroupPost, InboundMessage, Report, Resident,
                            Subscription, utcnow)
from gateway.sms.inbound import parse_rate, receive

STRANGER = "+84987000111"


def text(app, db, body, sender=STRANGER, **kw):
    return receive(db, provider="twilio", sender=sender, body=body, config=app.config, **kw)


def household(db, code="KP5"):
    """A demo resident living in a team of neighbourhood `code`."""
    area = db.scalar(select(Area).where(Area.code == code, Area.level == "neighbourhood"))
    return db.scalar(select(Resident).where(Resident.area_id.in_([t.id for t in area.children])).limit(1))


def count(db, model):
    return db.scalar(select(func.count()).select_from(model))


def test_flood_from_one_number_becomes_one_report_thread(app, db, demo):
    app.config["SMS_RATE_LIMIT"] = "5/hour"
    results = [text(app, db, f"Tin nhan so {i}") for i in range(40)]
    assert count(db, InboundMessage) == 40  # every text kept
    assert count(db, Report) == 1
    report = db.scalar(select(Report))
    assert len([e for e in report.events if e.kind == "message_in"]) == 40
    assert [bool(r.reply) for r in results] == [True] * 5 + [False] * 35  # replies stop at the limit
    assert {r.intent for r in results[5:]} == {"rate_limited"}
    # The group hears of the report and the follow-ups under the limit, not of the flood.
    assert count(db, GroupPost) == 5


def test_flood_of_commands_also_lands_in_one_report(app, db, demo):
    app.config["SMS_RATE_LIMIT"] = "3/hour"
    for _ in range(20):
        text(app, db, "TIN")
    assert count(db, Report) == 1 and count(db, InboundMessage) == 20


def test_rate_limit_window_passes(app, db, demo):
    app.config["SMS_RATE_LIMIT"] = "2/10min"
    start = utcnow()
    for i in range(2):
        text(app, db, "TIN", now=start + dt.timedelta(seconds=i))
    assert text(app, db, "TIN", now=start + dt.timedelta(minutes=1)).reply is None
    assert text(app, db, "TIN", now=start + dt.timedelta(minutes=11)).reply is not None


@pytest.mark.parametrize("value, expected", [
    ("10/hour", (10, dt.timedelta(hours=1))), ("5/30min", (5, dt.timedelta(minutes=30))),
    ("100/day", (100, dt.timedelta(days=1))), (" 3 / minute ", (3, dt.timedelta(minutes=1))),
])
def test_rate_settings(value, expected):
    assert parse_rate(value) == expected


@pytest.mark.parametrize("value", ["ten/hour", "0/hour", "10/fortnight", "10"])
def test_bad_rate_settings_fail_at_start(make_app, value):
    with pytest.raises(ValueError):
        make_app(SMS_RATE_LIMIT=value)


def test_opted_out_number_only_gets_the_opt_out_confirmation_and_can_rejoin(app, db, demo):
    resident = household(db)
    confirmation = text(app, db, "HUY", sender=resident.phone).reply
    assert resident.opted_out
    for body in ("TIN", "?", "OK", "STOP"):
        assert text(app, db, body, sender=resident.phone).reply == confirmation
    filed = text(app, db, "Có cháy ở chợ", sender=resident.phone)
    assert filed.reply == confirmation and filed.report is not None  # kept for officials, no receipt
    rejoined = text(app, db, "DK", sender=resident.phone)
    assert rejoined.reply.startswith("Chao mung ban tro lai! Da dang ky nhan tin Khu pho 5 To")
    assert not resident.opted_out
    assert text(app, db, "TIN", sender=resident.phone).reply.startswith("Chua co thong bao moi")


def test_stranger_who_opts_out_is_remembered(app, db, demo):
    text(app, db, "STOP")
    resident = db.scalar(select(Resident).where(Resident.phone == STRANGER))
    assert resident.opted_out and resident.consent_source == "sms"
    assert text(app, db, "DK KP3").reply.startswith("Chao mung ban tro lai! Da dang ky nhan tin Khu pho 3")


def test_household_following_another_area_gets_a_subscription(app, db, demo):
    resident = household(db, "KP5")
    assert text(app, db, "DK thon Tan Loi", sender=resident.phone).reply.startswith("Da dang ky nhan tin Thon Tan Loi")
    assert [s.area.code for s in db.scalars(select(Subscription))] == ["TANLOI"]
    text(app, db, "DK KP5", sender=resident.phone)  # their own neighbourhood: nothing to add
    assert count(db, Subscription) == 1


def test_one_team_among_many_can_be_named(app, db, demo):
    reply = text(app, db, "DK KP5 To 2").reply
    assert reply.startswith("Da dang ky nhan tin Khu pho 5 To 2")


def test_ambiguous_area_lists_the_candidates(app, db, demo):
    reply = text(app, db, "DK To 1").reply
    assert reply.startswith('"To 1" co 14 khu: KP1 To 1, KP2 To 1,')
    assert "vi du DK KP1 To 1" in reply
    assert count(db, Resident) == 60  # the demo households: nobody added for an unclear area


def test_confirm_marks_the_newest_announcement_delivery_of_the_week(app, db, demo):
    resident = household(db)
    now = utcnow()
    old, newer, other = (Announcement(title=t, body=t, status="sent") for t in ("a", "b", "c"))
    db.add_all([old, newer, other])
    db.flush()
    rows = [
        Delivery(idempotency_key="d1", announcement_id=old.id, phone=resident.phone, channel="sms", status="delivered",
                 created_at=now - dt.timedelta(days=2)),
        Delivery(idempotency_key="d2", announcement_id=newer.id, phone=resident.phone, channel="voice",
                 status="answered", created_at=now - dt.timedelta(hours=1)),
        Delivery(idempotency_key="d3", announcement_id=other.id, phone="+84900000001", channel="sms", status="sent",
                 created_at=now),
        Delivery(idempotency_key="d4", report_id=None, phone=resident.phone, channel="sms", status="sent",
                 created_at=now),  # a reply, not an announcement
    ]
    db.add_all(rows)
    db.commit()
    assert text(app, db, "Đã nhận", sender=resident.phone).reply == "Cam on ban da xac nhan da nhan thong bao."
    for d in rows:
        db.refresh(d)
    assert [d.status for d in rows] == ["delivered", "confirmed", "sent", "sent"]
    assert rows[1].confirmed_at is not None


def test_confirm_ignores_deliveries_older_than_a_week(app, db, demo):
    resident = household(db)
    a = Announcement(title="x", body="x", status="sent")
    db.add(a)
    db.flush()
    db.add(Delivery(idempotency_key="old", announcement_id=a.id, phone=resident.phone, channel="sms",
                    status="delivered", created_at=utcnow() - dt.timedelta(days=8)))
    db.commit()
    assert text(app, db, "1", sender=resident.phone).reply.startswith("Khong co thong bao nao")


def test_follow_up_joins_the_thread_until_the_window_closes(app, db, demo):
    resident = household(db)
    start = utcnow()
    first = text(app, db, "PA rác chưa thu 3 ngày", sender=resident.phone, now=start)
    assert first.reply.startswith(f"Da nhan phan anh #{first.report.number}. Can bo Khu pho 5")
    again = text(app, db, "Ở đầu hẻm 7", sender=resident.phone, now=start + dt.timedelta(minutes=20))
    assert again.report.id == first.report.id
    assert again.reply == f"Da bo sung vao phan anh #{first.report.number}. Cam on ban."
    later = text(app, db, "Đèn đường hỏng", sender=resident.phone, now=start + dt.timedelta(minutes=55))
    assert later.report.id != first.report.id and later.report.number == first.report.number + 1


def test_closed_report_is_not_reopened_by_a_new_text(app, db, demo):
    first = text(app, db, "PA cây đổ")
    first.report.status = "resolved"
    db.commit()
    assert text(app, db, "PA lại có cây đổ").report.id != first.report.id


def test_empty_report_keyword_asks_for_the_content(app, db, demo):
    assert text(app, db, "PA").reply.startswith("Hay nhan PA <noi dung phan anh>")
    assert count(db, Report) == 0


def test_reports_from_strangers_go_to_the_commune_they_texted(app, db, demo):
    other = Area(level="commune", kind="xa", name="Xã Bình An", code="BINHAN", hotline_number="+842633999888")
    db.add(other)
    db.commit()
    result = text(app, db, "Có người lạ", to="+842633999888")
    assert result.report.commune_id == other.id and result.report.area_id is None
    assert "Can bo Xa Binh An" in result.reply


def test_invalid_sender_is_kept_and_never_answered(app, db, demo):
    result = text(app, db, "Khuyen mai!", sender="VNPT")
    assert result.reply is None and result.message.intent == "invalid_sender" and result.message.phone == "VNPT"
    assert count(db, Report) == 0


def test_news_for_a_household_is_its_area_digest(app, db, demo):
    resident = household(db, "KP5")
    kp5 = resident.area.parent
    now = utcnow()
    db.add(Announcement(title="Tiêm phòng dại", body="Sáng Chủ nhật tiêm phòng dại cho chó mèo tại nhà văn hóa.",
                        status="sent", areas=[kp5], send_at=now - dt.timedelta(hours=2),
                        expires_at=now + dt.timedelta(days=2)))
    db.commit()
    reply = text(app, db, "tin", sender=resident.phone).reply
    assert reply == ("Tiem phong dai: Sang Chu nhat tiem phong dai cho cho meo tai nha van hoa. "
                     "Chi tiet: goi 0263 3822 123")
