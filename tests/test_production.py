"""Production safety: the outbox is refused unless asked for, demo data is refused, and every
refusal is one line naming what is missing, however the gateway is started."""
import os
import shutil
import subprocess
import sys

import pytest

from gateway import create_app
from gateway.config import SETTINGS, ConfigError
from tests.test_app import PRODUCTION

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@pytest.mark.parametrize("name", ["SMS_PROVIDER", "VOICE_PROVIDER"])
def test_outbox_provider_is_refused_in_production(name, tmp_path):
    with pytest.raises(ConfigError) as err:
        create_app(dict(PRODUCTION, INSTANCE_PATH=str(tmp_path), **{name: "outbox"}))
    message = str(err.value)
    assert f"{name}=outbox" in message and "ALLOW_OUTBOX=1" in message and "\n" not in message


def test_outbox_runs_in_production_when_asked_for(tmp_path):
    app = create_app(dict(PRODUCTION, INSTANCE_PATH=str(tmp_path), SMS_PROVIDER="outbox", VOICE_PROVIDER="outbox",
                          ALLOW_OUTBOX="1"))
    assert app.config["SMS_PROVIDER"] == "outbox"


def test_outbox_group_target_is_refused_by_the_worker(tmp_path, sqlite_template):
    from gateway.config import check_group_targets
    from gateway.db import get_db
    from gateway.demo import load_demo

    shutil.copy(sqlite_template, tmp_path / "g.sqlite")
    app = create_app(dict(PRODUCTION, INSTANCE_PATH=str(tmp_path), DATABASE_URL=f"sqlite:///{tmp_path / 'g.sqlite'}"))
    with app.app_context():
        db = get_db()
        check_group_targets(app.config, db)  # no areas yet: nothing to refuse
        load_demo(db, households=2)
        with pytest.raises(ConfigError, match="group target of areas TANLAP, KP1"):
            check_group_targets(app.config, db)
        check_group_targets(dict(app.config, ALLOW_OUTBOX="1"), db)


def _env(tmp_path, **extra):
    env = {k: v for k, v in os.environ.items() if k not in {s.name for s in SETTINGS}}
    env.update({k: v for k, v in PRODUCTION.items() if k != "DATABASE_URL"},
               DATABASE_URL=f"sqlite:///{tmp_path / 'prod.sqlite'}", INSTANCE_PATH=str(tmp_path), **extra)
    return env


def _one_line_refusal(proc, *words):
    assert proc.returncode != 0
    lines = [line for line in proc.stderr.splitlines() if "refuse" in line.lower()]
    assert len(lines) == 1, proc.stderr
    assert all(w in lines[0] for w in words), lines[0]
    assert "Traceback" not in proc.stderr and "Traceback" not in proc.stdout


@pytest.mark.parametrize("command", [
    [sys.executable, "-m", "gateway", "run"],
    [sys.executable, "worker.py", "--burst"],
    [sys.executable, "-m", "gunicorn", "--bind", "127.0.0.1:0", "gateway.wsgi:create()"],
], ids=["flask-run", "worker", "gunicorn"])
def test_every_way_of_starting_refuses_on_one_line(tmp_path, command):
    proc = subprocess.run(command, env=_env(tmp_path, SMS_PROVIDER="outbox"), capture_output=True, text=True,
                          cwd=ROOT, timeout=120)
    _one_line_refusal(proc, "SMS_PROVIDER=outbox", "ALLOW_OUTBOX=1")


def test_demo_load_is_refused_in_production(tmp_path, sqlite_template):
    shutil.copy(sqlite_template, tmp_path / "prod.sqlite")
    proc = subprocess.run([sys.executable, "-m", "gateway", "demo", "load"], env=_env(tmp_path, ALLOW_OUTBOX="1"),
                          capture_output=True, text=True, cwd=ROOT, timeout=120)
    _one_line_refusal(proc, "demo load", "GATEWAY_ENV=production")
    from sqlalchemy import create_engine, text

    engine = create_engine(f"sqlite:///{tmp_path / 'prod.sqlite'}")
    with engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM officials")).scalar() == 0  # no known password created
    engine.dispose()
