"""Faults on real parts: a private `redis-server` (so it can be killed and restarted without its
data), real `python worker.py` processes killed with SIGKILL, PostgreSQL. After recovery every
household has exactly one SMS, none is missing, and the announcement's status and coverage are
right; webhooks answer as usual while Redis is down. Waits are bounded and fail saying what
they waited for; nothing here measures speed."""
import contextlib
import datetime as dt
import os
import shutil
import signal
import socket
import subprocess
import sys
import time

import pytest
import redis
from sqlalchemy import func, select, text, update

from gateway.db import get_db
from gateway.models import Announcement, Base, Delivery, GroupPost, InboundMessage, OutboxMessage, Report, Resident

from tests.broadcast_helpers import announce, children, set_quiet, sms_sent_per_phone, targeted_phones

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
HOUSEHOLDS = 300
# The reconciler in the worker processes runs every 2 s and redoes what is 15 s overdue.
WORKER_ENV = dict(BROADCAST_CHUNK_SIZE="40", SMS_RATE_PER_SECOND="40", RECONCILE_INTERVAL_SECONDS="2",
                  RECONCILE_AFTER_SECONDS="15", LOG_LEVEL="INFO")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class PrivateRedis:
    """A redis-server of this test alone, with no persistence: a restart loses everything."""

    def __init__(self, workdir):
        self.port, self.workdir, self.proc = free_port(), workdir, None
        self.url = f"redis://127.0.0.1:{self.port}/0"

    def start(self):
        self.proc = subprocess.Popen(
            [shutil.which("redis-server"), "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
             "--appendonly", "no", "--dir", str(self.workdir)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_for(self.up, 20, f"redis-server on port {self.port} to start")

    def up(self):
        try:
            return redis.Redis(port=self.port, socket_timeout=1).ping()
        except redis.exceptions.ConnectionError:
            return False

    def kill(self):
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(10)


@pytest.fixture
def private_redis(tmp_path):
    if shutil.which("redis-server") is None:
        pytest.fail("redis-server is not installed (scripts/services.sh installs it)")
    server = PrivateRedis(tmp_path)
    server.start()
    yield server
    if server.proc.poll() is None:
        server.kill()


@pytest.fixture
def fault_app(make_app, pg_url, private_redis):
    """An app on this run's PostgreSQL and the private Redis, emptied after the test."""
    app = make_app(DATABASE_URL=pg_url, REDIS_URL=private_redis.url, **WORKER_ENV)
    app.testing = True
    yield app
    with app.extensions["gateway.engine"].begin() as conn:
        names = ", ".join(f'"{t.name}"' for t in Base.metadata.sorted_tables)
        conn.execute(text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))


def wait_for(predicate, timeout, what, log_path=None):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.1)
    tail = ""
    if log_path and os.path.exists(log_path):
        with open(log_path) as f:
            tail = "\nworker log (end):\n" + f.read()[-5000:]
    pytest.fail(f"gave up after {timeout} s waiting for {what}{tail}")


class Workers:
    """Real `python worker.py` processes, each in its own process group (SIGKILL takes its work horse too)."""

    def __init__(self, app):
        self.app, self.procs = app, []
        self.log_path = os.path.join(app.config["INSTANCE_PATH"], "workers.log")
        os.makedirs(app.config["INSTANCE_PATH"], exist_ok=True)

    def start(self):
        env = dict(os.environ)
        env.update({k: str(self.app.config[k]) for k in (
            "DATABASE_URL", "REDIS_URL", "SECRET_KEY", "TWILIO_AUTH_TOKEN", "INSTANCE_PATH", "AUDIO_DIR",
            "PUBLIC_BASE_URL", "SMS_PROVIDER", "VOICE_PROVIDER", "TTS_ENGINE")}, **WORKER_ENV,
                   PYTHONUNBUFFERED="1")  # a killed worker's last lines stay in the log
        log = open(self.log_path, "a")
        proc = subprocess.Popen([sys.executable, "worker.py"], cwd=ROOT, env=env, start_new_session=True,
                                stdout=log, stderr=subprocess.STDOUT)
        self.procs.append(proc)
        return proc

    def kill(self, proc):
        """SIGKILL the worker, its scheduler and its work horse (RQ puts the horse in a process
        group of its own, so killing the worker's group alone would let the job finish)."""
        for pid in children(proc.pid):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(10)
        self.procs.remove(proc)

    def stop(self):
        for proc in list(self.procs):
            if proc.poll() is None:
                self.kill(proc)
        self.procs = []


@pytest.fixture
def workers(fault_app):
    w = Workers(fault_app)
    yield w
    w.stop()


def count(app, *where, model=OutboxMessage):
    with app.app_context():
        return get_db().scalar(select(func.count()).select_from(model).where(*where))


def broadcast(app):
    from gateway.demo import load_demo

    with app.app_context():
        db = get_db()
        load_demo(db, households=HOUSEHOLDS)
        set_quiet(db, quiet_now=False)
        a = announce(db, codes=("TANLAP",), channels=["sms"])
        return a.id, targeted_phones(db, a)


def settled(app, aid, phones):
    """The announcement is sent and each targeted household has its one SMS."""
    def check():
        with app.app_context():
            db = get_db()
            status = db.scalar(select(Announcement.status).where(Announcement.id == aid))
            return status == "sent" and count(app, OutboxMessage.channel == "sms") >= len(phones)
    return check


def assert_exactly_once(app, aid, phones):
    from gateway.broadcast import coverage

    with app.app_context():
        db = get_db()
        assert sms_sent_per_phone(db) == {p: 1 for p in phones}  # none missing, none twice
        a = db.get(Announcement, aid)
        assert a.status == "sent"
        rows = db.scalars(select(Delivery).where(Delivery.announcement_id == aid))
        assert sorted(d.phone for d in rows if d.status == "sent") == sorted(phones)
        total = next(r for r in coverage.by_area_and_audience(db, a) if r["area"] == "*" and r["audience"] == "all")
        assert (total["targeted"], total["not_sent"], total["failed"]) == (len(phones), 0, 0)
        assert total["in_progress"] + total["reached"] == len(phones)  # the outbox never reports delivery


@pytest.mark.timeout(400)
def test_broadcast_survives_a_redis_restart_that_loses_its_data(fault_app, private_redis, workers):
    aid, phones = broadcast(fault_app)
    assert len(phones) == HOUSEHOLDS
    workers.start()
    workers.start()
    sms = OutboxMessage.channel == "sms"
    wait_for(lambda: count(fault_app, sms) >= 60, 120, "the first SMS to go out", workers.log_path)
    private_redis.kill()  # mid-broadcast: queued fan-outs, scheduled retries, the rate limit, all gone
    at_kill = count(fault_app, sms)
    assert at_kill < HOUSEHOLDS
    time.sleep(2)  # the workers find Redis gone (and keep running)
    assert all(p.poll() is None for p in workers.procs), "a worker exited when Redis dropped"
    private_redis.start()  # empty
    wait_for(settled(fault_app, aid, phones), 240, "the broadcast to finish after the restart", workers.log_path)
    assert_exactly_once(fault_app, aid, phones)


@pytest.mark.timeout(400)
def test_broadcast_survives_repeated_sigkills_of_real_workers(fault_app, private_redis, workers):
    aid, phones = broadcast(fault_app)
    sms = OutboxMessage.channel == "sms"
    waiting = (Delivery.announcement_id == aid, Delivery.status == "pending")
    workers.start(), workers.start()
    kills = 0
    for _ in range(3):
        before = count(fault_app, sms)
        if before >= HOUSEHOLDS - 40:
            break
        # Every worker killed at once, in the middle of a chunk (as when a machine dies).
        wait_for(lambda: count(fault_app, sms) >= before + 15 and count(fault_app, *waiting, model=Delivery) >= 10,
                 120, f"a chunk being sent before kill {kills + 1}", workers.log_path)
        for proc in list(workers.procs):
            workers.kill(proc)
        kills += 1
        assert count(fault_app, sms) < HOUSEHOLDS
        workers.start(), workers.start()
    assert kills >= 2
    wait_for(settled(fault_app, aid, phones), 240, "the broadcast to finish after the kills", workers.log_path)
    assert_exactly_once(fault_app, aid, phones)


@pytest.mark.timeout(300)
def test_webhooks_answer_while_redis_is_down_and_the_work_follows_when_it_is_back(fault_app, private_redis,
                                                                                   workers):
    from tests.sms_helpers import ANDROID_KEY, android_post, inbound_params, twiml_messages, twilio_post

    fault_app.config.update(SMS_ANDROID_SIGNING_KEY=ANDROID_KEY)
    client = fault_app.test_client()
    from gateway.demo import load_demo

    with fault_app.app_context():
        db = get_db()
        load_demo(db, households=40)
        set_quiet(db, quiet_now=False)
        resident = db.scalar(select(Resident).where(Resident.area_id.is_not(None)).order_by(Resident.id))
        phone = resident.phone
        sent = Delivery(idempotency_key="status-test", channel="sms", phone=phone, body="x", provider="twilio",
                        provider_id="SM" + "1" * 32, status="queued")
        db.add(sent)
        db.commit()
        sent_id = sent.id
    private_redis.kill()

    params = inbound_params("Cây đổ chắn đường ở đầu ngõ", sender=phone, sid="SM" + "a" * 32)
    first = twilio_post(client, "/sms/inbound", params)
    assert first.status_code == 200 and "Da nhan phan anh" in twiml_messages(first)[0]
    status = twilio_post(client, "/sms/status", {"MessageSid": "SM" + "1" * 32, "MessageStatus": "delivered",
                                                 "AccountSid": "AC" + "0" * 32})
    assert status.status_code == 200
    call = twilio_post(client, "/ivr/inbound", {"CallSid": "CA" + "b" * 32, "From": phone, "To": "+842363000000",
                                                "AccountSid": "AC" + "0" * 32, "Direction": "inbound"})
    assert call.status_code == 200 and b"<Response>" in call.data
    missed = twilio_post(client, "/ivr/status", {"CallSid": "CA" + "c" * 32, "From": phone, "To": "+842363000000",
                                                 "CallStatus": "no-answer", "Direction": "inbound",
                                                 "AccountSid": "AC" + "0" * 32})
    assert missed.status_code == 200
    android = android_post(client, {"event": "sms:received", "id": "evt-1",
                                    "payload": {"sender": phone, "message": "TIN", "messageId": "m1"}})
    assert android.status_code == 200
    # The provider redelivers the first webhook (as if our answer were lost): the same receipt.
    again = twilio_post(client, "/sms/inbound", params)
    assert twiml_messages(again) == twiml_messages(first)
    with fault_app.app_context():
        db = get_db()
        assert db.scalar(select(func.count()).select_from(InboundMessage)) == 2
        assert db.scalar(select(func.count()).select_from(Report)) == 1
        assert db.get(Delivery, sent_id).status == "delivered"
        [post] = db.scalars(select(GroupPost))
        assert post.status == "pending"  # stored; its job could not be queued

    private_redis.start()  # empty: every job of the outage was never queued
    workers.start()
    with fault_app.app_context():
        db = get_db()
        # Nothing is due yet by the workers' clock (15 s): make it so, rather than wait.
        db.execute(update(GroupPost).values(updated_at=GroupPost.updated_at - text("interval '1 minute'")))
        db.execute(update(Delivery).values(updated_at=Delivery.updated_at - text("interval '1 minute'")))
        db.commit()

    def followed_up():
        with fault_app.app_context():
            db = get_db()
            posts = list(db.scalars(select(GroupPost.status)))
            reply = db.scalar(select(Delivery.status).where(Delivery.idempotency_key.like("sms:in:%:reply")))
            callback = db.scalar(select(Delivery.status).where(Delivery.idempotency_key.like("callback:%")))
            return posts == ["posted"] and reply == "sent" and callback in ("sending", "answered")
    wait_for(followed_up, 120, "the group post, the Android reply and the callback", workers.log_path)
    with fault_app.app_context():
        db = get_db()
        groups = db.scalar(select(func.count()).select_from(OutboxMessage).where(OutboxMessage.channel == "group"))
        assert groups == 1
        assert sms_sent_per_phone(db) == {phone: 1}  # the Android reply, once
        assert db.scalar(select(func.count()).select_from(OutboxMessage).where(OutboxMessage.channel == "voice")) == 1


@pytest.mark.timeout(200)
def test_scheduled_jobs_run_when_the_workers_rq_scheduler_is_dead(fault_app, workers):
    from gateway.queue import enqueue

    worker = workers.start()
    wait_for(lambda: children(worker.pid), 60, "the worker's RQ scheduler process", workers.log_path)
    time.sleep(1)  # idle: its only child is the scheduler
    for pid in children(worker.pid):
        os.kill(pid, signal.SIGKILL)
    with fault_app.app_context():
        enqueue("tests.jobs.record", "on time", at=dt.datetime.now(dt.timezone.utc) + dt.timedelta(seconds=1))
    # RQ would restart its scheduler at its next maintenance; the ticker moves the job meanwhile.
    wait_for(lambda: count(fault_app, OutboxMessage.recipient == "on time"), 30,
             "the scheduled job to run without RQ's scheduler", workers.log_path)
    assert worker.poll() is None
