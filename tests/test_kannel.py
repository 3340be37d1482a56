"""SMS through a real Kannel: bearerbox and smsbox with fakesmsc as the SMSC, the app on a
loopback HTTP server (smsbox calls its get-url and dlr-url), real workers on the local Redis
and PostgreSQL."""
import datetime as dt
import os
import signal
import time
from urllib.parse import quote_from_bytes

import pytest
from rq.registry import StartedJobRegistry
from sqlalchemy import select

from gateway.db import get_db
from gateway.models import Announcement, Area, Delivery, InboundMessage, Report
from gateway.queue import QUEUES, drain
from gateway.sms.outbound import STUCK_AFTER
from gateway.sms_queue import queue_sms
from gateway.text import nfc

from tests.broadcast_helpers import announce, set_quiet, targeted_phones
from tests.kannel_helpers import SECRET, SHORT_CODE, FakeSMSC, Kannel, LiveServer, needs_kannel, wait_until
from tests.test_broadcast_worker_kill import busy_backends, count, start_worker, stop_worker, wait_for

pytestmark = needs_kannel


@pytest.fixture
def kannel(pg_app, tmp_path):
    """A running Kannel wired to `pg_app` served on loopback; the app sends through it."""
    live = LiveServer(pg_app).start()
    directory = tmp_path / "kannel"
    directory.mkdir()
    box = Kannel(directory, live.url)
    pg_app.config.update(box.config(live.url), SMS_PROVIDER="kannel")
    box.start()
    yield box
    box.stop()
    live.stop()


def fake_smsc(box, *messages):
    smsc = FakeSMSC(box, messages)
    wait_until(box.smsc_online, 20, "fakesmsc to connect")
    return smsc


def ucs2(text):
    """An MO message body as fakesmsc's `ucs2` type takes it: URL-encoded UTF-16BE."""
    return quote_from_bytes(text.encode("utf-16-be"), safe="")


def test_texted_report_gets_a_receipt_through_smsbox_and_its_delivery_report(pg_app, kannel):
    from gateway.demo import load_demo

    with pg_app.app_context():
        load_demo(get_db(), households=20)
    text = "Gà chết nhiều ở khu phố 5, đề nghị kiểm tra"  # what a basic phone sends as UCS-2
    smsc = fake_smsc(kannel, f"0912345678 {SHORT_CODE} ucs2 {ucs2(text)}")
    try:
        with pg_app.app_context():
            db = get_db()
            wait_until(lambda: db.scalar(select(InboundMessage.id)) is not None and not db.rollback(), 20,
                       "the SMS to reach the gateway")
            message = db.scalar(select(InboundMessage))
            assert (message.provider, message.phone, message.to_number) == ("kannel", "+84912345678", SHORT_CODE)
            assert message.body == nfc(text) and message.intent == "report"
            report = db.get(Report, message.report_id)
            assert report.text == nfc(text) and report.channel == "sms"
            receipt = db.scalar(select(Delivery).where(Delivery.idempotency_key == f"sms:in:{message.id}:reply"))
            assert receipt.status == "pending"
        drain(pg_app)
        wait_until(lambda: smsc.messages(), 20, "the receipt to reach fakesmsc\n" + kannel.log())
        [(sender, receiver, kind, body)] = smsc.messages()
        assert (sender, receiver, kind) == (SHORT_CODE, "+84912345678", "text")  # GSM-7, no diacritics
        assert f"#{report.number}." in body and body.isascii()

        def status():
            with pg_app.app_context():
                return get_db().get(Delivery, receipt.id).status

        # fakesmsc's SMSC reports acceptance (8), then delivery (1), through smsbox's dlr-url.
        wait_until(lambda: status() == "delivered", 20, "the delivery report\n" + kannel.log())
        # A late "accepted by the SMSC" report does not move it back.
        client = pg_app.test_client()
        with pg_app.app_context():
            ref = get_db().get(Delivery, receipt.id).provider_id
        late = client.get("/sms/kannel/status", query_string={"secret": SECRET, "ref": ref, "type": "8"})
        assert late.status_code == 200
        assert status() == "delivered"
    finally:
        smsc.stop()


def test_gsm7_by_default_and_ucs2_when_the_commune_chooses(pg_app, kannel):
    from gateway.demo import load_demo

    body = "Họp tổ dân phố lúc 19h tại nhà văn hóa"
    with pg_app.app_context():
        db = get_db()
        commune = load_demo(db, households=10)
        area = commune.children[0]
        queue_sms(db, phone="+84912000001", body=body, key="t:plain", area_id=area.id)
        db.commit()
    smsc = fake_smsc(kannel)
    try:
        drain(pg_app)
        wait_until(lambda: len(smsc.messages()) == 1, 20, "the plain SMS")
        with pg_app.app_context():
            db = get_db()
            db.get(Area, commune.id).settings = {**(commune.settings or {}), "sms_coding": "ucs2"}
            db.commit()
            queue_sms(db, phone="+84912000002", body=body, key="t:ucs2", area_id=area.id)
            db.commit()
        drain(pg_app)
        wait_until(lambda: len(smsc.messages()) == 2, 20, "the UCS-2 SMS")
        by_phone = {r: (kind, text) for _, r, kind, text in smsc.messages()}
        assert by_phone["+84912000001"] == ("text", "Hop to dan pho luc 19h tai nha van hoa")
        assert by_phone["+84912000002"] == ("ucs-2", body)
    finally:
        smsc.stop()


@pytest.mark.timeout(300)
def test_broadcast_of_500_through_kannel_arrives_once_per_household_when_a_worker_is_killed(
        pg_app, kannel, monkeypatch):
    from gateway.demo import load_demo

    households = 500
    for key, value in kannel.config(pg_app.config["KANNEL_CALLBACK_URL"]).items():
        monkeypatch.setenv(key, value)  # the worker processes' settings
    with pg_app.app_context():
        db = get_db()
        load_demo(db, households=households)
        set_quiet(db, quiet_now=False)
        a = announce(db, codes=("TANLAP",), channels=["sms"])
        phones = targeted_phones(db, a)
        aid = a.id
    assert len(phones) == households
    smsc = fake_smsc(kannel)
    try:
        worker = start_worker(pg_app)
        try:
            bulk_running = StartedJobRegistry("bulk", connection=pg_app.extensions["gateway.redis"])
            wait_for(lambda: len(smsc.messages()) >= 150 and bulk_running.get_job_count(cleanup=False) > 0, 120,
                     "a third of the SMS at fakesmsc", pg_app)
            os.killpg(worker.pid, signal.SIGKILL)
            worker.wait(10)
        finally:
            if worker.poll() is None:
                os.killpg(worker.pid, signal.SIGKILL)
        wait_for(lambda: busy_backends(pg_app) == 0, 30, "the killed worker's database sessions to end")
        settled = _settle(smsc)
        assert 150 <= settled < households
        assert count(pg_app, Delivery, Delivery.announcement_id == aid,
                     Delivery.status.in_(("pending", "sending"))) + \
            (households - count(pg_app, Delivery, Delivery.announcement_id == aid)) > 0  # work was left

        # As in test_broadcast_worker_kill: move the clocks on rather than sleep (RQ's heartbeat,
        # and the age after which a row left "sending" counts as abandoned).
        later = STUCK_AFTER + dt.timedelta(minutes=1)
        with pg_app.app_context():
            db = get_db()
            stuck = list(db.scalars(select(Delivery).where(Delivery.status == "sending")))
            for d in stuck:
                d.updated_at = d.updated_at - later
            db.commit()
        for q in QUEUES:
            StartedJobRegistry(q, connection=pg_app.extensions["gateway.redis"]).cleanup(
                timestamp=time.time() + later.total_seconds())
        worker = start_worker(pg_app)
        try:
            wait_for(lambda: count(pg_app, Delivery, Delivery.announcement_id == aid,
                                   Delivery.status.in_(("pending", "sending"))) == 0
                     and count(pg_app, Delivery, Delivery.announcement_id == aid) == households, 180,
                     "every delivery to be sent", pg_app)
        finally:
            stop_worker(worker)
        _settle(smsc)
        got = smsc.per_receiver()
        assert got == {p: 1 for p in phones}
        with pg_app.app_context():
            db = get_db()
            assert db.get(Announcement, aid).status == "sent"
            outcomes = set(db.scalars(select(Delivery.status).where(Delivery.announcement_id == aid)))
            assert outcomes <= {"queued", "sent", "delivered"}
    finally:
        smsc.stop()



def _settle(smsc, quiet=1.5, timeout=30):
    """fakesmsc's count once nothing more has arrived for `quiet` seconds."""
    deadline = time.monotonic() + timeout
    last, since = len(smsc.messages()), time.monotonic()
    while time.monotonic() < deadline:
        time.sleep(0.1)
        n = len(smsc.messages())
        if n != last:
            last, since = n, time.monotonic()
        elif time.monotonic() - since >= quiet:
            return n
    return last


def test_a_message_a_crashed_worker_left_is_checked_at_bearerbox_then_sent_once(pg_app, kannel):
    from gateway.sms.outbound import claim, requeue_stuck

    def left_sending(key, phone):
        """A delivery claimed by a worker that died before smsbox had it (no delivery report)."""
        d = queue_sms(db, phone=phone, body="Thong bao hop", key=key)
        db.commit()
        assert claim(db, d.id)
        d.updated_at = d.updated_at - STUCK_AFTER - dt.timedelta(minutes=1)
        db.commit()
        return d

    with pg_app.app_context():
        db = get_db()
        # No SMSC connected: bearerbox holds what smsbox gives it, so Kannel cannot say "not here".
        held = queue_sms(db, phone="+84912000009", body="Dang cho SMSC", key="t:held")
        db.commit()
        drain(pg_app)
        wait_until(lambda: "<queued>1</queued>" in kannel.status(), 20, "bearerbox to hold a message")
        d = left_sending("t:stuck", "+84912000010")
        counts = requeue_stuck(db, pg_app.config)
        assert counts["resent"] == 0 and counts["operator"] == 0
        assert db.get(Delivery, d.id).status == "sending"  # asked again at the next clean-up
    smsc = fake_smsc(kannel)
    try:
        wait_until(lambda: len(smsc.messages()) == 1, 20, "the held message to go out")
        with pg_app.app_context():
            db = get_db()
            wait_until(lambda: "<queued>0</queued>" in kannel.status() and not db.rollback()
                       and db.get(Delivery, held.id).status == "delivered", 20, "bearerbox to empty")
            counts = requeue_stuck(db, pg_app.config)
            assert counts["resent"] == 1
        drain(pg_app)
        wait_until(lambda: len(smsc.messages()) == 2, 20, "the stuck message to be sent again")
        _settle(smsc)
        assert smsc.per_receiver() == {"+84912000009": 1, "+84912000010": 1}
    finally:
        smsc.stop()
