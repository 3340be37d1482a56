"""Fixtures: apps on SQLite or the local PostgreSQL, and a private database of the local Redis.

Test runs on one machine may overlap (several checkouts, CI): each run takes a Redis
database number nobody else holds (a lock file per number) and its own PostgreSQL database.
"""
import fcntl
import os
import shutil
import uuid

import pytest
import redis
from sqlalchemy import create_engine, text

from gateway import create_app
from gateway.db import upgrade
from gateway.models import Base

REDIS_HOST = os.environ.get("TEST_REDIS_HOST", "127.0.0.1")
REDIS_PORT = int(os.environ.get("TEST_REDIS_PORT", "6379"))
PG_ADMIN_URL = os.environ.get("TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
TWILIO_TOKEN = "test-auth-token-0123456789"


@pytest.fixture(scope="session")
def redis_url():
    """A Redis database number held by this test run alone (flushed per test by `app`)."""
    for db in range(1, 16):
        lock = open(f"/tmp/gateway-tests-redis-{REDIS_PORT}-{db}.lock", "w")
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            lock.close()
            continue
        url = f"redis://{REDIS_HOST}:{REDIS_PORT}/{db}"
        redis.Redis.from_url(url).ping()  # fail loudly: the tests need the real Redis
        yield url
        lock.close()
        return
    pytest.fail("all Redis databases 1-15 are held by other test runs")


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory):
    """A migrated SQLite file, copied for each test (migrating per test is slow)."""
    path = tmp_path_factory.mktemp("template") / "template.sqlite"
    upgrade(f"sqlite:///{path}")
    return path


@pytest.fixture(scope="session")
def pg_url():
    """A fresh, migrated PostgreSQL database for this run, dropped at the end."""
    name = f"gwtest_{os.getpid()}_{uuid.uuid4().hex[:8]}"
    admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = PG_ADMIN_URL.rsplit("/", 1)[0] + "/" + name
    upgrade(url)
    yield url
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


def base_config(tmp_path, **extra):
    """Settings for a test app; nothing is read from the developer's environment."""
    config = {
        "GATEWAY_ENV": "development",
        "SECRET_KEY": "test-secret-key-0123456789",
        "TWILIO_AUTH_TOKEN": TWILIO_TOKEN,
        "TWILIO_ACCOUNT_SID": "AC" + "0" * 32,
        "PUBLIC_BASE_URL": "https://gw.example.vn",
        "INSTANCE_PATH": str(tmp_path / "instance"),
        "AUDIO_DIR": str(tmp_path / "audio"),
        "EMBEDDED_WORKER": "0",
        "SMS_PROVIDER": "outbox",
        "VOICE_PROVIDER": "outbox",
        "TTS_ENGINE": "espeak",
        "REDIS_URL": "",
        "DATABASE_URL": "",
    }
    config.update(extra)
    return config


@pytest.fixture
def make_app(tmp_path, monkeypatch):
    """Build an app from `base_config` plus overrides; the environment cannot leak in."""
    from gateway.config import NAMES

    for name in NAMES:
        monkeypatch.delenv(name, raising=False)
    apps = []

    def make(**config):
        app = create_app(base_config(tmp_path, **config))
        apps.append(app)
        return app

    yield make
    for app in apps:
        embedded = app.extensions.get("gateway.embedded_worker")
        if embedded is not None:
            embedded.stop()
        app.extensions["gateway.engine"].dispose()


@pytest.fixture
def app(make_app, tmp_path, sqlite_template, redis_url):
    """An app on a fresh SQLite database and this run's (flushed) Redis database."""
    db_path = tmp_path / "gateway.sqlite"
    shutil.copy(sqlite_template, db_path)
    redis.Redis.from_url(redis_url).flushdb()
    app = make_app(DATABASE_URL=f"sqlite:///{db_path}", REDIS_URL=redis_url)
    app.testing = True
    return app


@pytest.fixture
def pg_app(make_app, pg_url, redis_url):
    """An app on this run's PostgreSQL database, emptied after the test."""
    redis.Redis.from_url(redis_url).flushdb()
    app = make_app(DATABASE_URL=pg_url, REDIS_URL=redis_url)
    app.testing = True
    yield app
    with app.extensions["gateway.engine"].begin() as conn:
        names = ", ".join(f'"{t.name}"' for t in Base.metadata.sorted_tables)
        conn.execute(text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))


@pytest.fixture(params=["sqlite", "postgresql"])
def any_app(request):
    """The same test on SQLite and on PostgreSQL."""
    return request.getfixturevalue("app" if request.param == "sqlite" else "pg_app")


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def runner(app):
    return app.test_cli_runner()


@pytest.fixture
def db(app):
    """The app's database session, inside an app context."""
    from gateway.db import get_db

    with app.app_context():
        yield get_db()


@pytest.fixture
def demo(app):
    """The demo commune loaded into `app`'s database."""
    from gateway.db import get_db
    from gateway.demo import load_demo

    with app.app_context():
        return load_demo(get_db(), households=60).id
