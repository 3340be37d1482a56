"""The app factory, configuration, production checks and /healthz."""
import json
import os

import pytest

from gateway import create_app
from gateway.config import ConfigError, SETTINGS, markdown_table

PRODUCTION = {
    "GATEWAY_ENV": "production",
    "SECRET_KEY": "s" * 32,
    "DATABASE_URL": "sqlite:///:memory:",
    "REDIS_URL": "redis://127.0.0.1:6379/15",
    "PUBLIC_BASE_URL": "https://gw.example.vn",
    "TWILIO_AUTH_TOKEN": "t" * 32,
    "TWILIO_ACCOUNT_SID": "AC" + "0" * 32,
    "TWILIO_FROM_NUMBER": "+15005550006",
    "SMS_PROVIDER": "twilio",
    "VOICE_PROVIDER": "twilio",
}


def test_embedded_defaults_need_no_configuration(make_app, tmp_path):
    app = make_app(SECRET_KEY="", TWILIO_AUTH_TOKEN="", AUDIO_DIR="", EMBEDDED_WORKER="1")
    instance = tmp_path / "instance"
    assert app.config["DATABASE_URL"] == f"sqlite:///{instance}/gateway.sqlite"
    assert app.config["AUDIO_DIR"] == str(instance / "audio")
    assert "gateway.embedded_worker" in app.extensions
    assert len(app.config["SECRET_KEY"]) >= 32
    # Development secrets survive a restart, so the simulator's signatures stay valid.
    again = make_app(SECRET_KEY="", TWILIO_AUTH_TOKEN="")
    assert again.config["SECRET_KEY"] == app.config["SECRET_KEY"]
    assert again.config["TWILIO_AUTH_TOKEN"] == app.config["TWILIO_AUTH_TOKEN"]
    stored = json.loads((instance / "dev-secrets.json").read_text())
    assert stored["TWILIO_AUTH_TOKEN"] == app.config["TWILIO_AUTH_TOKEN"]


def test_environment_is_read_and_config_applied_last(monkeypatch, tmp_path):
    monkeypatch.setenv("SMS_PROVIDER", "outbox")
    monkeypatch.setenv("PUBLIC_BASE_URL", "https://from-env.example")
    monkeypatch.setenv("INSTANCE_PATH", str(tmp_path))
    monkeypatch.setenv("SECRET_KEY", "env-secret-key-xxxxxxxx")
    app = create_app({"PUBLIC_BASE_URL": "https://from-config.example"})
    assert app.config["PUBLIC_BASE_URL"] == "https://from-config.example"
    assert app.config["SECRET_KEY"] == "env-secret-key-xxxxxxxx"


@pytest.mark.parametrize("missing", ["SECRET_KEY", "DATABASE_URL", "REDIS_URL", "PUBLIC_BASE_URL"])
def test_production_refuses_to_start_without(missing, tmp_path):
    config = dict(PRODUCTION, INSTANCE_PATH=str(tmp_path), **{missing: ""})
    with pytest.raises(ConfigError) as err:
        create_app(config)
    assert missing in str(err.value)
    assert not (tmp_path / "dev-secrets.json").exists()  # no secret is invented in production


def test_production_names_every_missing_secret(tmp_path):
    with pytest.raises(ConfigError) as err:
        create_app({"GATEWAY_ENV": "production", "INSTANCE_PATH": str(tmp_path)})
    for name in ("SECRET_KEY", "DATABASE_URL", "REDIS_URL", "PUBLIC_BASE_URL"):
        assert name in str(err.value)


@pytest.mark.parametrize("override, words", [
    ({"SECRET_KEY": "short"}, "at least 16"),
    ({"PUBLIC_BASE_URL": "http://gw.example.vn"}, "https://"),
])
def test_production_rejects_weak_settings(override, words, tmp_path):
    with pytest.raises(ConfigError, match=words):
        create_app(dict(PRODUCTION, INSTANCE_PATH=str(tmp_path), **override))


def test_production_starts_when_complete(tmp_path):
    app = create_app(dict(PRODUCTION, INSTANCE_PATH=str(tmp_path)))
    assert app.config["GATEWAY_ENV"] == "production"
    assert "gateway.embedded_worker" not in app.extensions


def test_production_start_is_refused_from_the_command_line(tmp_path):
    """What an operator sees: a one-line reason and a non-zero exit, not a traceback."""
    import subprocess
    import sys

    env = {k: v for k, v in os.environ.items() if k not in {s.name for s in SETTINGS}}
    env.update(GATEWAY_ENV="production", INSTANCE_PATH=str(tmp_path))
    proc = subprocess.run([sys.executable, "worker.py", "--burst"], env=env, capture_output=True, text=True,
                          cwd=os.path.dirname(os.path.dirname(__file__)), timeout=60)
    assert proc.returncode != 0
    assert "Production refuses to start" in proc.stderr
    assert "SECRET_KEY" in proc.stderr and "REDIS_URL" in proc.stderr


def test_healthz_reports_database_and_queue(client):
    resp = client.get("/healthz")
    assert resp.status_code == 200
    body = resp.get_json()
    assert body["status"] == "ok"
    assert body["checks"]["database"]["ok"] is True
    assert body["checks"]["queue"]["ok"] is True
    assert body["checks"]["queue"]["embedded"] is False
    assert set(body["checks"]["queue"]["queues"]) == {"high", "default", "audio", "bulk"}


def test_healthz_is_503_not_500_when_redis_is_down(make_app, app):
    down = make_app(DATABASE_URL=app.config["DATABASE_URL"], REDIS_URL="redis://127.0.0.1:1/0")
    resp = down.test_client().get("/healthz")
    assert resp.status_code == 503
    body = resp.get_json()
    assert body["checks"]["database"]["ok"] is True
    assert body["checks"]["queue"]["ok"] is False
    assert "ConnectionError" in body["checks"]["queue"]["error"]


def test_healthz_is_503_when_the_database_is_down(make_app, redis_url):
    down = make_app(DATABASE_URL="postgresql+psycopg://nobody@127.0.0.1:1/none", REDIS_URL=redis_url)
    resp = down.test_client().get("/healthz")
    assert resp.status_code == 503
    assert resp.get_json()["checks"]["database"]["ok"] is False


def test_metrics_expose_queue_depth_and_delivery_counts(app, client, db):
    from gateway.models import Delivery
    from gateway.queue import get_queue

    db.add_all([Delivery(idempotency_key=f"k{i}", channel="sms", status=s)
                for i, s in enumerate(["delivered", "delivered", "failed"])])
    db.commit()
    with app.app_context():
        get_queue("bulk").enqueue("tests.jobs.record", "x")
    text = client.get("/metrics").get_data(as_text=True)
    assert 'gateway_queue_jobs{queue="bulk",state="queued"} 1' in text
    assert 'gateway_deliveries{channel="sms",status="delivered"} 2' in text
    assert 'gateway_deliveries{channel="sms",status="failed"} 1' in text


README = os.path.join(os.path.dirname(os.path.dirname(__file__)), "README.md")


def test_readme_documents_every_setting_once_and_nothing_stale():
    from gateway.config import setting_rows

    readme = open(README, encoding="utf-8").read()
    assert markdown_table() in readme, "regenerate the README table: python -m gateway.config"
    names = [name for name, _ in setting_rows(readme)]
    assert len({s.name for s in SETTINGS}) == len(SETTINGS), "a setting is declared twice in gateway/config.py"
    assert sorted(names) == sorted(s.name for s in SETTINGS), "duplicated or stale settings rows in README.md"


def test_regenerating_the_readme_drops_duplicated_and_stale_rows(tmp_path):
    from gateway.config import setting_rows, update_readme

    table = markdown_table()
    doubled = table.splitlines()[2:5] + ["| `GONE_SETTING` | `1` | Removed long ago. |"]
    path = tmp_path / "README.md"
    path.write_text(f"# x\n\n{table}\n\n" + "\n".join(doubled) + "\n\nAfter the table.\n", encoding="utf-8")
    update_readme(path)
    text = path.read_text(encoding="utf-8")
    assert sorted(n for n, _ in setting_rows(text)) == sorted(s.name for s in SETTINGS)
    assert text.endswith(table + "\n\nAfter the table.\n")


def test_readme_commands_are_written_as_they_run(app):
    """Every command named in the README exists, as `python -m gateway …`; every group is listed."""
    import re

    readme = open(README, encoding="utf-8").read()
    assert not re.search(r"(^|[\s`])flask (?!--app)", readme, re.M), "write commands as `python -m gateway …`"
    assert "https://<PUBLIC_BASE_URL>" not in readme and "PORT=" in readme
    groups = dict(app.cli.commands)
    documented = set(re.findall(r"python -m gateway ([a-z-]+)(?: ([a-z-]+))?", readme))
    section = readme[readme.index("## Command line"):readme.index("### Household lists")]
    for line in section.splitlines():
        match = re.match(r"\| `([a-z-]+)(?: ([a-z-]+))?", line)
        if match:
            documented.add(match.groups(""))
            # "announcements create`, `list`, …": the group's other commands named on the row
            for other in re.findall(r"`([^`]+)`", line.split("|")[1])[1:]:
                words = other.split()
                documented.add((match.group(1), words[1] if words[0] == match.group(1) else words[0]))
    for group, command in documented:
        if group in ("run", "routes", "shell"):
            continue
        assert group in groups, f"README names `python -m gateway {group}`, which does not exist"
        if command:
            assert command in groups[group].commands, f"README names `{group} {command}`, which does not exist"
    listed = {g for g, _ in documented}
    for group, cmd in groups.items():
        if group in ("routes", "shell"):
            continue
        assert group in listed, f"`{group}` is missing from the README's command table"
        for name in getattr(cmd, "commands", {}):
            assert (group, name) in documented, f"`{group} {name}` is missing from the README"


@pytest.mark.parametrize("command", [["announcements", "list"], ["loudspeaker", "links"], ["reports", "list"],
                                     ["audio", "list"], ["sms", "stuck"], ["areas", "list"]])
def test_empty_lists_say_none(runner, command):
    result = runner.invoke(args=command)
    assert result.exit_code == 0 and result.output == "none\n", result.output


def test_index_page_answers(client):
    resp = client.get("/")
    assert resp.status_code == 200 and "/healthz" in resp.get_data(as_text=True)
