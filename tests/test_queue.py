"""The queue: real RQ workers on the local Redis, and the embedded stand-in with no Redis."""
import datetime as dt
import os
import signal
import subprocess
import sys
import time

from rq import Retry, Worker
from rq.job import Job
from sqlalchemy import select

from gateway.db import get_db
from gateway.models import OutboxMessage
from gateway.queue import drain, enqueue, get_queue, stats

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def worker_env(app):
    env = {k: v for k, v in os.environ.items()}
    env.update({k: str(app.config[k]) for k in ("DATABASE_URL", "REDIS_URL", "SECRET_KEY", "TWILIO_AUTH_TOKEN",
                                                "INSTANCE_PATH", "AUDIO_DIR")})
    return env


def recorded(app):
    with app.app_context():
        return [(m.recipient, m.body, m.meta["pid"]) for m in get_db().scalars(select(OutboxMessage))]


def test_real_worker_process_runs_a_job_by_dotted_name(any_app):
    with any_app.app_context():
        job = enqueue("tests.jobs.record", "hello", queue="default")
    proc = subprocess.run([sys.executable, "worker.py", "--burst"], cwd=ROOT, env=worker_env(any_app),
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    rows = recorded(any_app)
    assert [(r[0], r[1]) for r in rows] == [("hello", any_app.config["DATABASE_URL"])]
    assert rows[0][2] != os.getpid()  # it ran in the worker, not here
    job = Job.fetch(job.id, connection=any_app.extensions["gateway.redis"])
    assert job.is_finished and job.return_value() == "HELLO"


def test_worker_takes_high_priority_jobs_first(app):
    with app.app_context():
        enqueue("tests.jobs.record", "bulk", queue="bulk")
        enqueue("tests.jobs.record", "high", queue="high")
        enqueue("tests.jobs.record", "default", queue="default")
    drain(app)
    assert [r[0] for r in recorded(app)] == ["high", "default", "bulk"]


def test_transient_failure_is_retried_by_the_worker(app, tmp_path):
    marker = tmp_path / "failed-once"
    with app.app_context():
        job = enqueue("tests.jobs.flaky", "retried", str(marker), retry=Retry(max=2))
    drain(app)
    assert marker.exists()
    assert [r[0] for r in recorded(app)] == ["retried"]
    assert Job.fetch(job.id, connection=app.extensions["gateway.redis"]).is_finished


def test_scheduled_job_waits_until_due(app):
    with app.app_context():
        job = enqueue("tests.jobs.record", "later", at=dt.datetime.now(dt.timezone.utc) + dt.timedelta(hours=1))
        assert stats()["default"]["scheduled"] == 1
    drain(app)
    assert recorded(app) == []
    drain(app, scheduled=True)
    assert [r[0] for r in recorded(app)] == ["later"]
    assert Job.fetch(job.id, connection=app.extensions["gateway.redis"]).is_finished


def test_unknown_queue_is_refused(app):
    import pytest

    with app.app_context(), pytest.raises(ValueError, match="unknown queue"):
        get_queue("urgent")


def test_embedded_queue_runs_jobs_with_no_redis_at_all(make_app, tmp_path, sqlite_template):
    import shutil

    shutil.copy(sqlite_template, tmp_path / "e.sqlite")
    app = make_app(REDIS_URL="", EMBEDDED_WORKER="1", DATABASE_URL=f"sqlite:///{tmp_path / 'e.sqlite'}")
    import fakeredis

    assert isinstance(app.extensions["gateway.redis"], fakeredis.FakeRedis)
    with app.app_context():
        job = enqueue("tests.jobs.record", "embedded")
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline and not job.is_finished:
        time.sleep(0.05)
        job.refresh()
    assert job.is_finished, job.get_status()
    assert job.return_value() == "EMBEDDED"
    rows = recorded(app)
    assert [(r[0], r[2]) for r in rows] == [("embedded", os.getpid())]  # same process, worker thread


def test_embedded_queue_runs_scheduled_and_retried_jobs(make_app, tmp_path, sqlite_template):
    import shutil

    shutil.copy(sqlite_template, tmp_path / "e.sqlite")
    app = make_app(REDIS_URL="", EMBEDDED_WORKER="1", DATABASE_URL=f"sqlite:///{tmp_path / 'e.sqlite'}")
    marker = tmp_path / "failed-once"
    with app.app_context():
        soon = enqueue("tests.jobs.record", "soon", at=dt.datetime.now(dt.timezone.utc) + dt.timedelta(seconds=1))
        flaky = enqueue("tests.jobs.flaky", "flaky", str(marker), retry=Retry(max=2, interval=1))
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and not (soon.is_finished and flaky.is_finished):
        time.sleep(0.1)
        soon.refresh()
        flaky.refresh()
    assert soon.is_finished and flaky.is_finished
    assert sorted(r[0] for r in recorded(app)) == ["flaky", "soon"]


def test_worker_shuts_down_cleanly_on_sigterm(app):
    """SIGTERM mid-job: the job finishes (warm shutdown), the worker exits 0."""
    with app.app_context():
        enqueue("tests.jobs.slow", "finished", "2")
    proc = subprocess.Popen([sys.executable, "worker.py"], cwd=ROOT, env=worker_env(app),
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and stats(app)["default"]["started"] == 0:
            time.sleep(0.05)
        assert stats(app)["default"]["started"] == 1
        proc.send_signal(signal.SIGTERM)
        out, _ = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, out
    assert [r[0] for r in recorded(app)] == ["finished"]


def test_an_idle_worker_exits_on_sigterm(app, tmp_path):
    """SIGTERM while waiting for work: RQ raises StopRequested without marking the stop, and the
    worker must still exit instead of starting RQ's loop again (it did: only SIGKILL stopped it)."""
    name = f"idle-{os.getpid()}-{time.monotonic_ns()}"
    log = open(tmp_path / "worker.log", "w+")
    proc = subprocess.Popen([sys.executable, "worker.py", "--name", name], cwd=ROOT, env=worker_env(app),
                            stdout=log, stderr=subprocess.STDOUT, text=True, start_new_session=True)
    try:
        conn = app.extensions["gateway.redis"]
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and Worker.find_by_key(f"rq:worker:{name}", connection=conn) is None:
            time.sleep(0.05)
        time.sleep(0.5)  # into RQ's wait for a job
        assert Worker.find_by_key(f"rq:worker:{name}", connection=conn) is not None, "the worker never started"
        proc.send_signal(signal.SIGTERM)
        returncode = proc.wait(timeout=15)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)  # its scheduler child too
            proc.wait()
        log.seek(0)
        out = log.read()
    assert returncode == 0, out
    assert "starting the worker again" not in out
