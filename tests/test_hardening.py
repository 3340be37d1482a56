"""Issue 14: nothing lost on PostgreSQL, no personal data in logs, exports safe in Excel, no 500
on bad input, and production hardening. Every database case runs on SQLite and PostgreSQL."""
import csv
import io
import json
import logging
import time
from urllib.parse import urlencode

import pytest
from sqlalchemy import select, text

from gateway.db import get_db
from gateway.mirror.webhook import sign as webhook_sign
from gateway.models import InboundMessage, Report, ReportEvent
from tests.console_helpers import csrf
from tests.fuzzing import SECRETS, set_up
from tests.sms_helpers import android_post, inbound_params, twilio_post

PHONE = "+84912345678"
BIG = "9" * 20


@pytest.fixture
def gw(make_app, any_app):
    """`any_app` with the providers' secrets set, the demo commune, three reports; (app, client, admin token)."""
    app = make_app(DATABASE_URL=any_app.config["DATABASE_URL"], REDIS_URL=any_app.config["REDIS_URL"], **SECRETS)
    app.testing = True
    return app, app.test_client(), set_up(app)


def rows(app, model, *where):
    with app.app_context():
        return list(get_db().scalars(select(model).where(*where).order_by(model.id)))


def auth(token):
    return {"Authorization": f"Bearer {token}"}


# -- 2. Nothing is lost --------------------------------------------------------------------

@pytest.mark.parametrize("field, value", [
    ("Body", "Rác\x00 ở KP1"), ("From", "+8491234\x005678"), ("MessageSid", "SM\x00" + "a" * 32),
    ("To", "+842633\x00822123"), ("MessageSid", "SM" + "b" * 148),
])
def test_an_sms_with_nul_or_an_overlong_id_is_stored_and_flagged(gw, field, value):
    app, client, _ = gw
    params = inbound_params("Rác ở KP1", sender=PHONE)
    params[field] = value
    resp = twilio_post(client, "/sms/inbound", params)
    assert resp.status_code == 200
    [message] = rows(app, InboundMessage)
    assert message.sanitized is True
    assert "\x00" not in (message.body + message.phone + (message.to_number or "") + message.provider_message_id)
    if field == "Body":
        assert message.body == "Rác\ufffd ở KP1"
    if field == "MessageSid" and len(value) > 100:
        assert len(message.provider_message_id) == 100 and message.provider_message_id.startswith(value[:80])


def test_a_clean_sms_is_not_flagged(gw):
    app, client, _ = gw
    assert twilio_post(client, "/sms/inbound", inbound_params("Rác ở KP1")).status_code == 200
    assert rows(app, InboundMessage)[0].sanitized is False


def test_the_same_sms_with_nul_in_its_id_is_stored_once(gw):
    app, client, _ = gw
    params = inbound_params("TIN", sid="SM\x00dup")
    assert twilio_post(client, "/sms/inbound", params).status_code == 200
    assert twilio_post(client, "/sms/inbound", params).status_code == 200
    assert len(rows(app, InboundMessage)) == 1


@pytest.mark.parametrize("event", [
    {"event": "sms:received", "id": "e" * 400, "payload": {"message": "Mất\x00 điện", "sender": PHONE}},
    {"event": "sms:received", "id": "lone", "payload": {"message": "Mất \ud800 điện", "sender": PHONE}},
    {"event": "sms:received", "id": "\udfff", "payload": {"message": "Mất điện", "phoneNumber": "\x00" + PHONE}},
])
def test_an_android_sms_with_nul_surrogates_or_a_long_id_is_stored(gw, event):
    app, client, _ = gw
    resp = android_post(client, event, key=SECRETS["SMS_ANDROID_SIGNING_KEY"])
    assert resp.status_code == 200, resp.data
    [message] = rows(app, InboundMessage)
    assert message.sanitized is True and message.provider == "android"
    assert "\x00" not in message.body and "\ud800" not in message.body


def test_a_request_with_no_message_at_all_is_400(gw):
    app, client, _ = gw
    params = {k: v for k, v in inbound_params("x").items() if k not in ("From", "Body")}
    assert twilio_post(client, "/sms/inbound", params).status_code == 400
    assert rows(app, InboundMessage) == []
    # An empty text from a number is still a message: stored (and answered with help).
    assert twilio_post(client, "/sms/inbound", inbound_params("")).status_code == 200
    assert len(rows(app, InboundMessage)) == 1


def test_open311_description_and_api_reply_with_nul_are_stored(gw):
    app, client, token = gw
    resp = client.post("/open311/v2/requests.json", data={
        "api_key": token, "service_code": "environment", "address_id": "KP1", "description": "Cống\x00 tắc"})
    assert resp.status_code == 201, resp.data
    report = rows(app, Report, Report.channel == "open311")[0]
    assert report.text == "Cống\ufffd tắc" and report.sanitized is True
    reply = client.post(f"/api/reports/{report.id}/reply", json={"text": "Đã\x00 tiếp nhận"}, headers=auth(token))
    assert reply.status_code == 200, reply.data
    assert "Đã\ufffd tiếp nhận" in [e.text for e in rows(app, ReportEvent, ReportEvent.report_id == report.id)]


def test_a_voice_report_keeps_a_recording_url_over_500_characters(gw):
    app, client, _ = gw
    area = rows(app, Report)[0].area_id
    url = "https://api.twilio.com/2010-04-01/Accounts/AC0/Recordings/" + "R" * 600
    resp = twilio_post(client, f"/ivr/recording?area={area}", {
        "CallSid": "CA\x00" + "c" * 200, "From": PHONE, "RecordingUrl": url, "RecordingSid": "RE1",
        "RecordingStatus": "completed"})
    assert resp.status_code == 200
    with app.app_context():
        from gateway.ivr.jobs import file_recording

        # The callback hands the recording to a job; run it as the worker would.
        file_recording({"area": area, "url": url, "rec": "RE1", "caller": PHONE, "call": "CA\x00" + "c" * 200})
    [report] = rows(app, Report, Report.channel == "voice")
    assert report.recording_url == url


# -- 3. No personal data in logs ----------------------------------------------------------

def _refuse_reports(app):
    """Make every new report fail in the database, so an SMS report ends in a database error."""
    engine = app.extensions["gateway.engine"]
    with engine.begin() as conn:
        if engine.dialect.name == "sqlite":
            conn.execute(text("CREATE TRIGGER no_reports BEFORE INSERT ON reports BEGIN SELECT RAISE(ABORT, 'no'); END"))
        else:
            conn.execute(text("ALTER TABLE reports ADD CONSTRAINT no_reports CHECK (false) NOT VALID"))


def _allow_reports(app):
    engine = app.extensions["gateway.engine"]
    with engine.begin() as conn:
        if engine.dialect.name == "sqlite":
            conn.execute(text("DROP TRIGGER no_reports"))
        else:
            conn.execute(text("ALTER TABLE reports DROP CONSTRAINT no_reports"))


def test_a_failing_request_logs_no_phone_number_and_no_message(gw, caplog, capfd):
    app, client, _ = gw
    app.testing = False  # a real server: the error is logged and answered 500
    sender, words = "+84987654321", "Nhà ông Tư ở KP1 bị trộm xe máy đêm qua"
    _refuse_reports(app)
    try:
        with caplog.at_level(logging.DEBUG):
            resp = twilio_post(client, "/sms/inbound", inbound_params(f"PA {words}", sender=sender))
    finally:
        _allow_reports(app)
    assert resp.status_code == 500
    logged = caplog.text + "".join(capfd.readouterr())
    assert "reports" in logged  # the failure itself was logged
    for secret in (sender, sender[3:], "987654321", words, "trộm xe máy"):
        assert secret not in logged


# -- 5. Exports are safe to open in Excel -------------------------------------------------

FORMULAS = ['=HYPERLINK("http://evil.example","Bấm")', "+1+2", "-3+4", "@SUM(A1)", "\t=1", "\r=1"]


def test_export_writers_neutralize_formulas_and_read_them_back():
    from openpyxl import load_workbook

    from gateway.residents import read_table, rows_csv, rows_xlsx

    table = [["Họ tên", "Số điện thoại"]] + [[value, "+84912345678"] for value in FORMULAS]
    csv_rows = list(csv.reader(io.StringIO(rows_csv(table).decode("utf-8").lstrip("\ufeff"))))
    assert all(not cell.startswith(("=", "+", "-", "@", "\t", "\r")) for row in csv_rows for cell in row)
    assert csv_rows[1] == ["'" + FORMULAS[0], "'+84912345678"]
    xlsx = rows_xlsx(table, title="Hộ dân")
    sheet = load_workbook(io.BytesIO(xlsx)).active
    cells = [c for row in sheet.iter_rows() for c in row]
    assert all(c.data_type == "s" for c in cells)
    assert all(not str(c.value).startswith(("=", "+", "-", "@", "\t", "\r")) for c in cells)
    # Back as they were (a CR opening a cell is read back as a line feed by the CSV reader, as before).
    table = [row for row in table if not row[0].startswith("\r")]
    for data, name in ((rows_csv(table), "x.csv"), (rows_xlsx(table, title="x"), "x.xlsx")):
        assert read_table(name, data) == table


def test_residents_round_trip_through_both_exports(app, db, demo):
    from gateway.models import Resident
    from gateway.residents import export_csv, export_xlsx, import_residents

    resident = db.scalar(select(Resident).order_by(Resident.id))
    resident.name, resident.household_code, resident.consent_source = FORMULAS[0], "-KP1-0001", "@sổ hộ khẩu"
    db.commit()
    for exported, name in ((export_csv(db), "hộ dân.csv"), (export_xlsx(db), "hộ dân.xlsx")):
        if name.endswith(".csv"):
            assert b"\"'=HYPERLINK(" in exported and b"\n=" not in exported and b",=" not in exported
        report = import_residents(db, name, exported)
        assert report.count("rejected") == 0, report.summary()
        db.commit()
        db.refresh(resident)
        assert (resident.name, resident.household_code, resident.consent_source) == (
            FORMULAS[0], "-KP1-0001", "@sổ hộ khẩu")


def test_coverage_csv_is_neutralized_too():
    from gateway.broadcast.coverage import CSV_COLUMNS, to_csv

    row = {c: 0 for c in CSV_COLUMNS} | {CSV_COLUMNS[0]: "=cmd|' /C calc'!A0"}
    assert "\n'=cmd|" in to_csv([row]) and "\n=cmd" not in to_csv([row])


# -- 7. No 500 on bad input ---------------------------------------------------------------

def test_unknown_console_urls_get_the_console_404_page(gw):
    _, client, _ = gw
    for path in ("/console/nothing-here", "/console/reports/" + BIG, "/console/residents/²", "/console/%00"):
        resp = client.get(path)
        assert resp.status_code == 404, path
        assert "404" in resp.get_data(as_text=True)


@pytest.mark.parametrize("path, status", [
    ("/open311/v2/requests/².json", 404), (f"/open311/v2/requests/{BIG}.json", 404), ("/open311/v2/tokens/1².xml", 404),
    (f"/open311/v2/requests.json?service_request_id=²,{BIG},1", 200),
    ("/open311/v2/requests.json?start_date=0001-01-01", 400), ("/open311/v2/requests.xml?end_date=0001-01-01T00:00", 400),
    ("/open311/v2/requests.json?start_date=9999-12-31T23:59:59-10:00", 400),
    (f"/api/reports/{BIG}", 404), (f"/api/announcements/{BIG}/coverage", 404), ("/loa/x/" + BIG + ".mp3", 404),
])
def test_ids_and_dates_that_are_not_storable_are_400_or_404(gw, path, status):
    _, client, token = gw
    resp = client.get(path, headers=auth(token))
    assert resp.status_code == status, resp.data
    if path.startswith("/open311"):
        assert resp.status_code == 200 or "description" in resp.get_data(as_text=True)


@pytest.mark.parametrize("area", [BIG, "²", "-1", "1e3"])
def test_a_bad_area_in_the_api_filter_is_400_and_in_ivr_urls_is_no_500(gw, area):
    _, client, token = gw
    resp = client.get(f"/api/reports?area={area}", headers=auth(token))
    assert resp.status_code == 400 and "area" in resp.get_json()["error"]
    for step in ("menu", "report", "record", "play", "pick"):
        ivr = twilio_post(client, f"/ivr/{step}?" + urlencode({"area": area, "tries": area}),
                          {"CallSid": "CA1", "From": PHONE, "Digits": "1"})
        assert ivr.status_code == 200, step


@pytest.mark.parametrize("timestamp", ["²", "1²", BIG, "-5", ""])
def test_an_unreadable_signature_timestamp_is_403(gw, timestamp):
    from gateway.sms.providers.android import signature

    _, client, _ = gw
    raw = json.dumps({"event": "sms:received", "payload": {"message": "x", "sender": PHONE}}).encode()
    signed_as = timestamp if timestamp.isascii() else "0"
    resp = client.post("/sms/android", data=raw, content_type="application/json", headers={
        "X-Timestamp": timestamp, "X-Signature": signature(SECRETS["SMS_ANDROID_SIGNING_KEY"], raw, signed_as)})
    assert resp.status_code == 403
    resp = client.post("/bots/webhook", data=b"{}", content_type="application/json", headers={
        "X-Loaxom-Timestamp": timestamp,
        "X-Loaxom-Signature": webhook_sign(SECRETS["GROUP_WEBHOOK_SECRET"], signed_as, b"{}")})
    assert resp.status_code == 403


WRONG_JSON = [b"[]", b'"text"', b"1", b"null", b"NaN", b'{"a": Infinity}', b"{", b"\xff", b"[" * 3000]


def _bot_post(client, path, raw):
    ts = str(int(time.time()))
    headers = {"/bots/telegram": {"X-Telegram-Bot-Api-Secret-Token": SECRETS["TELEGRAM_WEBHOOK_SECRET"]},
               "/bots/zalo": {"X-Bot-Api-Secret-Token": SECRETS["ZALO_WEBHOOK_SECRET"]},
               "/bots/webhook": {"X-Loaxom-Timestamp": ts,
                                 "X-Loaxom-Signature": webhook_sign(SECRETS["GROUP_WEBHOOK_SECRET"], ts, raw)}}[path]
    return client.post(path, data=raw, content_type="application/json", headers=headers)


@pytest.mark.parametrize("path", ["/bots/telegram", "/bots/zalo", "/bots/webhook"])
def test_bot_bodies_of_the_wrong_json_type_are_400_or_ignored(gw, path):
    _, client, _ = gw
    for raw in WRONG_JSON:
        resp = _bot_post(client, path, raw)
        assert resp.status_code == 400 and resp.get_json()["ok"] is False, raw
    for body in ({"message": []}, {"message": {"chat": "x", "text": 5, "from": [1]}}, {"result": "x"},
                 {"result": {"event_name": "message.text.received", "message": {"text": {"a": 1}}}},
                 {"chat_id": [], "text": None, "official": {}, "reply_to": 10**30}, {"message": {"text": "\ud800"}}):
        resp = _bot_post(client, path, json.dumps(body).encode())
        assert resp.status_code == 200 and resp.get_json()["relayed"] is False, body


def test_a_group_reply_with_a_lone_surrogate_is_relayed(gw):
    app, client, _ = gw
    report = rows(app, Report)[0]
    body = {"message": {"message_id": 5, "text": "Đã xử lý \ud800 xong", "chat": {"id": "kp1-group"},
                        "from": {"id": 42}, "reply_to_message": {"message_id": 77}}}
    resp = _bot_post(client, "/bots/telegram", json.dumps(body).encode())
    assert resp.status_code == 200 and resp.get_json()["relayed"] is True
    texts = [e.text for e in rows(app, ReportEvent, ReportEvent.report_id == report.id)]
    assert "Đã xử lý \ufffd xong" in texts


@pytest.mark.parametrize("raw", [b"[]", b'"sms:received"', b"3", b"NaN"])
def test_an_android_payload_that_is_not_an_object_is_400(gw, raw):
    from gateway.sms.providers.android import signature

    _, client, _ = gw
    ts = str(int(time.time()))
    resp = client.post("/sms/android", data=raw, content_type="application/json", headers={
        "X-Timestamp": ts, "X-Signature": signature(SECRETS["SMS_ANDROID_SIGNING_KEY"], raw, ts)})
    assert resp.status_code == 400 and resp.get_json()["ok"] is False


def test_an_android_event_with_a_payload_of_the_wrong_type_is_no_500(gw):
    _, client, _ = gw
    for payload in ([], "x", 5, None, {"messageId": [], "reason": {}}):
        for name in ("sms:received", "sms:delivered"):
            resp = android_post(client, {"event": name, "payload": payload}, key=SECRETS["SMS_ANDROID_SIGNING_KEY"])
            assert resp.status_code == 200, (name, payload)


@pytest.mark.parametrize("request_id", ["lx-" + "9" * 30 + "-abc", "lx-²-abc", "lx-", "lx-1", "lx--1-x"])
def test_an_esms_request_id_holding_anything_is_no_500(gw, request_id):
    _, client, _ = gw
    resp = client.get("/sms/esms/status", query_string={"token": SECRETS["ESMS_CALLBACK_TOKEN"], "SMSID": "x",
                                                        "RequestId": request_id, "SendStatus": "5"})
    assert resp.status_code == 200


# -- 9. Production hardening --------------------------------------------------------------

def test_healthz_shows_no_database_error_details(make_app, redis_url):
    down = make_app(DATABASE_URL="postgresql+psycopg://nobody:hunter2@127.0.0.1:1/none", REDIS_URL=redis_url)
    body = down.test_client().get("/healthz").get_json()
    assert body["checks"]["database"] == {"ok": False, "error": "OperationalError"}


@pytest.mark.parametrize("path", ["/", "/console/login", "/healthz", "/open311/v2/services.json", "/console/nope"])
def test_responses_carry_security_headers(client, path):
    headers = client.get(path).headers
    policy = headers["Content-Security-Policy"]
    assert "script-src 'self'" in policy and "unsafe-inline" not in policy.split("script-src")[1].split(";")[0]
    assert "frame-ancestors 'none'" in policy and "object-src 'none'" in policy
    assert headers["X-Content-Type-Options"] == "nosniff"
    assert headers["Referrer-Policy"] == "same-origin"
    assert "Strict-Transport-Security" not in headers  # development runs on plain HTTP


def test_production_adds_hsts(tmp_path, redis_url):
    from gateway import create_app

    app = create_app({"GATEWAY_ENV": "production", "SECRET_KEY": "s" * 32, "REDIS_URL": redis_url,
                      "DATABASE_URL": f"sqlite:///{tmp_path}/x.sqlite", "PUBLIC_BASE_URL": "https://gw.example.vn",
                      "TWILIO_AUTH_TOKEN": "t" * 32, "INSTANCE_PATH": str(tmp_path), "ALLOW_OUTBOX": "1"})
    resp = app.test_client().get("/", base_url="https://gw.example.vn")
    assert resp.headers["Strict-Transport-Security"].startswith("max-age=31536000")


def test_console_pages_keep_no_inline_script(app, client, demo):
    """The policy allows only our own script files: no page may rely on an inline script or handler."""
    import re

    client.post("/console/login", data={"login": "admin", "password": "demo1234"})
    for path in ("/console/", "/console/announcements/new", "/console/reports", "/console/residents",
                 "/console/simulator", "/console/downloads", "/console/login"):
        html = client.get(path, follow_redirects=True).get_data(as_text=True)
        for tag in re.findall(r"<script\b[^>]*>", html):
            assert "src=" in tag or 'type="application/json"' in tag, (path, tag)
        assert not re.search(r"\son[a-z]+\s*=", html), path
        assert "javascript:" not in html, path


def _login(client, password, addr, login="truongkp1", **kwargs):
    token = csrf(client)
    return client.post("/console/login", data={"login": login, "password": password, "csrf_token": token},
                       environ_base={"REMOTE_ADDR": addr}, **kwargs)


def test_a_stranger_cannot_lock_an_official_out(client, demo):
    for _ in range(6):
        assert _login(client, "guess", "203.0.113.9").status_code == 401
    locked = _login(client, "demo1234", "203.0.113.9")
    assert locked.status_code == 401  # the guessing address is locked, even with the right password
    assert _login(client, "demo1234", "198.51.100.7").status_code == 302  # the official elsewhere is not
    assert _login(client.application.test_client(), "demo1234", "203.0.113.9", login="tanloi").status_code == 302


def test_behind_a_trusted_proxy_the_lock_uses_the_forwarded_address(make_app, app, demo):
    proxied = make_app(DATABASE_URL=app.config["DATABASE_URL"], REDIS_URL=app.config["REDIS_URL"], TRUSTED_PROXIES="1")
    client = proxied.test_client()

    def login(password, forwarded):
        return _login(client, password, "10.0.0.2", login="tanloi", headers={"X-Forwarded-For": forwarded})

    for _ in range(5):
        login("guess", "203.0.113.9")
    assert login("demo1234", "203.0.113.9").status_code == 401
    assert login("demo1234", "198.51.100.7").status_code == 302


@pytest.mark.parametrize("lat, lon", [("NaN", "106.6"), ("10.7", "Infinity"), ("-inf", "1"), ("nan", "nan"),
                                      ("91", "106"), ("10", "181"), ("1e309", "1")])
def test_open311_refuses_coordinates_that_are_not_places(gw, lat, lon):
    app, client, token = gw
    resp = client.post("/open311/v2/requests.json", data={"api_key": token, "service_code": "other", "lat": lat,
                                                          "long": lon})
    assert resp.status_code == 400 and "numbers" in resp.get_json()[0]["description"]
    assert rows(app, Report, Report.channel == "open311") == []


def test_open311_takes_real_coordinates(gw):
    app, client, token = gw
    resp = client.post("/open311/v2/requests.json", data={"api_key": token, "service_code": "other",
                                                          "lat": "10.7769", "long": "106.7009"})
    assert resp.status_code == 201
    [report] = rows(app, Report, Report.channel == "open311")
    assert (report.lat, report.lon) == (10.7769, 106.7009)



@pytest.mark.parametrize("body", [
    b"[" * 5000, b'{"title": NaN}',
    json.dumps({"title": "Họp", "body": "Họp tổ", "areas": ["KP1"], "recording_id": 10**20}).encode(),
    json.dumps({"title": "Họp", "body": "Họp tổ", "areas": ["²"]}).encode(),
    json.dumps({"title": "Họp", "body": "Họp tổ", "areas": [10**20]}).encode(),
    json.dumps({"title": "Họp", "body": "Họp tổ", "areas": ["KP1"], "send_at": "0001-01-01T00:00:00+07:00"}).encode(),
])
def test_announcement_api_refuses_unstorable_input_with_400(gw, body):
    _, client, token = gw
    resp = client.post("/api/announcements", data=body, content_type="application/json", headers=auth(token))
    assert resp.status_code == 400 and resp.get_json()["error"]


@pytest.mark.parametrize("target, url, answer", [
    ("telegram", "https://api.telegram.org/bot123:abc/sendMessage", []),
    ("telegram", "https://api.telegram.org/bot123:abc/sendMessage", {"ok": True, "result": []}),
    ("telegram", "https://api.telegram.org/bot123:abc/sendMessage", {"ok": False, "error_code": "abc",
                                                                     "parameters": "x"}),
    ("zalo", "https://bot-api.zaloplatforms.com/bot999:zzz/sendMessage", "ok"),
    ("zalo", "https://bot-api.zaloplatforms.com/bot999:zzz/sendMessage", {"ok": True, "result": {"message_id": None}}),
    ("zalo_oa", "https://openapi.zalo.me/v3.0/oa/group/message", {"error": 0, "data": [1]}),
])
def test_group_platform_answers_of_the_wrong_shape_are_transport_errors(target, url, answer):
    import responses

    from gateway.mirror import get_target
    from gateway.transport import TransportError

    config = {"TELEGRAM_BOT_TOKEN": "123:abc", "TELEGRAM_WEBHOOK_SECRET": "s", "ZALO_BOT_TOKEN": "999:zzz",
              "ZALO_WEBHOOK_SECRET": "s", "ZALO_OA_ACCESS_TOKEN": "oa"}
    with responses.RequestsMock() as rsps:
        rsps.add(responses.POST, url, json=answer, status=200)
        with pytest.raises(TransportError):
            get_target(target, config).post("chat", "Phản ánh #1", reply_to="77")


def test_a_webhook_receiver_answering_a_list_still_counts_as_posted():
    import responses

    from gateway.mirror import get_target

    with responses.RequestsMock() as rsps:
        rsps.add(responses.POST, "https://hooks.example.org/kp1", json=[1, 2], status=200)
        assert get_target("webhook", {"GROUP_WEBHOOK_SECRET": "s"}).post("https://hooks.example.org/kp1", "x")


def test_two_long_message_ids_sharing_a_beginning_are_two_messages_and_a_repeat_is_one(gw):
    app, client, _ = gw
    first, second = "SM" + "x" * 120 + "1", "SM" + "x" * 120 + "2"
    for sid in (first, second, first):
        assert twilio_post(client, "/sms/inbound", inbound_params("TIN", sid=sid)).status_code == 200
    stored = rows(app, InboundMessage)
    assert len(stored) == 2 and all(len(m.provider_message_id) == 100 for m in stored)


def test_provider_errors_carry_no_full_phone_number():
    import responses

    from gateway.sms.providers import SMS_PROVIDERS
    from gateway.transport import TransportError

    provider = SMS_PROVIDERS.get("twilio")({"TWILIO_ACCOUNT_SID": "AC" + "0" * 32, "TWILIO_AUTH_TOKEN": "t",
                                            "TWILIO_FROM_NUMBER": "+15005550006"})
    answer = {"code": 21211, "message": "The 'To' number +84912345678 is not a valid phone number.", "status": 400}
    with responses.RequestsMock() as rsps:
        rsps.add(responses.POST, "https://api.twilio.com/2010-04-01/Accounts/AC" + "0" * 32 + "/Messages.json",
                 json=answer, status=400)
        with pytest.raises(TransportError) as caught:
            provider.send("+84912345678", "Họp tổ lúc 8h")
    assert "912345678" not in str(caught.value) and "678" in str(caught.value) and caught.value.permanent


def test_the_area_export_shares_the_safe_writers(app, db, demo):
    from openpyxl import load_workbook

    from gateway.areas.tables import export_csv, export_xlsx
    from gateway.models import Area

    db.scalar(select(Area).where(Area.code == "KP1")).name = "=1+1"
    db.commit()
    assert b",'=1+1," in export_csv(db) and b",=1+1" not in export_csv(db)
    cells = [c for row in load_workbook(io.BytesIO(export_xlsx(db))).active.iter_rows() for c in row]
    assert "'=1+1" in [c.value for c in cells] and all(c.data_type == "s" for c in cells if c.value is not None)
