"""Send many varied requests to every route of a fresh gateway and count HTTP 500s and lost SMS.

    .venv/bin/python scripts/fuzz.py [--requests 10000] [--database sqlite|postgresql|both] [--seed 0]

Uses the local Redis (a spare database number) and, for PostgreSQL, a throw-away database on
TEST_PG_URL (default the local `test` database's server). Exits 1 when anything broke.
"""
import argparse
import fcntl
import os
import shutil
import sys
import tempfile
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import redis  # noqa: E402
from sqlalchemy import create_engine, text  # noqa: E402

from gateway import create_app  # noqa: E402
from gateway.db import upgrade  # noqa: E402
from tests.conftest import PG_ADMIN_URL, REDIS_HOST, REDIS_PORT, base_config  # noqa: E402
from tests.fuzzing import SECRETS, run  # noqa: E402


def _redis_url():
    """A Redis database number held by this run alone, with the lock files test runs use (tests/conftest.py)."""
    for db in range(15, 0, -1):
        lock = open(f"/tmp/gateway-tests-redis-{REDIS_PORT}-{db}.lock", "w")
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            lock.close()
            continue
        _held.append(lock)  # released when the process ends
        url = f"redis://{REDIS_HOST}:{REDIS_PORT}/{db}"
        redis.Redis.from_url(url).flushdb()
        return url
    sys.exit("all Redis databases 1-15 are held by test runs")


_held = []


def fuzz(database, n, seed):
    tmp = Path(tempfile.mkdtemp(prefix="gateway-fuzz-"))
    admin, name = None, None
    if database == "sqlite":
        url = f"sqlite:///{tmp / 'fuzz.sqlite'}"
    else:
        name = f"gwfuzz_{os.getpid()}_{uuid.uuid4().hex[:6]}"
        admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
        url = PG_ADMIN_URL.rsplit("/", 1)[0] + "/" + name
    try:
        upgrade(url)
        app = create_app(base_config(tmp, DATABASE_URL=url, REDIS_URL=_redis_url(), **SECRETS))
        counts = run(app, n, seed, progress=lambda i, c: print(
            f"  {database}: {i} requests, {c['http_500']} HTTP 500, {c['lost_sms']} lost SMS", flush=True))
        app.extensions["gateway.engine"].dispose()
        redis.Redis.from_url(app.config["REDIS_URL"]).flushdb()
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
        if admin is not None:
            with admin.connect() as conn:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            admin.dispose()
    print(f"{database}: {counts['requests']} requests ({counts['signed_sms']} signed inbound SMS), "
          f"{counts['http_500']} HTTP 500, {counts['lost_sms']} lost SMS")
    for problem, case in counts["problems"].items():
        print(f"  {problem}\n    {case}")
    return counts


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=10000, help="per database")
    parser.add_argument("--database", choices=("sqlite", "postgresql", "both"), default="both")
    parser.add_argument("--seed", type=int, default=0)
    options = parser.parse_args()
    databases = ("sqlite", "postgresql") if options.database == "both" else (options.database,)
    bad = 0
    for database in databases:
        counts = fuzz(database, options.requests, options.seed)
        bad += counts["http_500"] + counts["lost_sms"]
    sys.exit(1 if bad else 0)


if __name__ == "__main__":
    main()
