"""The RQ worker: `python worker.py [--burst] [queue ...]` (default: every queue, by priority).

SIGTERM is a warm shutdown: the running job finishes, then the worker exits. When Redis drops,
the worker waits for it and starts again instead of exiting. Every worker also runs the
ticker (gateway.queue.Ticker): due scheduled jobs and the periodic tasks of gateway.reconcile,
so periodic work goes on while any one worker is alive.
"""
import argparse
import logging
import signal
import time

from gateway import create_app
from gateway.config import ConfigError, check_group_targets
from gateway.queue import QUEUES, REDIS_DOWN, Ticker, get_connection, make_worker

log = logging.getLogger("worker")
RECONNECT_MAX_SECONDS = 30


def wait_for_redis(app, stopping):
    """Block until Redis answers (backing off up to RECONNECT_MAX_SECONDS); False when asked to stop."""
    delay = 1.0
    while not stopping():
        try:
            get_connection(app).ping()
            return True
        except REDIS_DOWN as exc:
            log.warning("redis unreachable (%s); trying again in %.0f s", exc.__class__.__name__, delay)
            time.sleep(delay)
            delay = min(delay * 2, RECONNECT_MAX_SECONDS)
    return False


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("queues", nargs="*", default=list(QUEUES), help="queues to listen on")
    parser.add_argument("--burst", action="store_true", help="run queued jobs, then exit")
    parser.add_argument("--name", help="worker name (default: host and pid)")
    args = parser.parse_args(argv)
    try:
        app = create_app()
        with app.app_context():
            from gateway.db import get_db

            check_group_targets(app.config, get_db())  # the workers are what post into groups
    except ConfigError as exc:
        parser.exit(2, f"{exc}\n")
    if not app.config.get("REDIS_URL"):
        parser.error("REDIS_URL is not set; without it the web process runs jobs in its own thread")
    stop = {"requested": False}

    def request_stop(signum, frame):
        stop["requested"] = True

    if not args.burst:
        Ticker(app).start()
    while True:
        worker = make_worker(app, args.queues, name=args.name)
        try:
            worker.work(burst=args.burst, with_scheduler=True)
        except REDIS_DOWN as exc:  # raised while registering, before RQ's own loop
            if args.burst:
                parser.exit(1, f"redis unreachable: {exc}\n")
            log.warning("worker could not start: redis unreachable (%s)", exc.__class__.__name__)
        # RQ's loop returns when it is done (burst), asked to stop (SIGTERM), or Redis failed. RQ
        # marks a stop only when it came mid-job (_stop_requested); an idle worker's stop leaves
        # just the date of the request, so that is what tells a stop from a lost Redis.
        if args.burst or worker._shutdown_requested_date is not None or stop["requested"]:
            return
        # Between workers, SIGTERM/SIGINT just end the wait (RQ's handlers would raise here).
        signal.signal(signal.SIGTERM, request_stop)
        signal.signal(signal.SIGINT, request_stop)
        time.sleep(1)  # never a busy loop, whatever made RQ's loop return
        if not wait_for_redis(app, lambda: stop["requested"]):
            return
        log.warning("redis is back: starting the worker again")


if __name__ == "__main__":
    main()
