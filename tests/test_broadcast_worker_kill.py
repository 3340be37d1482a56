"""A real worker process (`python worker.py`) on the local Redis and PostgreSQL, killed with
SIGKILL in the middle of a broadcast and started again: every household gets exactly one SMS."""
import contextlib
import datetime as dt
import os
import signal
import subprocess
import sys
import time

import pytest
from rq.registry import StartedJobRegistry
from sqlalchemy import func, select, text

from gateway.db import get_db
from gateway.models import Announcement, Delivery, OutboxMessage
from gateway.queue import QUEUES

from tests.broadcast_helpers import announce, children, set_quiet, sms_sent_per_phone, targeted_phones

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
HOUSEHOLDS = 1200


def start_worker(app):
    env = dict(os.environ)
    env.update({k: str(app.config[k]) for k in (
        "DATABASE_URL", "REDIS_URL", "SECRET_KEY", "TWILIO_AUTH_TOKEN", "INSTANCE_PATH", "AUDIO_DIR",
        "PUBLIC_BASE_URL", "SMS_PROVIDER", "VOICE_PROVIDER", "TTS_ENGINE")})
    env.update(BROADCAST_CHUNK_SIZE="100", SMS_RATE_PER_SECOND="250", LOG_LEVEL="INFO")
    # Its own process group: SIGKILL takes the worker and the work horse it forked, as a crash would.
    os.makedirs(app.config["INSTANCE_PATH"], exist_ok=True)
    log = open(os.path.join(app.config["INSTANCE_PATH"], "worker.log"), "a")
    return subprocess.Popen([sys.executable, "worker.py"], cwd=ROOT, env=env, start_new_session=True,
                            stdout=log, stderr=subprocess.STDOUT)


def count(app, model, *where):
    with app.app_context():
        return get_db().scalar(select(func.count()).select_from(model).where(*where))


def busy_backends(app):
    """Database sessions still working for someone else (a killed worker's, until PostgreSQL notices)."""
    with app.app_context():
        return get_db().scalar(text("SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                                    "AND pid <> pg_backend_pid() AND state NOT IN ('idle')"))


def wait_for(predicate, timeout, what, app=None):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.05)
    log = ""
    if app is not None:
        with open(os.path.join(app.config["INSTANCE_PATH"], "worker.log")) as f:
            log = "\nworker log (end):\n" + f.read()[-6000:]
    pytest.fail(f"timed out waiting for {what}{log}")


def stop_worker(worker):
    """SIGTERM (a warm shutdown), then SIGKILL for it and its children if it is still there after
    30 s: a worker left behind would take the next test's jobs from the same Redis database."""
    os.killpg(worker.pid, signal.SIGTERM)
    try:
        worker.wait(30)
    except subprocess.TimeoutExpired:
        for pid in children(worker.pid):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        os.killpg(worker.pid, signal.SIGKILL)
        worker.wait(10)


@pytest.mark.timeout(300)
def test_worker_killed_mid_fan_out_and_restarted_sends_each_sms_once(pg_app):
    from gateway.demo import load_demo

    with pg_app.app_context():
        db = get_db()
        load_demo(db, households=HOUSEHOLDS)
        set_quiet(db, quiet_now=False)
        a = announce(db, codes=("TANLAP",), channels=["sms"])
        phones = targeted_phones(db, a)
        aid = a.id
    assert len(phones) == HOUSEHOLDS

    worker = start_worker(pg_app)
    try:
        sms = (OutboxMessage.channel == "sms",)
        conn = pg_app.extensions["gateway.redis"]
        bulk_running = StartedJobRegistry("bulk", connection=conn)
        # Kill while a chunk job is running, 40 SMS into its 100 (a quarter of a second from its end).
        wait_for(lambda: count(pg_app, OutboxMessage, *sms) >= 340
                 and bulk_running.get_job_count(cleanup=False) > 0, 120, "a quarter of the SMS sent", pg_app)
        # RQ runs the job in a work horse with a process group of its own: kill it too, or the
        # chunk would finish after its worker died.
        for pid in children(worker.pid):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        os.killpg(worker.pid, signal.SIGKILL)
        worker.wait(10)
    finally:
        if worker.poll() is None:
            os.killpg(worker.pid, signal.SIGKILL)
    wait_for(lambda: busy_backends(pg_app) == 0, 30, "the killed worker's database sessions to end")
    sent_at_kill = count(pg_app, OutboxMessage, *sms)
    assert 340 <= sent_at_kill < 400
    conn = pg_app.extensions["gateway.redis"]
    # Mid-fan-out: later chunks have no rows yet, and the chunk that was running has some unsent.
    assert count(pg_app, Delivery, Delivery.announcement_id == aid) < HOUSEHOLDS
    assert count(pg_app, Delivery, Delivery.announcement_id == aid, Delivery.status.in_(("pending", "sending"))) > 0

    # RQ notices a dead worker's job when its heartbeat lapses (90 s with the default monitoring
    # interval), and the SMS module trusts a row left "sending" to be dead after STUCK_AFTER
    # (10 min). Rather than sleep, look at both as they will be then: the registries' clock moves
    # on 11 minutes, and so does the age of what the dead worker left. The job's Retry puts it
    # back on its queue; the restarted worker runs it (and the chunks it had not reached), and
    # the chunk hands its stuck row to requeue_stuck.
    from gateway.sms.outbound import CLAIM_BATCH, STUCK_AFTER

    later = STUCK_AFTER + dt.timedelta(minutes=1)
    with pg_app.app_context():
        db = get_db()
        stuck = list(db.scalars(select(Delivery).where(Delivery.status == "sending")))
        for delivery in stuck:
            delivery.updated_at = delivery.updated_at - later
        db.commit()
    assert len(stuck) <= CLAIM_BATCH  # at most the batch the worker had claimed (the outbox dedupes our reference)
    for q in QUEUES:
        StartedJobRegistry(q, connection=conn).cleanup(timestamp=time.time() + later.total_seconds())
    worker = start_worker(pg_app)
    try:
        wait_for(lambda: count(pg_app, Delivery, Delivery.announcement_id == aid,
                               Delivery.status.in_(("pending", "sending"))) == 0
                 and count(pg_app, Delivery, Delivery.announcement_id == aid) == HOUSEHOLDS, 180,
                 "every delivery to be sent", pg_app)
    finally:
        stop_worker(worker)
    with pg_app.app_context():
        db = get_db()
        assert sms_sent_per_phone(db) == {p: 1 for p in phones}
        assert db.get(Announcement, aid).status == "sent"
