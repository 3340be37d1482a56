"""A commune's pool of SMS senders: spread within each sender's limits, sticky numbers for
replies, senders taken out (errors, /health, daily cap) with their waiting messages moved and
nothing sent twice; the CLI and the console page. Phones are SMS Gateway for Android apps
recorded with `responses`; sending runs on a real RQ worker (`drain`)."""
import json
import re

import pytest
import requests
import responses
from sqlalchemy import func, select

from gateway.models import Area, Delivery, Sender
from gateway.queue import drain
from gateway.sms import senders
from gateway.sms_queue import queue_sms

from tests.console_helpers import login, post
from tests.sms_helpers import ANDROID_KEY, android_post

PHONES = {1: "http://10.0.0.11:8080", 2: "http://10.0.0.12:8080", 3: "http://10.0.0.13:8080"}
NUMBERS = {1: "+84981000001", 2: "+84981000002", 3: "+84981000003"}


@pytest.fixture
def pool_app(app, demo):
    app.config.update(SMS_ANDROID_SIGNING_KEY=ANDROID_KEY)
    return app


def commune(db):
    return db.scalar(select(Area).where(Area.level == "commune"))


def add_phone(db, n, **limits):
    s = Sender(commune_id=commune(db).id, name=f"Điện thoại {n}", provider="android", number=NUMBERS[n],
               options={"SMS_ANDROID_URL": PHONES[n], "SMS_ANDROID_USER": "sms", "SMS_ANDROID_PASSWORD": f"pw{n}"},
               **limits)
    db.add(s)
    db.commit()
    return s


class Phones:
    """The phones' REST APIs: what each accepted (by our reference, which the app dedupes on)."""

    def __init__(self, rsps, failing=(), timing_out=()):
        self.accepted = {n: [] for n in PHONES}
        self.calls = {n: 0 for n in PHONES}
        self.failing, self.timing_out = set(failing), set(timing_out)
        for n, url in PHONES.items():
            rsps.add_callback(responses.POST, url + "/message", callback=self._message(n))
            rsps.add_callback(responses.GET, url + "/health", callback=lambda req: (200, {}, '{"status":"pass"}'))

    def _message(self, n):
        def callback(request):
            self.calls[n] += 1
            if n in self.timing_out:
                raise requests.Timeout("read timed out")
            if n in self.failing:
                return (503, {}, "SIM busy")
            body = json.loads(request.body)
            if body["id"] in self.accepted[n]:
                return (409, {}, '{"message":"duplicate id"}')
            self.accepted[n].append(body["id"])
            return (202, {}, json.dumps({"id": body["id"], "state": "Pending"}))
        return callback

    def total(self):
        return sum(len(v) for v in self.accepted.values())


def queue_many(db, n, prefix="t"):
    area = commune(db).children[0]
    ids = [queue_sms(db, phone=f"+8491200{i:04d}", body=f"Thong bao {i}", key=f"{prefix}:{i}", area_id=area.id).id
           for i in range(n)]
    db.commit()
    return ids


def statuses(db, ids):
    db.expire_all()
    return [db.get(Delivery, i) for i in ids]


def test_a_pool_spreads_a_commune_s_sms_within_each_sender_s_daily_limit(pool_app, db):
    a, b = add_phone(db, 1, per_day=3), add_phone(db, 2, per_day=4)
    ids = queue_many(db, 10)
    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        phones = Phones(rsps)
        drain(pool_app)
    assert (len(phones.accepted[1]), len(phones.accepted[2])) == (3, 4)
    rows = statuses(db, ids)
    sent = [d for d in rows if d.status == "queued"]
    assert sorted(d.sender_id for d in sent) == [a.id] * 3 + [b.id] * 4
    held = [d for d in rows if d.status == "pending"]
    assert len(held) == 3 and all(d.next_attempt_at is not None and d.attempts == 0 for d in held)
    # Both SIMs are at their cap until local midnight: that is when the rest go.
    assert {d.next_attempt_at for d in held} == {senders.reserve(pool_app.extensions["gateway.redis"], db, a)}


def test_a_commune_without_senders_uses_the_configured_provider(pool_app, db):
    from gateway.models import OutboxMessage

    [i] = queue_many(db, 1)
    drain(pool_app)
    d = db.get(Delivery, i)
    assert (d.status, d.provider, d.sender_id) == ("sent", "outbox", None)
    assert db.scalar(select(func.count()).select_from(OutboxMessage)) == 1


def test_the_minute_limit_spaces_sends_evenly(pool_app):
    sender = Sender(id=424242, per_minute=60)
    conn = pool_app.extensions["gateway.redis"]
    first, second, third = (senders.reserve(conn, None, sender) for _ in range(3))
    assert first == 0
    assert 0.9 < second <= 1.0 and 1.9 < third <= 2.0  # one slot a second, reserved in turn
    many = [senders.reserve(conn, None, sender) for _ in range(5)]
    assert isinstance(many[-1], type(senders.utcnow()))  # beyond MAX_WAIT: a time to come back


def test_replies_and_report_threads_stay_on_the_number_the_resident_texted(pool_app, db):
    a, b = add_phone(db, 1), add_phone(db, 2)
    client = pool_app.test_client()
    event = {"event": "sms:received", "id": "ev-1", "payload": {
        "message": "Cong thoat nuoc o KP2 bi tac", "sender": "+84912555666", "recipient": NUMBERS[2]}}
    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        phones = Phones(rsps)
        for k in range(3):
            event["id"] = f"ev-{k}"
            event["payload"]["message"] = f"Cong thoat nuoc o KP2 bi tac ({k})"
            assert android_post(client, event).status_code == 200
            drain(pool_app)
        # An official's status update on the report goes from the same number too.
        from gateway.reports.casework import change_status
        from gateway.models import Official, Report

        report = db.scalar(select(Report))
        change_status(db, report, "acknowledged", official=db.scalar(select(Official).where(Official.login == "admin")))
        db.commit()
        drain(pool_app)
    replies = list(db.scalars(select(Delivery).where(Delivery.phone == "+84912555666")))
    assert len(replies) >= 2 and any(d.report_id for d in replies)
    assert {d.sender_id for d in replies} == {b.id}
    assert phones.accepted[1] == [] and len(phones.accepted[2]) == len(replies)


def test_a_failing_sender_is_taken_out_and_its_messages_go_once_through_the_others(pool_app, db):
    a, b = add_phone(db, 1), add_phone(db, 2)
    ids = queue_many(db, 8)
    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        phones = Phones(rsps, failing={1})
        drain(pool_app)
        db.expire_all()
        assert db.get(Sender, a.id).health == "failing"
        # The retries that were scheduled on phone 1 run too: they find their delivery sent.
        drain(pool_app, scheduled=True)
    rows = statuses(db, ids)
    assert [d.status for d in rows] == ["queued"] * 8
    assert {d.sender_id for d in rows} == {b.id}
    assert sorted(phones.accepted[2]) == sorted({r for r in phones.accepted[2]})  # no id twice
    assert len(phones.accepted[2]) == 8 and phones.accepted[1] == []
    assert phones.calls[1] == senders.ERRORS_IN_A_ROW  # then it was left alone


def test_a_message_whose_send_timed_out_never_moves_to_another_sender(pool_app, db):
    a, b = add_phone(db, 1), add_phone(db, 2)
    ids = queue_many(db, 1)
    sender_a = db.get(Sender, a.id)
    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        phones = Phones(rsps, timing_out={1}, failing={2})
        # Phone 2 is busy now, so the message goes to phone 1, whose answer never comes.
        db.get(Sender, b.id).enabled = False
        db.commit()
        drain(pool_app)
        d = statuses(db, ids)[0]
        assert (d.status, d.sender_id, d.error_code) == ("pending", a.id, "timeout")
        senders.take_out(db, sender_a, "down", "phone off")
        senders.enable(db, db.get(Sender, b.id))
        phones.failing.clear()
        drain(pool_app, scheduled=True)
    d = statuses(db, ids)[0]
    # Phone 1 may have it: only phone 1 may try again (it refuses a repeated id), so it waits.
    assert (d.status, d.sender_id) == ("pending", a.id)
    assert phones.accepted[2] == []


def test_android_health_takes_a_phone_out_and_brings_it_back(pool_app, db):
    a = add_phone(db, 1)
    s = db.get(Sender, a.id)
    with responses.RequestsMock() as rsps:
        rsps.get(PHONES[1] + "/health", status=500,
                 json={"status": "fail", "checks": {"battery:level": {"status": "fail"}}})
        assert senders.check_sender(db, pool_app.config, s) is False
        assert (s.health, "battery:level" in s.health_reason) == ("down", True)
    with responses.RequestsMock() as rsps:
        rsps.get(PHONES[1] + "/health", json={"status": "pass", "checks": {}})
        assert senders.check_sender(db, pool_app.config, s) is True
        assert (s.health, s.errors_in_a_row) == ("ok", 0)


def test_the_daily_cap_survives_a_flushed_redis(pool_app, db):
    a = add_phone(db, 1, per_day=2)
    ids = queue_many(db, 2)
    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        phones = Phones(rsps)
        drain(pool_app)
        pool_app.extensions["gateway.redis"].flushdb()
        [third] = queue_many(db, 1, prefix="u")
        drain(pool_app)
    assert len(phones.accepted[1]) == 2  # the database remembered today's two
    assert db.get(Delivery, third).status == "pending"


def test_senders_cli(pool_app, db):
    runner = pool_app.test_cli_runner()
    code = commune(db).code
    ok = runner.invoke(args=["senders", "add", code, "--name", "Điện thoại 1", "--provider", "android",
                             "--number", "0981 000 001", "--sim", "2", "--per-hour", "60", "--per-day", "500",
                             "--option", "SMS_ANDROID_URL=http://10.0.0.11:8080", "--option", "SMS_ANDROID_USER=sms",
                             "--option", "SMS_ANDROID_PASSWORD=x"])
    assert ok.exit_code == 0, ok.output
    s = db.scalar(select(Sender))
    assert (s.number, s.sim_number, s.per_hour, s.per_day, s.provider) == ("+84981000001", 2, 60, 500, "android")
    for args, reason in (
        (["--provider", "android", "--number", "12345abc"], "Số gửi"),
        (["--provider", "carrier-pigeon"], "không có"),
        (["--provider", "android"], "SMS_ANDROID_URL"),
        (["--provider", "android", "--option", "NOT_A_SETTING=1"], "NOT_A_SETTING"),
        (["--provider", "outbox", "--sim", "7"], "SIM"),
    ):
        bad = runner.invoke(args=["senders", "add", code, "--name", "x", *args])
        assert bad.exit_code != 0 and reason in bad.output, (args, bad.output)
    assert runner.invoke(args=["senders", "add", "NOWHERE", "--name", "x", "--provider", "outbox"]).exit_code != 0
    listed = runner.invoke(args=["senders", "list"])
    assert "Điện thoại 1" in listed.output and "0/500" in listed.output
    assert runner.invoke(args=["senders", "edit", str(s.id), "--per-day", "300", "--no-limit", "hour"]).exit_code == 0
    db.refresh(s)
    assert (s.per_day, s.per_hour) == (300, None)
    assert runner.invoke(args=["senders", "disable", str(s.id)]).exit_code == 0
    db.refresh(s)
    assert s.enabled is False
    assert "tắt" in runner.invoke(args=["senders", "list"]).output


def test_console_senders_page_is_for_admins_and_shows_health_and_today_s_use(pool_app, db):
    a, b = add_phone(db, 1, per_day=5), add_phone(db, 2, per_day=4)
    ids = queue_many(db, 3)
    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        Phones(rsps)
        drain(pool_app)
    senders.take_out(db, db.get(Sender, b.id), "failing", "3 errors in a row: <script>x</script>")
    client = pool_app.test_client()
    token = login(client)
    html = client.get("/console/senders").get_data(as_text=True)
    used_a = db.scalar(select(func.count()).select_from(Delivery).where(Delivery.sender_id == a.id))
    used_b = len(ids) - used_a
    assert f"{used_a} / 5" in html and f"{used_b} / 4" in html
    assert "Lỗi liên tiếp, tạm ngừng" in html and "&lt;script&gt;" in html and "<script>x" not in html
    assert "0981 000 001" in html or "0981000001" in html.replace(" ", "")
    resp = post(client, f"/console/senders/{a.id}/disable", token)
    assert resp.status_code == 302
    db.expire_all()
    assert db.get(Sender, a.id).enabled is False
    assert post(client, "/console/senders/99999/disable", token).status_code == 404
    leader = pool_app.test_client()
    login(leader, "truongkp1")
    assert leader.get("/console/senders").status_code == 403
    assert re.search(r'href="/console/senders"', client.get("/console/").get_data(as_text=True))


def test_a_phone_whose_sim_hits_its_limit_is_taken_out_and_the_message_goes_through_another(pool_app, db):
    a, b = add_phone(db, 1), add_phone(db, 2)
    db.get(Sender, b.id).enabled = False  # so the first send surely goes through phone 1
    db.commit()
    [i] = queue_many(db, 1)
    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        phones = Phones(rsps)
        drain(pool_app)
        d = db.get(Delivery, i)
        assert (d.status, d.sender_id) == ("queued", a.id)
        senders.enable(db, db.get(Sender, b.id))
        event = {"event": "sms:failed", "id": "ev-f", "payload": {
            "messageId": d.provider_id, "reason": "RESULT_ERROR_LIMIT_EXCEEDED", "phoneNumber": d.phone}}
        assert android_post(pool_app.test_client(), event).status_code == 200
        drain(pool_app)
        # The same report again (the app retries webhooks) changes nothing more.
        assert android_post(pool_app.test_client(), event).status_code == 200
        drain(pool_app)
    db.expire_all()
    d = db.get(Delivery, i)
    assert (d.status, d.sender_id) == ("queued", b.id)
    assert db.get(Sender, a.id).health == "failing" and "LIMIT" in db.get(Sender, a.id).health_reason
    assert phones.accepted[1] == phones.accepted[2] == [d.provider_id]  # phone 1 said it did not send it


def test_an_admin_adds_a_sender_in_the_console_and_bad_input_is_refused_with_its_reason(pool_app, db):
    client = pool_app.test_client()
    token = login(client)
    form = {"commune_id": str(commune(db).id), "name": "Điện thoại 3", "provider": "android",
            "number": "0981 000 003", "sim_number": "1", "per_hour": "150", "per_day": "1000",
            "SMS_ANDROID_URL": PHONES[3], "SMS_ANDROID_USER": "sms", "SMS_ANDROID_PASSWORD": "pw3"}
    for change, reason in (({"number": "09abc"}, "Số gửi"), ({"per_day": "0"}, "Tối đa mỗi ngày"),
                           ({"SMS_ANDROID_URL": ""}, "SMS_ANDROID_URL"), ({"commune_id": "999"}, "xã/phường")):
        resp = post(client, "/console/senders", token, {**form, **change})
        assert resp.status_code == 400 and reason in resp.get_data(as_text=True), change
    assert db.scalar(select(func.count()).select_from(Sender)) == 0
    resp = post(client, "/console/senders", token, form)
    assert resp.status_code == 302
    s = db.scalar(select(Sender))
    assert (s.number, s.sim_number, s.per_hour, s.per_day, s.options["SMS_ANDROID_URL"]) == (
        NUMBERS[3], 1, 150, 1000, PHONES[3])
    leader = pool_app.test_client()
    leader_token = login(leader, "truongkp1")
    assert post(leader, "/console/senders", leader_token, form).status_code == 403


def test_a_commune_chooses_ucs2_from_the_command_line(pool_app, db):
    runner = pool_app.test_cli_runner()
    code = commune(db).code
    assert "gsm" in runner.invoke(args=["senders", "coding", code]).output
    assert "ucs2" in runner.invoke(args=["senders", "coding", code, "ucs2"]).output
    db.expire_all()
    assert senders.unicode_chosen(commune(db))
    [i] = queue_many(db, 1)
    db.get(Delivery, i).body = "Họp tổ lúc 19h"
    db.commit()
    drain(pool_app)
    from gateway.models import OutboxMessage

    assert db.scalar(select(OutboxMessage.body)) == "Họp tổ lúc 19h"  # with its diacritics
    assert runner.invoke(args=["senders", "coding", code, "latin1"]).exit_code != 0
