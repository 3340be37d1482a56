"""RQ queues: Redis at REDIS_URL, or an in-process stand-in (fakeredis) with a worker thread.

Jobs are enqueued by dotted name (`enqueue("gateway.sms.jobs.send", 42)`), so the web
process never imports the code a job runs. Every job runs inside an app context: jobs call
`gateway.db.get_db()` and `flask.current_app` like views do.

Redis only wakes workers; the database is the record of work. When Redis is unreachable,
`enqueue` logs and returns None: what the job would have done is in rows (pending, sending,
posting…), and the reconciler (gateway.reconcile), run by the workers' `Ticker`, enqueues it
again once Redis is back. So a webhook answers as usual while Redis is down.
"""
import datetime as dt
import logging
import os
import threading

import redis
from flask import current_app
from rq import Queue, SimpleWorker, Worker, get_current_job
from sqlalchemy import event
from rq.exceptions import NoSuchJobError
from rq.job import Job
from rq.registry import FailedJobRegistry, ScheduledJobRegistry, StartedJobRegistry
from rq.scheduler import RQScheduler
from rq.timeouts import TimerDeathPenalty

log = logging.getLogger(__name__)

# Highest priority first: a worker listening on all of them takes `high` work before `bulk`.
QUEUES = ("high", "default", "audio", "bulk")
# What a lost Redis raises (refused, reset, timed out).
REDIS_DOWN = (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError)
# Seconds between a running job's heartbeats (RQ's default is 30); a job whose heartbeat is
# older than HEARTBEAT_GRACE has lost its worker.
JOB_MONITORING_INTERVAL = 10
HEARTBEAT_GRACE = dt.timedelta(seconds=3 * JOB_MONITORING_INTERVAL + 5)
LIVE = ("queued", "scheduled", "deferred")


class AppContextMixin:
    """Runs each job inside the Flask app's context."""

    app = None
    _parent_pid = None

    def perform_job(self, job, queue):
        if self._parent_pid != os.getpid():
            # A forked work horse must not share the parent's pooled database connections.
            self.app.extensions["gateway.engine"].dispose(close=False)
        with self.app.app_context():
            return super().perform_job(job, queue)


class AppWorker(AppContextMixin, Worker):
    """The production worker: forks a work horse per job (worker.py)."""

    def __init__(self, *args, **kwargs):
        # Frequent heartbeats and maintenance: a killed worker's job is found within a minute
        # (RQ's defaults, 30 s and 10 minutes, left work stalled for ten).
        kwargs.setdefault("job_monitoring_interval", JOB_MONITORING_INTERVAL)
        kwargs.setdefault("maintenance_interval", 60)
        super().__init__(*args, **kwargs)


class ThreadWorker(AppContextMixin, SimpleWorker):
    """Runs jobs in the calling thread: the embedded queue and tests."""

    death_penalty_class = TimerDeathPenalty  # SIGALRM only works in the main thread

    def _install_signal_handlers(self):
        pass  # the web process (or pytest) owns the signals


def make_worker(app, queues=QUEUES, *, worker_class=AppWorker, name=None):
    """A worker of `worker_class` on `app`'s connection, running jobs in `app`'s context."""
    conn = app.extensions["gateway.redis"]
    worker = worker_class([Queue(q, connection=conn) for q in queues], connection=conn, name=name)
    worker.app = app
    worker._parent_pid = os.getpid()
    return worker


def get_connection(app=None):
    """The Redis connection (real or in-process) of the app."""
    return (app or current_app).extensions["gateway.redis"]


def get_queue(name="default", app=None):
    """The RQ queue `name` on the app's connection."""
    if name not in QUEUES:
        raise ValueError(f"unknown queue {name!r}; queues are {', '.join(QUEUES)}")
    return Queue(name, connection=get_connection(app))


def enqueue(func, *args, queue="default", at=None, **options):
    """Enqueue the job `func` (a dotted name) with `args`; `at` schedules it; `options` go to RQ.

    None when Redis is unreachable: the reconciler enqueues the work again from its rows."""
    app = current_app._get_current_object()
    q = get_queue(queue, app)
    try:
        job = q.enqueue_at(at, func, *args, **options) if at else q.enqueue(func, *args, **options)
    except REDIS_DOWN as exc:
        log.warning("redis unreachable: job left to the reconciler func=%s queue=%s error=%s", func, queue,
                    exc.__class__.__name__)
        return None
    embedded = app.extensions.get("gateway.embedded_worker")
    if embedded is not None:
        embedded.start()
        embedded.wake()
    log.info("enqueued job=%s func=%s queue=%s", job.id, func, queue)
    return job


def job_alive(job_id, app=None):
    """True when job `job_id` is waiting (queued, scheduled) or running with a recent heartbeat."""
    try:
        job = Job.fetch(job_id, connection=get_connection(app))
    except NoSuchJobError:
        return False
    status = job.get_status(refresh=False)
    if status == "started":
        beat = job.last_heartbeat or job.started_at
        if beat is not None and beat.tzinfo is None:
            beat = beat.replace(tzinfo=dt.timezone.utc)
        return beat is not None and dt.datetime.now(dt.timezone.utc) - beat < HEARTBEAT_GRACE
    return status in LIVE


def enqueue_unless_alive(func, *args, job_id, **options):
    """Enqueue `func` as `job_id` unless that job is waiting or running; the job, or None."""
    if job_alive(job_id):
        return None
    return enqueue(func, *args, job_id=job_id, **options)


def retries_left():
    """How many RQ retries the running job has left (None outside a job): 0 means this is the last try."""
    job = get_current_job()
    return None if job is None else job.retries_left


def enqueue_on_commit(session, func, *args, **options):
    """Enqueue `func` once `session` commits, never for a change that was rolled back."""
    session.info.setdefault("gateway.jobs", []).append((func, args, options))


def _enqueue_committed(session):
    for func, args, options in session.info.pop("gateway.jobs", []):
        enqueue(func, *args, **options)


def _forget_rolled_back(session):
    session.info.pop("gateway.jobs", None)


def drain(app, queues=QUEUES, *, scheduled=False):
    """Run every queued job now, in this thread, with a real RQ worker in burst mode.

    `scheduled=True` first moves every scheduled job (due or not) onto its queue."""
    if scheduled:
        move_scheduled(app, queues, only_due=False)
    return make_worker(app, queues, worker_class=ThreadWorker).work(burst=True)


def move_scheduled(app, queues=QUEUES, *, only_due=True):
    """Put scheduled jobs onto their queues: the due ones, or all of them."""
    conn = get_connection(app)
    if only_due:
        scheduler = RQScheduler(list(queues), connection=conn)
        scheduler.prepare_registries(list(queues))
        scheduler.enqueue_scheduled_jobs()
        return
    for name in queues:
        registry = ScheduledJobRegistry(name, connection=conn)
        for job_id in registry.get_job_ids():
            registry.remove(job_id)
            Queue(name, connection=conn).enqueue_job(Job.fetch(job_id, connection=conn))


def clean_registries(app=None):
    """RQ's registry maintenance on every queue: jobs whose worker died are retried (or failed)."""
    from rq.registry import clean_registries as clean

    conn = get_connection(app)
    for name in QUEUES:
        clean(Queue(name, connection=conn))
    return 0


def stats(app=None):
    """Queue depth, running, scheduled and failed counts per queue."""
    conn = get_connection(app)
    out = {}
    for name in QUEUES:
        q = Queue(name, connection=conn)
        out[name] = {
            "queued": q.count,
            "started": StartedJobRegistry(name, connection=conn).count,
            "scheduled": ScheduledJobRegistry(name, connection=conn).count,
            "failed": FailedJobRegistry(name, connection=conn).count,
        }
    return out


class Ticker:
    """A daemon thread in every worker process (and the embedded queue) that keeps periodic work
    going with no crontab: it moves due scheduled jobs onto their queues and enqueues each task
    of gateway.reconcile.TASKS once its interval has passed. Each step takes a Redis lock, so one
    process does it per interval, and any live process carries on when another (or its RQ
    scheduler) dies."""

    def __init__(self, app, *, every=5.0):
        self.app, self.every = app, every
        self._stop = threading.Event()
        self._thread = None

    def start(self):
        if self._thread is None or not self._thread.is_alive():
            self._stop.clear()
            self._thread = threading.Thread(target=self._run, name="gateway-ticker", daemon=True)
            self._thread.start()

    def stop(self, timeout=5):
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)

    def tick(self):
        """One round; returns the names of the periodic tasks it enqueued."""
        from gateway.reconcile import task_intervals

        conn = get_connection(self.app)
        me = f"{os.getpid()}"
        if conn.set("gateway:lock:scheduled", me, nx=True, px=max(500, int(self.every * 900))):
            move_scheduled(self.app)
        enqueued = []
        with self.app.app_context():
            for name, seconds in task_intervals(self.app.config).items():
                if conn.set(f"gateway:periodic:{name}", me, nx=True, ex=max(1, int(seconds))):
                    if enqueue_unless_alive("gateway.reconcile.run_task", name, job_id=f"periodic-{name}",
                                            queue="high", job_timeout=600) is not None:
                        enqueued.append(name)
        return enqueued

    def _run(self):
        while not self._stop.wait(self.every):
            try:
                self.tick()
            except REDIS_DOWN as exc:
                log.warning("ticker: redis unreachable (%s); trying again", exc.__class__.__name__)


class EmbeddedWorker:
    """A daemon thread running RQ jobs in the web process, for the no-Redis default."""

    def __init__(self, app):
        self.app = app
        self._thread = None
        self._lock = threading.Lock()
        self._wakeup = threading.Event()
        self._stop = threading.Event()
        self.ticker = Ticker(app, every=1.0)

    def start(self):
        with self._lock:
            if self._thread is None or not self._thread.is_alive():
                self._stop.clear()
                self._thread = threading.Thread(target=self._run, name="embedded-rq", daemon=True)
                self._thread.start()

    def wake(self):
        self._wakeup.set()

    def stop(self, timeout=5):
        self._stop.set()
        self._wakeup.set()
        if self._thread is not None:
            self._thread.join(timeout)

    def _run(self):
        while not self._stop.is_set():
            self.ticker.tick()  # due scheduled jobs and the periodic tasks (the reconciler)
            worker = make_worker(self.app, worker_class=ThreadWorker)
            # Quiet: the worker logs every job at INFO, which floods a laptop's console.
            worker.work(burst=True, logging_level="WARNING")
            self._wakeup.wait(1.0)
            self._wakeup.clear()


def init_app(app):
    maker = app.extensions["gateway.sessionmaker"]
    event.listen(maker, "after_commit", _enqueue_committed)
    event.listen(maker, "after_rollback", _forget_rolled_back)
    url = app.config.get("REDIS_URL")
    if url:
        app.extensions["gateway.redis"] = redis.Redis.from_url(url)
        return
    import fakeredis

    # One in-memory server per app; the worker thread shares it with the web process.
    app.extensions["gateway.redis"] = fakeredis.FakeRedis(server=fakeredis.FakeServer())
    if str(app.config.get("EMBEDDED_WORKER", "1")).lower() not in ("0", "false", "no", ""):
        app.extensions["gateway.embedded_worker"] = EmbeddedWorker(app)
