"""gammu-smsd for a USB modem, tested with a real gammu-smsd (Debian `gammu-smsd`) on Gammu's
dummy driver (a phone emulated in a folder): RunOnReceive feeds the inbound SMS path, the reply
goes through the daemon's outbox, RunOnSent records it, and a crash never sends twice."""
import datetime as dt
import os
import shutil
import subprocess
import sys
import time

import pytest
from sqlalchemy import select

from gateway.db import get_db
from gateway.models import Area, Delivery, InboundMessage, Report
from gateway.queue import drain
from gateway.sms.outbound import STUCK_AFTER, claim, reference, requeue_stuck
from gateway.sms_queue import queue_sms
from gateway.sms.providers import get_provider
from gateway.sms.providers.gammu import inbound_from_environment, reference_of

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SMSD, GAMMU = shutil.which("gammu-smsd"), shutil.which("gammu")
MODEM_NUMBER = "+84981000009"
needs_gammu = pytest.mark.skipif(not (SMSD and GAMMU), reason="Debian gammu and gammu-smsd")


def wait_until(predicate, timeout, what, logs=None):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.1)
    pytest.fail(f"timed out waiting for {what}" + (f"\n{logs()}" if logs else ""))


@pytest.fixture
def modem(app, tmp_path):
    """gammu-smsd on the dummy driver, its hooks calling `python -m gateway sms …` for `app`."""
    spool = tmp_path / "spool"
    for folder in ("inbox", "outbox", "sent", "error"):
        (spool / folder).mkdir(parents=True)
    device = tmp_path / "dummy"
    device.mkdir()
    env = {k: str(app.config[k]) for k in ("DATABASE_URL", "REDIS_URL", "SECRET_KEY", "TWILIO_AUTH_TOKEN",
                                           "INSTANCE_PATH", "AUDIO_DIR", "PUBLIC_BASE_URL")}
    env.update(SMS_PROVIDER="gammu", GAMMU_SPOOL_DIR=str(spool), GATEWAY_ENV="development", EMBEDDED_WORKER="0")
    hook = tmp_path / "hook.sh"
    exports = "".join(f"export {k}='{v}'\n" for k, v in env.items())
    hook.write_text(f"#!/bin/sh\n{exports}cd '{ROOT}'\nexec '{sys.executable}' -m gateway sms \"$@\" "
                    f">> '{tmp_path}/hook.log' 2>&1\n")
    hook.chmod(0o755)
    gammurc = tmp_path / "gammurc"
    gammurc.write_text(f"[gammu]\ndevice = {device}\nmodel = dummy\nconnection = none\n")
    smsdrc = tmp_path / "smsdrc"
    smsdrc.write_text(
        gammurc.read_text() + f"\n[smsd]\nservice = files\ninboxpath = {spool}/inbox/\noutboxpath = {spool}/outbox/\n"
        f"sentsmspath = {spool}/sent/\nerrorsmspath = {spool}/error/\nlogfile = {tmp_path}/smsd.log\n"
        "debuglevel = 1\ncheckbattery = 0\nchecksignal = 0\nchecknetwork = 0\nchecksecurity = 0\n"
        "receivefrequency = 1\nloopsleep = 1\ncommtimeout = 1\n"
        f"RunOnReceive = {hook} gammu-receive --to {MODEM_NUMBER}\n"
        f"RunOnSent = {hook} gammu-status sent\nRunOnFailure = {hook} gammu-status failed\n")
    app.config.update(SMS_PROVIDER="gammu", GAMMU_SPOOL_DIR=str(spool))
    proc = subprocess.Popen([SMSD, "-c", str(smsdrc)], stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
    log = tmp_path / "smsd.log"
    wait_until(lambda: log.exists() and "Starting phone communication" in log.read_text(), 20, "gammu-smsd")

    class Modem:
        def __init__(self):
            self.spool, self.tmp = spool, tmp_path

        def receive(self, sender, text):
            """A resident's SMS arriving at the modem (the dummy phone's inbox)."""
            subprocess.run([GAMMU, "-c", str(gammurc), "savesms", "TEXT", "-folder", "1", "-unread", "-sender",
                            sender, "-text", text], check=True, capture_output=True)

        def files(self, folder):
            return sorted(os.listdir(spool / folder))

        def logs(self):
            parts = [log.read_text()[-3000:]]
            if (tmp_path / "hook.log").exists():
                parts.append((tmp_path / "hook.log").read_text()[-3000:])
            return "\n".join(parts)

    yield Modem()
    proc.terminate()
    proc.wait(10)


@needs_gammu
def test_a_texted_report_comes_in_by_run_on_receive_and_its_receipt_goes_out_through_the_outbox(app, demo, modem):
    modem.receive("0912555666", "Duong vao KP5 bi ngap sau mua")
    with app.app_context():
        db = get_db()
        wait_until(lambda: db.rollback() or db.scalar(select(InboundMessage.id)) is not None, 30,
                   "RunOnReceive to store the SMS", modem.logs)
        message = db.scalar(select(InboundMessage))
        assert (message.provider, message.phone, message.to_number, message.intent) == (
            "gammu", "+84912555666", MODEM_NUMBER, "report")
        assert message.provider_message_id.startswith("IN")  # the daemon's inbox file: not taken twice
        report = db.get(Report, message.report_id)
        assert report.text == "Duong vao KP5 bi ngap sau mua"
        receipt = db.scalar(select(Delivery).where(Delivery.idempotency_key == f"sms:in:{message.id}:reply"))
    drain(app)
    with app.app_context():
        db = get_db()
        wait_until(lambda: db.rollback() or db.get(Delivery, receipt.id).status == "sent", 30,
                   "the daemon to send it and RunOnSent to record it", modem.logs)
        d = db.get(Delivery, receipt.id)
        [sent] = modem.files("sent")
        assert reference_of(sent) == reference(d) == d.provider_id and "_+84912555666_" in sent
        assert (modem.spool / "sent" / sent).read_text() == d.body  # GSM-7 already: no diacritics
        assert f"#{report.number}." in d.body
        # Sending again with the same reference (a retry after a crash) writes nothing new.
        assert get_provider(app.config).send(d.phone, d.body, reference=d.provider_id) == d.provider_id
        assert modem.files("outbox") == [] and len(modem.files("sent")) == 1


@needs_gammu
def test_ucs2_for_a_commune_that_chooses_it_and_a_crash_never_sends_twice(app, demo, modem):
    body = "Họp tổ dân phố lúc 19h"

    def status(delivery_id):
        with app.app_context():
            return get_db().get(Delivery, delivery_id).status

    with app.app_context():
        db = get_db()
        commune = db.get(Area, demo)
        commune.settings = {**(commune.settings or {}), "sms_coding": "ucs2"}
        db.commit()
        d_id = queue_sms(db, phone="+84912000001", body=body, key="t:ucs2", area_id=demo).id
        db.commit()
    drain(app)
    wait_until(lambda: status(d_id) == "sent", 30, "the UCS-2 SMS", modem.logs)
    [sent] = modem.files("sent")
    raw = (modem.spool / "sent" / sent).read_bytes()
    assert raw.startswith(b"\xff\xfe") and raw[2:].decode("utf-16-le") == body
    assert "cod 3" in modem.logs()  # the daemon sent it as Unicode

    with app.app_context():
        db = get_db()

        def left_sending(key):
            """A row a crashed worker left "sending"."""
            row = queue_sms(db, phone="+84912000002", body="Thong bao", key=key)
            db.commit()
            assert claim(db, row.id, provider="gammu")
            row.updated_at = row.updated_at - STUCK_AFTER - dt.timedelta(minutes=1)
            db.commit()
            return row

        # One reached the outbox before the worker died, one never did.
        reached, lost = left_sending("t:reached"), left_sending("t:lost")
        refs = reference(reached), reference(lost)
        get_provider(app.config).send(reached.phone, reached.body, reference=refs[0])
        wait_until(lambda: len(modem.files("sent")) == 2, 30, "the daemon to send the first", modem.logs)
        counts = requeue_stuck(db, app.config)
        assert (counts["found"], counts["resent"], counts["operator"]) == (1, 1, 0)
    drain(app)
    wait_until(lambda: len(modem.files("sent")) == 3, 30, "the lost one to be sent", modem.logs)
    time.sleep(1.5)  # two more daemon loops: nothing else turns up
    names = modem.files("sent")
    assert len(names) == 3 and modem.files("error") == []
    assert [sum(reference_of(n) == ref for n in names) for ref in refs] == [1, 1]


def test_run_on_receive_joins_the_parts_of_a_long_sms():
    env = {"SMS_MESSAGES": "2", "SMS_1_NUMBER": "+84912555666", "SMS_1_TEXT": "Phan dau ", "SMS_2_TEXT": "phan sau"}
    assert inbound_from_environment(env) == ("+84912555666", "Phan dau phan sau")
    env.update(DECODED_PARTS="1", DECODED_1_TEXT="Cả tin nhắn")
    assert inbound_from_environment(env)[1] == "Cả tin nhắn"
    with pytest.raises(ValueError):
        inbound_from_environment({})


def test_the_gammu_provider_refuses_what_the_modem_cannot_send(tmp_path):
    from gateway.transport import TransportError

    provider = get_provider({"GAMMU_SPOOL_DIR": str(tmp_path)}, "gammu")
    with pytest.raises(TransportError) as err:
        provider.send("../../etc", "x", reference="lx-1-abc")
    assert err.value.permanent
    with pytest.raises(TransportError) as err:
        provider.send("+84912000001", "x", reference="lx-1-abc")  # no outbox folder: the daemon is not set up
    assert not err.value.permanent
