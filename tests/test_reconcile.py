"""The reconciler: each rule finds work whose job vanished (Redis flushed, a worker killed),
enqueues it again once, and the work is then done exactly once. Real RQ on the local Redis."""
import datetime as dt

import pytest
import requests
import responses
from sqlalchemy import func, select, update

from gateway import reconcile
from gateway.broadcast import coverage, jobs
from gateway.mirror.outbound import POST_JOB
from gateway.models import (
    BroadcastChunk, Bulletin, Delivery, GroupPost, OutboxMessage, utcnow,
)
from gateway.queue import Ticker, drain, enqueue, stats

from tests.broadcast_helpers import announce, deliveries, set_quiet, sms_sent_per_phone, targeted_phones


@pytest.fixture
def rapp(any_app):
    """An app (SQLite, then PostgreSQL) whose reconciler redoes anything not done by now."""
    app = any_app
    app.config.update(RECONCILE_AFTER_SECONDS="0", BROADCAST_CHUNK_SIZE="7", SMS_RATE_PER_SECOND="1000",
                      VOICE_MAX_CONCURRENT="0")
    return app


@pytest.fixture
def db(rapp):
    """The session of `rapp` (this module's apps run on both databases)."""
    from gateway.db import get_db

    with rapp.app_context():
        yield get_db()


@pytest.fixture
def town(rapp, db):
    from gateway.demo import load_demo

    load_demo(db, households=120)
    set_quiet(db, quiet_now=False)
    return db


def lose_redis(app):
    """Redis restarted without its data: every queued, scheduled and running job is gone."""
    app.extensions["gateway.redis"].flushdb()


def run(app, *rules):
    with app.app_context():
        return reconcile.reconcile(rules or reconcile.RULES)


def total(db, a):
    return next(r for r in coverage.by_area_and_audience(db, a) if r["area"] == "*" and r["audience"] == "all")


def test_a_start_whose_job_was_lost_is_started_once(rapp, town):
    db = town
    a = announce(db, codes=("KP1", "KP2"))
    lose_redis(rapp)
    assert run(rapp)["scheduled_starts"] == 1
    assert run(rapp)["scheduled_starts"] == 0  # its job is queued now: not enqueued twice
    drain(rapp)
    db.expire_all()
    assert a.status == "sent" and sms_sent_per_phone(db) == {p: 1 for p in targeted_phones(db, a)}


def test_a_start_not_due_yet_is_left_alone(rapp, town):
    db = town
    a = announce(db, send_at=utcnow() + dt.timedelta(hours=2))
    lose_redis(rapp)
    assert run(rapp)["scheduled_starts"] == 0
    db.expire_all()
    assert a.status == "scheduled"


def test_chunks_lost_mid_fan_out_are_fanned_out_and_the_announcement_is_not_marked_sent(rapp, town):
    db = town
    a = announce(db, codes=("KP1", "KP2"))
    drain(rapp, queues=("default",))  # start ran and planned; its fan-out jobs are queued
    steps = list(db.scalars(select(BroadcastChunk).where(BroadcastChunk.announcement_id == a.id)))
    assert len(steps) >= 2 and {s.status for s in steps} == {"pending"}
    lose_redis(rapp)
    drain(rapp)  # nothing left to run
    db.expire_all()
    assert a.status == "sending" and not sms_sent_per_phone(db)
    t = total(db, a)
    assert t["targeted"] == t["not_sent"] == len(targeted_phones(db, a))  # counted though they have no rows
    assert run(rapp)["broadcast_steps"] == len(steps)
    drain(rapp)
    db.expire_all()
    assert sms_sent_per_phone(db) == {p: 1 for p in targeted_phones(db, a)}
    assert a.status == "sent"
    t = total(db, a)
    assert (t["targeted"], t["reached"] + t["in_progress"], t["not_sent"]) == (len(targeted_phones(db, a)),) * 2 + (0,)


def test_the_group_step_lost_with_redis_still_posts_once(rapp, town):
    db = town
    from gateway.models import Area

    kp1 = db.scalar(select(Area).where(Area.code == "KP1"))
    kp1.group_target, kp1.group_chat_id = "outbox", "grp-kp1"
    db.commit()
    a = announce(db, codes=("KP1",), channels=["group"])
    drain(rapp, queues=("default",))  # start: the groups step is pending, its job waits for the audio
    lose_redis(rapp)
    db.execute(update(BroadcastChunk).values(created_at=utcnow() - dt.timedelta(hours=1)))  # waited long enough
    db.commit()
    assert run(rapp)["broadcast_steps"] == 1
    drain(rapp)
    assert db.scalar(select(func.count()).select_from(OutboxMessage).where(OutboxMessage.channel == "group")) == 1
    assert run(rapp)["broadcast_steps"] == 0
    assert [p.status for p in db.scalars(select(GroupPost))] == ["posted"]


def test_a_sending_announcement_whose_last_sms_went_by_retry_is_marked_sent(rapp, town):
    db = town
    a = announce(db, codes=("KP1",))
    drain(rapp)
    db.expire_all()
    a.status = "sending"  # its last SMS ended in a retry job, not in a chunk job
    db.commit()
    assert run(rapp, reconcile.finished_announcements)["finished_announcements"] == 1
    db.expire_all()
    assert a.status == "sent"


def test_pending_sms_whose_job_was_lost_is_sent_once(rapp, db):
    from gateway.sms_queue import queue_sms

    d = queue_sms(db, phone="+84912345678", body="Da nhan phan anh #3", key="reply:3")
    db.commit()
    lose_redis(rapp)
    assert run(rapp)["sms_pending"] == 1
    assert run(rapp)["sms_pending"] == 0  # queued now: not twice
    drain(rapp)
    db.refresh(d)
    assert d.status == "sent" and sms_sent_per_phone(db) == {"+84912345678": 1}


def test_held_broadcast_sms_whose_morning_job_was_lost_go_through_their_chunk(rapp, town):
    db = town
    set_quiet(db, quiet_now=True)
    a = announce(db, codes=("KP1",))
    drain(rapp)
    held = deliveries(db, a, "sms")
    assert held and all(d.status == "pending" and d.next_attempt_at > utcnow() for d in held)
    assert run(rapp)["sms_pending"] == 0  # not due before the morning
    lose_redis(rapp)  # the morning's send jobs are gone
    set_quiet(db, quiet_now=False)
    db.execute(update(Delivery).values(next_attempt_at=utcnow() - dt.timedelta(minutes=1)))
    db.commit()
    assert run(rapp)["sms_pending"] == len(jobs.chunk_bounds(db, a, 7))  # one send job per chunk
    drain(rapp)
    db.expire_all()
    assert sms_sent_per_phone(db) == {p: 1 for p in targeted_phones(db, a)} and a.status == "sent"


def test_sms_left_sending_by_a_dead_worker_is_sent_once(rapp, db):
    from gateway.sms_queue import queue_sms

    d = queue_sms(db, phone="+84912345002", body="b", key="k-lost")
    db.commit()
    lose_redis(rapp)
    # A worker claimed it and died before the outbox transaction committed.
    db.execute(update(Delivery).where(Delivery.id == d.id).values(status="sending", attempts=1))
    db.commit()
    rapp.config["RECONCILE_AFTER_SECONDS"] = "60"
    assert run(rapp)["sms_sending"] == 0  # a live send takes seconds: not yet
    db.execute(update(Delivery).values(updated_at=utcnow() - dt.timedelta(minutes=2)))
    db.commit()
    assert run(rapp)["sms_sending"] == 1
    drain(rapp)
    db.refresh(d)
    assert d.status == "sent" and sms_sent_per_phone(db) == {"+84912345002": 1}
    assert run(rapp)["sms_sending"] == 0


def test_a_call_whose_job_was_lost_is_placed_once_and_one_left_placing_is_never_placed_again(rapp, db):
    from gateway.ivr.calls import queue_call

    lost = queue_call(db, phone="+84912345003", key="call:lost")
    dying = queue_call(db, phone="+84912345004", key="call:dying")
    db.commit()
    lose_redis(rapp)
    db.execute(update(Delivery).where(Delivery.id == dying.id).values(status="sending", attempts=1))
    db.execute(update(Delivery).values(updated_at=utcnow() - dt.timedelta(minutes=2)))
    db.commit()
    counts = run(rapp)
    assert (counts["calls_pending"], counts["calls_sending"]) == (1, 1)
    drain(rapp)
    placed = [m.recipient for m in db.scalars(select(OutboxMessage).where(OutboxMessage.channel == "voice"))]
    assert placed == ["+84912345003"]
    db.refresh(dying)
    assert (dying.status, dying.error_code) == ("failed", "outcome_unknown")
    assert run(rapp)["calls_pending"] == 0


def post_row(db, target="outbox", chat="grp-1", status="pending", key="p1"):
    gp = GroupPost(idempotency_key=key, target=target, chat_id=chat, text="Phản ánh #1", status=status)
    db.add(gp)
    db.commit()
    return gp


def test_group_post_whose_job_was_lost_is_posted_once(rapp, db):
    gp = post_row(db)
    assert run(rapp)["group_posts"] == 1
    assert run(rapp)["group_posts"] == 0
    drain(rapp)
    db.refresh(gp)
    assert gp.status == "posted"
    assert db.scalar(select(func.count()).select_from(OutboxMessage).where(OutboxMessage.channel == "group")) == 1


def test_group_post_left_posting_is_found_not_posted_twice(rapp, db):
    gp = post_row(db)
    with rapp.app_context():
        from gateway.mirror.jobs import post

        assert post(gp.id) == "posted"
    db.execute(update(GroupPost).values(status="posting", message_id=None,  # died before recording it
                                        updated_at=utcnow() - dt.timedelta(minutes=2)))
    db.commit()
    assert run(rapp)["group_posts"] == 1
    drain(rapp, scheduled=True)
    db.refresh(gp)
    assert gp.status == "posted" and gp.message_id.startswith("outbox-")
    assert db.scalar(select(func.count()).select_from(OutboxMessage).where(OutboxMessage.channel == "group")) == 1


TG = "https://api.telegram.org/bot123:abc/sendMessage"
HOOK = "https://hooks.example.org/group/kp5"
GROUP_CONFIG = dict(TELEGRAM_BOT_TOKEN="123:abc", TELEGRAM_WEBHOOK_SECRET="s3cret", GROUP_WEBHOOK_SECRET="whsecret")


@responses.activate
def test_telegram_post_that_timed_out_is_left_to_an_operator_not_posted_again(rapp, db):
    rapp.config.update(GROUP_CONFIG)
    responses.add(responses.POST, TG, body=requests.ReadTimeout("read timed out"))
    gp = post_row(db, target="telegram", chat="-100123")
    enqueue(POST_JOB, gp.id, queue="high")
    drain(rapp, scheduled=True)
    drain(rapp, scheduled=True)
    db.refresh(gp)
    assert gp.status == "failed" and "Không rõ" in gp.last_error
    assert len(responses.calls) == 1
    assert run(rapp)["group_posts"] == 0  # failed for an operator, not requeued


@responses.activate
def test_telegram_post_left_posting_by_a_dead_worker_is_not_posted_again(rapp, db):
    rapp.config.update(GROUP_CONFIG)
    gp = post_row(db, target="telegram", chat="-100123", status="posting")
    db.execute(update(GroupPost).values(updated_at=utcnow() - dt.timedelta(minutes=2)))
    db.commit()
    assert run(rapp)["group_posts"] == 1
    drain(rapp, scheduled=True)
    db.refresh(gp)
    assert gp.status == "failed" and "Không rõ" in gp.last_error and not responses.calls


@responses.activate
def test_webhook_post_that_timed_out_is_sent_again_with_the_same_idempotency_key(rapp, db):
    rapp.config.update(GROUP_CONFIG)
    responses.add(responses.POST, HOOK, body=requests.ReadTimeout("read timed out"))
    responses.add(responses.POST, HOOK, json={"message_id": "w-1"})
    gp = post_row(db, target="webhook", chat=HOOK)
    enqueue(POST_JOB, gp.id, queue="high")
    drain(rapp)
    db.execute(update(GroupPost).values(next_attempt_at=utcnow()))
    db.commit()
    drain(rapp, scheduled=True)
    db.refresh(gp)
    assert (gp.status, gp.message_id) == ("posted", "w-1")
    keys = [c.request.headers["Idempotency-Key"] for c in responses.calls]
    assert keys == [f"loaxom-post-{gp.id}"] * 2


def test_post_to_an_unknown_group_target_fails_with_the_reason(rapp, db):
    gp = post_row(db, target="facebook")
    enqueue(POST_JOB, gp.id, queue="high")
    drain(rapp)
    db.refresh(gp)
    assert gp.status == "failed" and "facebook" in gp.last_error and "telegram" in gp.last_error
    assert run(rapp)["group_posts"] == 0


def test_audio_asset_whose_render_job_was_lost_is_rendered(rapp, db):
    from gateway.media import ensure_text_asset

    asset = ensure_text_asset(db, "Họp tổ lúc 19 giờ.", kind="prompt")
    db.commit()
    lose_redis(rapp)
    assert run(rapp)["audio_assets"] == 1
    assert run(rapp)["audio_assets"] == 0
    drain(rapp)
    db.refresh(asset)
    assert asset.status == "ready" and asset.mp3_path


def test_bulletin_whose_job_was_lost_is_rendered(rapp, town):
    db = town
    from gateway.models import Area

    b = Bulletin(area_id=db.scalar(select(Area.id).where(Area.code == "KP1")), day=dt.date(2026, 11, 30),
                 announcement_ids=[999], status="pending")
    db.add(b)
    db.commit()
    assert run(rapp)["bulletins"] == 1
    drain(rapp)
    db.refresh(b)
    assert b.status == "empty"  # its one announcement is gone: nothing to join, and no longer pending


def test_the_ticker_enqueues_each_periodic_task_once_per_interval_and_moves_due_jobs(rapp, db):
    ticker = Ticker(rapp)
    enqueue_at = utcnow() - dt.timedelta(seconds=1)
    with rapp.app_context():
        enqueue("tests.jobs.record", "due", at=enqueue_at)
    assert sorted(ticker.tick()) == sorted(reconcile.TASKS)
    assert ticker.tick() == []  # every interval holds its lock
    assert stats(rapp)["default"]["scheduled"] == 0  # the due job was moved onto its queue
    drain(rapp)
    assert [m.recipient for m in db.scalars(select(OutboxMessage))] == ["due"]


def test_health_shows_the_age_of_the_oldest_unfinished_work(rapp, db):
    client = rapp.test_client()
    from gateway.sms_queue import queue_sms

    d = queue_sms(db, phone="+84912345678", body="x", key="stuck")
    db.commit()
    db.execute(update(Delivery).where(Delivery.id == d.id).values(created_at=utcnow() - dt.timedelta(minutes=20)))
    db.commit()
    work = client.get("/healthz").json["work"]
    assert work["sms"]["unfinished"] == 1 and 20 * 60 - 5 <= work["sms"]["oldest_seconds"] <= 20 * 60 + 60
    assert work["group_posts"] == {"unfinished": 0, "oldest_seconds": 0}
    text = client.get("/metrics").get_data(as_text=True)
    line = next(x for x in text.splitlines() if x.startswith('gateway_oldest_unfinished_seconds{kind="sms"}'))
    assert int(line.split()[-1]) >= 20 * 60 - 5
    assert 'gateway_unfinished{kind="sms"} 1' in text


def test_escalations_lost_with_redis_are_made_by_the_periodic_task_once(rapp, town):
    db = town
    from gateway.models import Resident

    a = announce(db, codes=("KP1", "KP2"), priority="urgent", channels=["sms"])
    drain(rapp)
    lose_redis(rapp)  # the escalation checks scheduled for half an hour later are gone
    db.execute(update(Delivery).where(Delivery.announcement_id == a.id)
               .values(sent_at=utcnow() - dt.timedelta(minutes=31)))
    db.commit()
    phones = targeted_phones(db, a)
    elderly = sorted(db.scalars(select(Resident.phone).where(
        Resident.phone.in_(phones), Resident.is_elderly.is_(True) | Resident.no_smartphone.is_(True))))
    assert elderly
    for _ in range(2):  # the task runs again and again: nobody is called twice
        with rapp.app_context():
            assert reconcile.run_task("escalations") == len(jobs.chunk_bounds(db, a, 7))
        drain(rapp)
    placed = sorted(m.recipient for m in db.scalars(select(OutboxMessage).where(OutboxMessage.channel == "voice")))
    assert placed == elderly


def test_the_bulletins_task_requests_today_for_every_area_with_an_operator_link(rapp, town):
    db = town
    from gateway.loudspeaker.links import create_link
    from gateway.loudspeaker.listing import local_day
    from gateway.models import Area

    kp1 = db.scalar(select(Area).where(Area.code == "KP1"))
    create_link(db, area=kp1, label="Ông Ba – loa khu phố 1")
    db.commit()
    with rapp.app_context():
        assert reconcile.run_task("bulletins") == 1
    [b] = db.scalars(select(Bulletin))
    assert (b.area_id, b.day, b.status) == (kp1.id, local_day(utcnow()), "empty")  # no announcements today


def test_voice_report_whose_job_was_lost_is_processed_and_mirrored_once(rapp, db):
    from gateway.demo import load_demo
    from gateway.models import Area
    from gateway.reports.records import open_report

    load_demo(db, households=20)
    kp5 = db.scalar(select(Area).where(Area.code == "KP5"))
    report = open_report(db, commune=kp5.commune(), channel="voice", area=kp5, phone="+84987654321",
                         category="environment")
    db.commit()  # the hotline stored the report while Redis was down: its job never queued
    assert run(rapp)["voice_reports"] == 1
    assert run(rapp)["voice_reports"] == 0  # queued now
    drain(rapp)
    [post] = db.scalars(select(GroupPost))
    assert post.report_id == report.id and post.idempotency_key == f"report:{report.id}:mirror"
    drain(rapp)
    assert run(rapp)["voice_reports"] == 0  # mirrored: done
    assert db.scalar(select(func.count()).select_from(OutboxMessage).where(OutboxMessage.channel == "group")) == 1


def test_operator_commands_show_work_and_repost_a_post_of_unknown_outcome(rapp, db):
    from gateway.mirror.jobs import UNKNOWN_OUTCOME

    runner = rapp.test_cli_runner()
    gp = post_row(db, status="failed")
    gp.last_error = UNKNOWN_OUTCOME.format(why="timed out calling api.telegram.org")
    db.commit()
    out = runner.invoke(args=["work", "stuck"])
    assert out.exit_code == 0 and f"group post {gp.id}" in out.output
    out = runner.invoke(args=["work", "repost", str(gp.id)])
    assert out.exit_code == 0, out.output
    drain(rapp)
    db.refresh(gp)
    assert gp.status == "posted"
    assert runner.invoke(args=["work", "repost", "999"]).exit_code == 1
    out = runner.invoke(args=["work", "status"])
    assert out.exit_code == 0 and "group_posts" in out.output
    out = runner.invoke(args=["work", "reconcile"])
    assert out.exit_code == 0 and "sms_pending" in out.output


def test_a_broadcast_step_that_keeps_failing_is_given_up_and_stays_visible(rapp, town):
    db = town
    a = announce(db, codes=("KP1",))
    drain(rapp, queues=("default",))
    lose_redis(rapp)
    db.execute(update(BroadcastChunk).values(requeued=reconcile.MAX_REQUEUES))
    db.commit()
    assert run(rapp)["broadcast_steps"] == 0
    assert {s.status for s in db.scalars(select(BroadcastChunk))} == {"failed"}
    db.expire_all()
    assert a.status == "sending"  # never "sent" with households left out


def test_a_call_whose_status_callbacks_never_came_is_closed_not_placed_again(rapp, db):
    from gateway.ivr.calls import queue_call

    d = queue_call(db, phone="+84912345005", key="call:silent")
    db.commit()
    db.execute(update(Delivery).where(Delivery.id == d.id).values(
        status="sending", attempts=1, provider="outbox", provider_id="CA" + "d" * 32))
    db.commit()
    assert run(rapp)["calls_sending"] == 0  # ringing or talking: still its own business
    db.execute(update(Delivery).values(updated_at=utcnow() - dt.timedelta(hours=2)))
    db.commit()
    assert run(rapp)["calls_sending"] == 1
    db.refresh(d)
    assert (d.status, d.error_code) == ("failed", "status_unknown")
    drain(rapp)
    assert not list(db.scalars(select(OutboxMessage).where(OutboxMessage.channel == "voice")))
