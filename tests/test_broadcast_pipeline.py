"""The broadcast pipeline on the real Redis with an RQ worker in burst mode: fan-out, sends,
calls, group posts, quiet hours, escalation, cancellation; nothing twice, nobody skipped."""
import datetime as dt

import pytest
from sqlalchemy import select, update

from gateway.broadcast import jobs
from gateway.db import get_db
from gateway.models import Announcement, Delivery, GroupPost, OutboxMessage, Resident, utcnow
from gateway.queue import drain, enqueue, stats

from tests.broadcast_helpers import announce, deliveries, set_quiet, sms_sent_per_phone, targeted_phones


@pytest.fixture
def loud(app, db):
    """The demo commune (240 households), its quiet hours out of the way, small chunks so there are several."""
    from gateway.demo import load_demo

    load_demo(db, households=240)
    # No cap on calls in flight: the outbox "places" calls that never end.
    app.config.update(BROADCAST_CHUNK_SIZE="7", SMS_RATE_PER_SECOND="1000", VOICE_MAX_CONCURRENT="0")
    set_quiet(db, quiet_now=False)
    return db


def test_every_recipient_gets_one_sms_and_the_announcement_is_sent(app, loud):
    db = loud
    a = announce(db)
    drain(app)
    db.expire_all()
    assert a.status == "sent" and a.sms_text
    from gateway.sms.encoding import count_segments

    # One plain-text part a basic phone shows, ending with the commune's hotline.
    assert count_segments(a.sms_text) == ("GSM-7", 1) and "Tiem phong dai" in a.sms_text and "3822" in a.sms_text
    phones = targeted_phones(db, a)
    assert len(phones) > 7 * 3  # several chunks
    assert sms_sent_per_phone(db) == {p: 1 for p in phones}
    rows = deliveries(db, a, "sms")
    assert {d.phone for d in rows} == phones and all(d.status == "sent" for d in rows)
    assert all(d.idempotency_key == f"ann:{a.id}:sms:{d.phone}" and d.body == a.sms_text for d in rows)


def test_opted_out_and_other_areas_get_nothing(app, loud):
    db = loud
    a = announce(db, codes=("KP1",))
    first = db.scalar(select(Resident).where(Resident.phone.in_(targeted_phones(db, a))).order_by(Resident.id))
    first.opted_out_at = utcnow()
    db.commit()
    drain(app)
    sent = set(sms_sent_per_phone(db))
    assert first.phone not in sent
    kp1_ids = a.areas[0].descendant_ids(db)
    residents = {r.phone: r for r in db.scalars(select(Resident))}
    assert sent and all(residents[p].area_id in kp1_ids for p in sent)


def test_duplicated_and_rerun_jobs_send_nothing_twice(app, loud):
    db = loud
    a = announce(db)
    with app.app_context():
        enqueue(jobs.THIS + "start", a.id)  # a duplicate start
    drain(app)
    bounds = jobs.chunk_bounds(db, a, 7)
    with app.app_context():
        for lo, hi in bounds:  # every chunk again, and every send again
            enqueue(jobs.THIS + "fan_out", a.id, lo, hi, queue="bulk")
            enqueue(jobs.THIS + "send_chunk", a.id, lo, hi, queue="bulk")
        enqueue(jobs.THIS + "start", a.id)
    drain(app)
    assert set(sms_sent_per_phone(db).values()) == {1}
    assert len(sms_sent_per_phone(db)) == len(targeted_phones(db, a))


class Died(BaseException):
    """The worker process ending mid-job (nothing after it runs)."""


def test_a_chunk_that_died_mid_way_is_finished_by_its_rerun(app, loud, monkeypatch):
    db = loud
    a = announce(db)
    drain(app, queues=("default", "audio"))  # start: the chunks are queued on `bulk`
    lo, hi = jobs.chunk_bounds(db, a, 7)[0]

    def one_sms_then_die(announcement_id, first_id, last_id):
        from gateway.sms.jobs import send_delivery

        send_delivery(get_db().scalar(select(Delivery.id).where(Delivery.announcement_id == announcement_id)))
        raise Died()

    with app.app_context(), monkeypatch.context() as patch:
        patch.setattr(jobs, "send_chunk", one_sms_then_die)
        with pytest.raises(Died):
            jobs.fan_out(a.id, lo, hi)  # the first chunk's rows went in, one SMS went, then the worker died
    assert sum(sms_sent_per_phone(db).values()) == 1 and len(deliveries(db, a, "sms")) == 7
    drain(app)  # the chunk's job runs again (it was never finished), then the others
    phones = targeted_phones(db, a)
    assert len(phones) > 7 and sms_sent_per_phone(db) == {p: 1 for p in phones}
    db.expire_all()
    assert a.status == "sent"


def test_voice_calls_the_elderly_and_no_smartphone_households_once_audio_is_ready(app, loud):
    db = loud
    a = announce(db, channels=["sms", "voice", "hotline"])
    drain(app)
    db.expire_all()
    assert a.audio is not None and a.audio.status == "ready" and a.audio.phone_path
    residents = {r.phone: r for r in db.scalars(select(Resident))}
    calls = deliveries(db, a, "voice")
    assert calls and {d.idempotency_key for d in calls} == {f"ann:{a.id}:voice:{d.phone}" for d in calls}
    assert all(residents[d.phone].is_elderly or residents[d.phone].no_smartphone or residents[d.phone].prefers_voice
               for d in calls)
    assert {d.phone for d in calls} == targeted_phones(db, a, "voice")
    placed = [m.recipient for m in db.scalars(select(OutboxMessage).where(OutboxMessage.channel == "voice"))]
    assert sorted(placed) == sorted(d.phone for d in calls)


def test_group_post_per_main_group_with_a_link_to_the_audio(app, loud):
    db = loud
    a = announce(db, channels=["sms", "group"], codes=("KP1", "KP2"))
    drain(app)
    drain(app, scheduled=True)  # the post waited for the audio
    db.expire_all()
    posts = list(db.scalars(select(GroupPost).where(GroupPost.announcement_id == a.id)))
    assert sorted(p.chat_id for p in posts) == ["kp1-group", "kp2-group"]
    assert all(p.status == "posted" for p in posts)
    msgs = list(db.scalars(select(OutboxMessage).where(OutboxMessage.channel == "group")))
    assert len(msgs) == 2
    assert "Thông báo: Tiêm phòng dại cho chó mèo" in msgs[0].body
    assert f"https://gw.example.vn/audio/{a.audio.content_hash}.mp3" in msgs[0].body
    with app.app_context():  # a duplicated job posts nothing more
        jobs.post_to_groups(a.id)
    drain(app)
    assert db.scalar(select(GroupPost.id).where(GroupPost.announcement_id == a.id).offset(2)) is None


def test_two_areas_sharing_a_group_get_one_post(app, loud):
    db = loud
    a = announce(db, channels=["group"], codes=("TANLAP", "KP3"))
    for area in a.areas:
        area.group_chat_id = "shared" if area.code == "KP3" else area.group_chat_id
    a.areas[0].group_chat_id = "shared"
    db.commit()
    drain(app)
    drain(app, scheduled=True)
    assert [p.chat_id for p in db.scalars(select(GroupPost).where(GroupPost.announcement_id == a.id))] == ["shared"]


@pytest.mark.parametrize("priority, held", [("normal", True), ("urgent", False), ("emergency", False)])
def test_quiet_hours_hold_back_sms_unless_urgent(app, loud, priority, held):
    db = loud
    set_quiet(db, quiet_now=True)
    a = announce(db, priority=priority, codes=("KP1",))
    drain(app)
    sent = sms_sent_per_phone(db)
    phones = targeted_phones(db, a)
    if held:
        held_rows = deliveries(db, a, "sms")
        assert not sent and all(d.status == "pending" for d in held_rows)
        # Due in the morning: the SMS module's clean-up of overdue pending rows leaves them alone.
        assert all(d.next_attempt_at and d.next_attempt_at > utcnow() for d in held_rows)
        with app.app_context():
            from gateway.sms.outbound import requeue_stuck

            assert requeue_stuck(get_db(), app.config, older_than=dt.timedelta(0))["requeued"] == 0
        db.expire_all()
        assert a.status == "sending"  # fanned out, but "sent" only once the held SMS have gone
        assert stats(app)["bulk"]["scheduled"] == len(jobs.chunk_bounds(db, a, 7))  # a send per chunk, in the morning
        set_quiet(db, quiet_now=False)  # the night ends
        drain(app, scheduled=True)
        assert sms_sent_per_phone(db) == {p: 1 for p in phones}
        db.expire_all()
        assert a.status == "sent"
    else:
        assert sent == {p: 1 for p in phones}


@pytest.mark.parametrize("priority, held", [("urgent", True), ("emergency", False)])
def test_quiet_hours_hold_back_calls_unless_emergency(app, loud, priority, held):
    db = loud
    set_quiet(db, quiet_now=True)
    a = announce(db, priority=priority, codes=("KP1",), channels=["voice"])
    drain(app)
    calls = deliveries(db, a, "voice")
    placed = list(db.scalars(select(OutboxMessage).where(OutboxMessage.channel == "voice")))
    assert calls
    assert (not placed) if held else (len(placed) == len(calls))


def test_cancelled_before_it_starts_sends_nothing(app, loud):
    db = loud
    a = announce(db, send_at=utcnow() + dt.timedelta(hours=2))
    assert stats(app)["default"]["scheduled"] == 1
    from gateway.broadcast import service

    service.cancel(db, a)
    db.commit()
    drain(app, scheduled=True)  # the scheduled start runs now, and finds it cancelled
    db.expire_all()
    assert a.status == "cancelled"
    assert deliveries(db, a) == [] and not sms_sent_per_phone(db)
    with pytest.raises(service.AnnouncementError, match="can no longer be cancelled"):
        b = announce(db)
        drain(app)
        service.cancel(db, b)


def test_scheduled_announcement_waits_for_its_time(app, loud):
    db = loud
    a = announce(db, send_at=utcnow() + dt.timedelta(hours=2))
    drain(app)
    db.expire_all()
    assert a.status == "scheduled" and not sms_sent_per_phone(db)
    drain(app, scheduled=True)
    db.expire_all()
    assert a.status == "sent" and len(sms_sent_per_phone(db)) == len(targeted_phones(db, a))


def test_nobody_to_reach_is_sent_at_once(app, loud):
    db = loud
    a = announce(db, audiences=["poor"], codes=("KP1",))
    for r in db.scalars(select(Resident)):
        r.is_poor = False
    db.commit()
    drain(app)
    db.expire_all()
    assert a.status == "sent" and deliveries(db, a) == []


def _needs_call(db, phones):
    return {r.phone for r in db.scalars(select(Resident).where(Resident.phone.in_(phones)))
            if r.is_elderly or r.no_smartphone}


def test_urgent_sms_unconfirmed_by_the_elderly_escalates_to_one_call(app, loud):
    db = loud
    a = announce(db, priority="urgent", channels=["sms"])
    drain(app)
    chunks = len(jobs.chunk_bounds(db, a, 7))
    from rq.registry import ScheduledJobRegistry

    registry = ScheduledJobRegistry("default", connection=app.extensions["gateway.redis"])
    assert registry.count == chunks  # one escalation check per chunk, ESCALATE_AFTER_MINUTES after its SMS
    for job_id in registry.get_job_ids():
        assert dt.timedelta(minutes=29) < registry.get_scheduled_time(job_id) - utcnow() <= dt.timedelta(minutes=30)
    phones = targeted_phones(db, a)
    elderly = sorted(_needs_call(db, phones))
    assert len(elderly) >= 3 and deliveries(db, a, "voice") == []
    confirmed = db.scalar(select(Delivery).where(Delivery.phone == elderly[0], Delivery.announcement_id == a.id))
    confirmed.status, confirmed.confirmed_at = "confirmed", utcnow()  # they texted OK
    db.commit()
    with app.app_context():  # too early: nobody is called before their SMS is half an hour old
        assert all(jobs.escalate(a.id, lo, hi) == 0 for lo, hi in jobs.chunk_bounds(db, a, 7))
    db.execute(update(Delivery).where(Delivery.announcement_id == a.id)
               .values(sent_at=utcnow() - dt.timedelta(minutes=31)))
    db.commit()
    drain(app, scheduled=True)  # half an hour later
    calls = deliveries(db, a, "voice")
    assert sorted(d.phone for d in calls) == elderly[1:]
    assert all(d.idempotency_key == f"ann:{a.id}:voice:{d.phone}" for d in calls)
    with app.app_context():  # the check running again calls nobody twice
        for lo, hi in jobs.chunk_bounds(db, a, 7):
            enqueue(jobs.THIS + "escalate", a.id, lo, hi)
    drain(app)
    placed = [m.recipient for m in db.scalars(select(OutboxMessage).where(OutboxMessage.channel == "voice"))]
    assert sorted(placed) == elderly[1:]


def test_escalation_does_not_call_those_already_called(app, loud):
    db = loud
    a = announce(db, priority="urgent", channels=["sms", "voice"])
    drain(app)
    called = {d.phone for d in deliveries(db, a, "voice")}
    assert called == _needs_call(db, targeted_phones(db, a)) | {
        r.phone for r in db.scalars(select(Resident).where(Resident.prefers_voice.is_(True)))} & targeted_phones(db, a)
    drain(app, scheduled=True)
    assert {d.phone for d in deliveries(db, a, "voice")} == called
    placed = [m.recipient for m in db.scalars(select(OutboxMessage).where(OutboxMessage.channel == "voice"))]
    assert sorted(placed) == sorted(called)


def test_normal_announcements_never_escalate(app, loud):
    db = loud
    announce(db, channels=["sms"])
    drain(app)
    assert stats(app)["default"]["scheduled"] == 0


def test_sms_held_past_the_expiry_are_not_sent(app, loud):
    db = loud
    set_quiet(db, quiet_now=True)
    a = announce(db, codes=("KP1",))
    drain(app)
    assert not sms_sent_per_phone(db)
    a.expires_at = utcnow() - dt.timedelta(minutes=1)  # the night outlasted it
    db.commit()
    set_quiet(db, quiet_now=False)
    drain(app, scheduled=True)
    rows = deliveries(db, a, "sms")
    assert rows and all((d.status, d.error_code) == ("skipped", "expired") for d in rows)
    assert not sms_sent_per_phone(db)
    from gateway.broadcast import coverage

    total = next(r for r in coverage.by_area_and_audience(db, a) if r["area"] == "*" and r["audience"] == "all")
    assert total["failed"] == total["targeted"] == len(rows)


def test_a_start_that_died_before_planning_is_resumed_once(app, loud):
    db = loud
    a = announce(db)
    a.status = "sending"  # claimed by a start job that then died before planning (its job lost)
    db.commit()
    from gateway.models import BroadcastChunk

    with app.app_context():
        assert jobs.start(a.id) == f"{len(jobs.chunk_bounds(db, a, 7))} chunks"  # resumed: plans
        assert jobs.start(a.id) == "skipped"  # planned: a later duplicate does nothing
    steps = list(db.scalars(select(BroadcastChunk).where(BroadcastChunk.announcement_id == a.id)))
    assert [(s.kind, s.status) for s in steps] == [("fanout", "pending")] * len(jobs.chunk_bounds(db, a, 7))
    drain(app)
    db.expire_all()
    assert a.status == "sent" and sms_sent_per_phone(db) == {p: 1 for p in targeted_phones(db, a)}
    assert {s.status for s in db.scalars(select(BroadcastChunk))} == {"done"}
