"""The RQ worker: `python worker.py [--burst] [queue ...]` (default: every queue, by priority).

SIGTERM is a warm shutdown: the running job finishes, then the worker exits.
"""
import argparse

from gateway import create_app
from gateway.config import ConfigError, check_group_targets
from gateway.queue import QUEUES, make_worker


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
    worker = make_worker(app, args.queues, name=args.name)
    worker.work(burst=args.burst, with_scheduler=True)


if __name__ == "__main__":
    main()
