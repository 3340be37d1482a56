"""Calls through Stringee (SCCO JSON, X-STRINGEE-SIGNATURE, the callout REST API with its JWT) and
through a Somleng (a Twilio-compatible REST API at a configured URL, here a loopback fake).

Stringee's request shapes follow ../shared/reference/voice_and_gateways.md §1; provider HTTP is
recorded with `responses`, the Somleng fake is a real HTTP server on 127.0.0.1."""
import base64
import datetime as dt
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, quote, urlencode, urlsplit

import jwt
import pytest
import requests
import responses
from sqlalchemy import select

from gateway.db import get_db
from gateway.ivr.dialects.stringee import CALLOUT
from gateway.models import Delivery, Report
from gateway.queue import drain
from tests.ivr_helpers import (  # noqa: F401  (fixtures)
    HOTLINE, KNOWN, STRINGEE_CONFIG, UNKNOWN, Call, build_hotline, hotline_template, local, shared_audio,
    stringee_post, stringee_signature, walk,
)
from tests.test_ivr_calls import (
    CALLBACK_NEWS_MENU, NEWS_MENU, callbacks, delivery_of, let_time_pass, outbox_calls, queue_announcement_call,
    scheduled, set_quiet,
)

OURS = STRINGEE_CONFIG["STRINGEE_NUMBER"]
ANN_CONFIRM = ["gather:1[play:ann:Tiêm phòng dại, play:confirm]"]


@pytest.fixture
def stringee_app(make_app, tmp_path, hotline_template, redis_url, shared_audio):
    app = build_hotline(make_app, redis_url, shared_audio, db_path=tmp_path / "g.sqlite", template=hotline_template,
                        filled=True, VOICE_PROVIDER="stringee")
    set_quiet(app, "00:00-00:00")
    return app


def stringee_get_uri(client, uri):
    """GET a Request-URI exactly as given, signed over it."""
    return client.get(uri, headers={"X-STRINGEE-SIGNATURE": stringee_signature(uri.encode())})


class Answered(Call):
    """A call we placed through Stringee, from the callee's side: its answer_url, then the SCCO's action URLs."""

    def __init__(self, app, call_id, caller=KNOWN):
        super().__init__(app, app.names, caller=caller, sid=call_id, dialect="stringee")

    def answer(self, answer_url):
        # [R] Stringee adds the call's fields to the answer_url's own query, as for a number's answer_url.
        extra = urlencode({"from": OURS, "to": self.caller.lstrip("+"), "uuid": self.sid, "fromInternal": "false"},
                          quote_via=quote)
        from tests.ivr_helpers import Turn

        self.last = Turn(stringee_get_uri(self.client, local(answer_url) + "&" + extra), self.names, "stringee")
        return self.last

    def event(self, status, **extra):
        """A call event POSTed to the project's event_url [V S3]."""
        body = {"call_status": status, "call_id": self.sid, "project_id": 1234, "timestamp_ms": 1764600000000,
                "from": {"type": "external", "number": OURS, "alias": OURS},
                "to": {"type": "external", "number": self.caller.lstrip("+"), "alias": self.caller.lstrip("+")},
                **extra}
        return stringee_post(self.client, "/ivr/stringee/event", body)


def callout_ok(call_id):
    responses.add(responses.POST, CALLOUT, status=200, json={"r": 0, "message": "Success", "call_id": call_id})


def placed(app, delivery_id):
    """(answer_url, JWT) of the callout the job sent for the last attempt."""
    sent = responses.calls[-1].request
    body = json.loads(sent.body)
    return body, sent.headers["X-STRINGEE-AUTH"]


# --- placing calls ----------------------------------------------------------------------------

@responses.activate
def test_stringee_places_the_call_with_the_rest_jwt(stringee_app):
    callout_ok("call-vn-1-AAA")
    delivery_id = queue_announcement_call(stringee_app)
    drain(stringee_app)
    body, token = placed(stringee_app, delivery_id)
    assert body["from"] == {"type": "external", "number": OURS, "alias": OURS}
    assert body["to"] == [{"type": "external", "number": KNOWN.lstrip("+"), "alias": KNOWN.lstrip("+")}]
    assert body["answer_url"] == f"https://gw.example.vn/ivr/stringee/answer?step=outbound&delivery={delivery_id}"
    claims = jwt.decode(token, STRINGEE_CONFIG["STRINGEE_API_KEY_SECRET"], algorithms=["HS256"])
    assert claims["iss"] == STRINGEE_CONFIG["STRINGEE_API_KEY_SID"] and claims["rest_api"] is True
    assert claims["jti"].startswith(STRINGEE_CONFIG["STRINGEE_API_KEY_SID"] + "-") and claims["exp"] > 0
    assert jwt.get_unverified_header(token) == {"typ": "JWT", "alg": "HS256", "cty": "stringee-api;v=1"}
    d = delivery_of(stringee_app, delivery_id)
    assert (d.status, d.attempts, d.provider, d.provider_id) == ("sending", 1, "stringee", "call-vn-1-AAA")
    assert outbox_calls(stringee_app) == []


@responses.activate
def test_a_callout_answered_without_a_call_id_learns_it_when_the_call_is_answered(stringee_app):
    """[R] whether the callout answer names the call: until the answer_url request does, the delivery
    holds a provisional id (never none: that would read as a worker that died placing it)."""
    from gateway import reconcile
    from gateway.ivr.calls import PROVISIONAL_ID

    responses.add(responses.POST, CALLOUT, status=200, json={"r": 0, "message": "Success"})
    delivery_id = queue_announcement_call(stringee_app)
    drain(stringee_app)
    d = delivery_of(stringee_app, delivery_id)
    assert d.status == "sending" and d.provider_id.startswith(PROVISIONAL_ID)
    with stringee_app.app_context():
        assert reconcile.calls_sending(get_db(), stringee_app.config, d.updated_at + dt.timedelta(minutes=5)) == 0
    body, _ = placed(stringee_app, delivery_id)
    call = Answered(stringee_app, "call-vn-1-LATE")
    assert call.answer(body["answer_url"]).tokens == ANN_CONFIRM
    assert delivery_of(stringee_app, delivery_id).provider_id == "call-vn-1-LATE"
    call.press("1")
    call.event("ended", answerDuration=20)
    assert delivery_of(stringee_app, delivery_id).status == "confirmed"


# (recorded answer, delivery status after the job, error code)
CALLOUT_ERRORS = [
    ((200, {"r": 2, "message": "Số điện thoại không hợp lệ"}), "failed", "r2"),
    ((401, {"r": 1, "message": "Unauthorized"}), "failed", "401"),
    ((503, {"message": "Service unavailable"}), "pending", None),
    ((429, {"message": "Too many requests"}), "pending", None),
    (requests.ConnectionError("connection reset"), "pending", None),
]


@pytest.mark.parametrize("answer, status, code", CALLOUT_ERRORS, ids=["r2", "401", "503", "429", "connection"])
@responses.activate
def test_stringee_callout_errors_fail_permanently_or_retry(stringee_app, answer, status, code):
    if isinstance(answer, tuple):
        responses.add(responses.POST, CALLOUT, status=answer[0], json=answer[1])
    else:
        responses.add(responses.POST, CALLOUT, body=answer)
    callout_ok("call-vn-1-RETRY")
    delivery_id = queue_announcement_call(stringee_app)
    drain(stringee_app)
    d = delivery_of(stringee_app, delivery_id)
    assert (d.status, d.error_code) == (status, code)
    drain(stringee_app, scheduled=True)  # RQ's retry of a transient error
    d = delivery_of(stringee_app, delivery_id)
    if code:
        assert len(responses.calls) == 1 and d.status == "failed"
    else:
        assert len(responses.calls) == 2 and (d.status, d.provider_id) == ("sending", "call-vn-1-RETRY")


# --- what the callee hears, and the call events ---------------------------------------------

OUTBOUND_WALKS = [
    ("presses 1", [("press", "1", ["play:confirm_thanks", "hangup"])], "confirmed"),
    ("2 replays, then 1", [("press", "2", ANN_CONFIRM), ("press", "1", ["play:confirm_thanks", "hangup"])],
     "confirmed"),
    ("silence twice", [("silence", None, ["gather:1[play:menu_again, play:confirm]"]),
                       ("silence", None, ["play:goodbye", "hangup"])], "answered"),
    ("a wrong key, then 1", [("press", "9", ["gather:1[play:wrong_key, play:confirm]"]),
                             ("press", "1", ["play:confirm_thanks", "hangup"])], "confirmed"),
]


@pytest.mark.parametrize("name, steps, final", OUTBOUND_WALKS, ids=[w[0] for w in OUTBOUND_WALKS])
@responses.activate
def test_stringee_outbound_call_walks(stringee_app, name, steps, final):
    callout_ok("call-vn-1-WALK")
    delivery_id = queue_announcement_call(stringee_app)
    drain(stringee_app)
    body, _ = placed(stringee_app, delivery_id)
    call = Answered(stringee_app, "call-vn-1-WALK")
    assert call.event("ringing").status_code == 200
    assert call.answer(body["answer_url"]).tokens == ANN_CONFIRM
    walk(call, steps)
    call.event("ended", endCallCause="NORMAL_CLEARING", endedBy="callee", duration=41, answerDuration=35)
    d = delivery_of(stringee_app, delivery_id)
    assert d.status == final and d.delivered_at is not None
    assert (d.confirmed_at is not None) == (final == "confirmed")


# (call events: status and extra fields, final delivery status)
EVENT_SEQUENCES = [
    ([("created", {}), ("ringing", {}), ("answered", {}), ("ended", {"answerDuration": 30})], "answered"),
    ([("ringing", {}), ("ended", {"answerDuration": 0, "endCallCause": "NO_ANSWER"})], "no_answer"),
    ([("ringing", {}), ("ended", {"answerDuration": 0, "endCallCause": "USER_BUSY"})], "busy"),
    ([("answered", {}), ("ringing", {}), ("ended", {"answerDuration": 0})], "answered"),
    ([("started", {}), ("mystery", {})], "sending"),
]


@pytest.mark.parametrize("events, final", EVENT_SEQUENCES, ids=["answered", "no-answer", "busy", "never-back",
                                                                 "unknown"])
@responses.activate
def test_stringee_events_move_deliveries_forwards_only(stringee_app, events, final):
    callout_ok("call-vn-1-EVT")
    delivery_id = queue_announcement_call(stringee_app)
    drain(stringee_app)
    call = Answered(stringee_app, "call-vn-1-EVT")
    for status, extra in events:
        assert call.event(status, **extra).status_code == 200
    assert delivery_of(stringee_app, delivery_id).status == final


@responses.activate
def test_stringee_retries_unanswered_calls_then_stops(stringee_app):
    for i in range(3):
        callout_ok(f"call-vn-1-TRY{i}")
    delivery_id = queue_announcement_call(stringee_app)
    drain(stringee_app)
    for attempt in range(1, 4):
        d = delivery_of(stringee_app, delivery_id)
        assert (d.attempts, d.status, d.provider_id) == (attempt, "sending", f"call-vn-1-TRY{attempt - 1}")
        call = Answered(stringee_app, d.provider_id)
        call.event("ended", answerDuration=0, endCallCause="NO_ANSWER")
        call.event("ended", answerDuration=0, endCallCause="NO_ANSWER")  # a repeated event: still one retry
        if attempt < 3:
            assert len(scheduled(stringee_app, delivery_id)) == 1
            let_time_pass(stringee_app, delivery_id)
            drain(stringee_app, scheduled=True)
    assert scheduled(stringee_app, delivery_id) == [] and len(responses.calls) == 3
    assert delivery_of(stringee_app, delivery_id).status == "no_answer"


@responses.activate
def test_stringee_missed_call_gets_a_callback_with_the_news(stringee_app):
    resident = Answered(stringee_app, "call-vn-1-MISSED")
    missed = {"call_status": "ended", "call_id": "call-vn-1-MISSED", "answerDuration": 0, "endCallCause": "CANCEL",
              "from": {"type": "external", "number": KNOWN.lstrip("+"), "alias": ""},
              "to": {"type": "external", "number": OURS, "alias": OURS}}
    assert stringee_post(resident.client, "/ivr/stringee/event", missed).status_code == 200
    again = {**missed, "call_id": "call-vn-1-AGAIN"}
    assert stringee_post(resident.client, "/ivr/stringee/event", again).status_code == 200
    [cb] = callbacks(stringee_app)
    assert (cb.phone, cb.body) == (KNOWN, "callback:normal")
    callout_ok("call-vn-1-CB")
    drain(stringee_app)
    body, _ = placed(stringee_app, cb.id)
    assert body["to"][0]["number"] == KNOWN.lstrip("+")
    call = Answered(stringee_app, "call-vn-1-CB")
    walk(call, [("answer", body["answer_url"], CALLBACK_NEWS_MENU), ("press", "1", NEWS_MENU)])
    assert delivery_of(stringee_app, cb.id).status == "answered"


def test_stringee_callback_mode_ends_the_call_and_calls_back(make_app, tmp_path, hotline_template, redis_url,
                                                             shared_audio):
    app = build_hotline(make_app, redis_url, shared_audio, db_path=tmp_path / "g.sqlite", template=hotline_template,
                        filled=True, VOICE_PROVIDER="stringee", HOTLINE_MODE="callback")
    turn = Call(app, app.names, dialect="stringee").inbound()
    assert turn.actions == [] and turn.tokens == ["hangup"]
    assert [cb.phone for cb in callbacks(app)] == [KNOWN]


# --- signatures and bad input --------------------------------------------------------------

def rows_left(app):
    """The reports and deliveries (calls, SMS) a webhook could have made."""
    from sqlalchemy import func

    with app.app_context():
        db = get_db()
        return tuple(db.scalar(select(func.count()).select_from(m)) for m in (Report, Delivery))


def test_stringee_signature_is_checked_on_every_request(stringee_app):
    client = stringee_app.test_client()
    uri = "/ivr/stringee/answer?" + urlencode({"from": KNOWN.lstrip("+"), "to": OURS, "uuid": "call-vn-1-SIG",
                                               "fromInternal": "false"}, quote_via=quote)
    assert client.get(uri).status_code == 403
    assert client.get(uri, headers={"X-STRINGEE-SIGNATURE": "bm90IGEgc2lnbmF0dXJl"}).status_code == 403
    other_uri = {"X-STRINGEE-SIGNATURE": stringee_signature(uri.encode())}
    assert client.get(uri + "&area=1", headers=other_uri).status_code == 403
    assert stringee_get_uri(client, uri).status_code == 200
    body = json.dumps({"dtmf": "1", "call_id": "call-vn-1-SIG", "timeout": False}).encode()
    for path in ["/ivr/stringee/menu?area=1&tries=0", "/ivr/stringee/pick?commune=1", "/ivr/stringee/report?area=1",
                 "/ivr/stringee/record?area=1&category=other", "/ivr/stringee/review?area=1&url=x",
                 "/ivr/stringee/dialed?area=1", "/ivr/stringee/confirm?delivery=1", "/ivr/stringee/play?area=1",
                 "/ivr/stringee/event"]:
        before = rows_left(stringee_app)
        assert client.post(path, data=body, content_type="application/json").status_code == 403, path
        bad = {"X-STRINGEE-SIGNATURE": stringee_signature(body + b" ")}
        assert client.post(path, data=body, content_type="application/json", headers=bad).status_code == 403, path
        assert rows_left(stringee_app) == before, path  # refused before anything was filed or placed
        good = {"X-STRINGEE-SIGNATURE": stringee_signature(body)}
        assert client.post(path, data=body, content_type="application/json", headers=good).status_code == 200, path
    # Signed nonsense is answered, never a 500; an unknown step is a 404.
    junk = b"not json at all"
    assert client.post("/ivr/stringee/menu?area=zz", data=junk,
                       headers={"X-STRINGEE-SIGNATURE": stringee_signature(junk)}).status_code == 200
    assert client.post("/ivr/stringee/nothing", data=junk,
                       headers={"X-STRINGEE-SIGNATURE": stringee_signature(junk)}).status_code == 404
    # Twilio's signature does not open Stringee's door, nor the other way round.
    assert client.post("/ivr/menu?area=1", data={"Digits": "1"},
                       headers={"X-STRINGEE-SIGNATURE": stringee_signature(b"Digits=1")}).status_code == 403


def test_the_callers_number_is_sealed_in_stringees_urls(stringee_app):
    """Only the answer_url names the caller; the next steps carry it sealed, never in clear."""
    call = Call(stringee_app, stringee_app.names, caller=UNKNOWN, dialect="stringee")
    turn = call.inbound()
    url = turn.next_url("Gather")
    assert UNKNOWN.lstrip("+") not in url and UNKNOWN[-9:] not in url and "who=" in url
    walk(call, [("press", "5", NEWS_MENU), ("press", "2", ["gather:1[play:category_menu]"]),
                ("press", "2", ["play:record_instructions", "record"]),
                ("recorded", None, ["gather:1[play:record_review]"])])
    # Stringee signs the body, not the URL: a changed seal or state is not a URL we gave, so no
    # caller and no area, only goodbye; nothing is filed.
    review_url = call.last.next_url("Gather")
    for forged in (review_url.replace("who=", "who=A"), review_url.replace("category=environment", "category=health"),
                   review_url.split("&sig=")[0]):
        assert forged != review_url
        assert call.post(local(forged), dtmf="1", timeout=False).tokens == ["play:goodbye", "hangup"]
    with stringee_app.app_context():
        assert list(get_db().scalars(select(Report))) == []
    call.post(local(review_url), dtmf="1", timeout=False)
    with stringee_app.app_context():
        [report] = get_db().scalars(select(Report))
        assert report.phone == UNKNOWN and report.category == "environment"
        assert report.recording_url.startswith("https://api.stringee.com/")


@responses.activate
def test_stringee_voice_report_is_fetched_with_the_rest_jwt(stringee_app):
    import os

    from gateway.ivr.recordings import process_voice_report

    sample = os.path.join(os.path.dirname(os.path.dirname(__file__)), "gateway", "console", "static",
                          "sample-report.ogg")
    with open(sample, "rb") as f:
        audio = f.read()
    call = Call(stringee_app, stringee_app.names, dialect="stringee")
    walk(call, [("inbound", None, ["gather:1[play:greeting, play:news_intro, play:ann:Tiêm phòng dại, play:menu]"]),
                ("press", "2", ["gather:1[play:category_menu]"]),
                ("press", "2", ["play:record_instructions", "record"]),
                ("recorded", None, ["gather:1[play:record_review]"])])
    call.press("1")
    with stringee_app.app_context():
        [report] = get_db().scalars(select(Report))
    responses.add(responses.GET, report.recording_url, body=audio, content_type="audio/ogg")
    with stringee_app.app_context():
        assert process_voice_report(report.id) == "mirrored"
        report = get_db().get(Report, report.id)
        assert report.recording is not None and report.recording.kind == "recording"
        assert (report.category, report.phone) == ("environment", KNOWN)
    token = responses.calls[0].request.headers["X-STRINGEE-AUTH"]
    assert jwt.decode(token, STRINGEE_CONFIG["STRINGEE_API_KEY_SECRET"], algorithms=["HS256"])["rest_api"] is True


def test_production_refuses_stringee_without_its_settings(make_app):
    from gateway.config import ConfigError

    with pytest.raises(ConfigError) as refused:
        make_app(GATEWAY_ENV="production", DATABASE_URL="sqlite:////tmp/x.sqlite", REDIS_URL="redis://127.0.0.1:6379/0",
                 VOICE_PROVIDER="stringee", STRINGEE_API_KEY_SID="SK1", ALLOW_OUTBOX="1")
    message = str(refused.value)
    assert all(name in message for name in ("STRINGEE_API_KEY_SECRET", "STRINGEE_SIGNING_SECRET", "STRINGEE_NUMBER"))
    assert "STRINGEE_API_KEY_SID" not in message


# --- Somleng: the Twilio provider at a configured API ----------------------------------------

class FakeSomleng(BaseHTTPRequestHandler):
    """Twilio's Calls resource as a Somleng serves it: POST …/Accounts/<sid>/Calls.json → 201."""

    received = []
    recording = b""

    def do_GET(self):  # noqa: N802 — a recording, as Somleng serves it (by extension, with the account's auth)
        FakeSomleng.received.append((self.path, self.headers.get("Authorization"), {}))
        ok = self.path.endswith(".mp3") and self.headers.get("Authorization")
        body = FakeSomleng.recording if ok else b"not found"
        self.send_response(200 if ok else 404)
        self.send_header("Content-Type", "audio/mpeg" if ok else "text/plain")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_POST(self):  # noqa: N802 (http.server's name)
        length = int(self.headers.get("Content-Length") or 0)
        form = parse_qs(self.rfile.read(length).decode())
        FakeSomleng.received.append((self.path, self.headers.get("Authorization"), form))
        sid = "CA" + "5" * 32
        account = self.path.split("/")[3]
        body = json.dumps({"sid": sid, "account_sid": account, "status": "queued", "to": form["To"][0],
                           "from": form["From"][0], "direction": "outbound-api",
                           "uri": f"/2010-04-01/Accounts/{account}/Calls/{sid}.json"}).encode()
        self.send_response(201)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


@pytest.fixture
def somleng():
    FakeSomleng.received = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), FakeSomleng)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_somleng_places_calls_and_gets_the_same_twiml(make_app, tmp_path, hotline_template, redis_url, shared_audio,
                                                      somleng):
    account = "AC" + "7" * 32
    app = build_hotline(make_app, redis_url, shared_audio, db_path=tmp_path / "g.sqlite", template=hotline_template,
                        filled=True, VOICE_PROVIDER="twilio", TWILIO_API_BASE_URL=somleng,
                        TWILIO_ACCOUNT_SID=account, TWILIO_FROM_NUMBER=HOTLINE)
    set_quiet(app, "00:00-00:00")
    delivery_id = queue_announcement_call(app)
    drain(app)
    [(path, auth, form)] = FakeSomleng.received
    assert path == f"/2010-04-01/Accounts/{account}/Calls.json"
    from tests.conftest import TWILIO_TOKEN

    assert auth == "Basic " + base64.b64encode(f"{account}:{TWILIO_TOKEN}".encode()).decode()
    assert form["To"] == [KNOWN] and form["From"] == [HOTLINE]
    assert form["Url"] == [f"https://gw.example.vn/ivr/outbound?delivery={delivery_id}"]
    assert form["StatusCallback"] == [f"https://gw.example.vn/ivr/status?delivery={delivery_id}"]
    d = delivery_of(app, delivery_id)
    assert (d.status, d.provider, d.provider_id) == ("sending", "twilio", "CA" + "5" * 32)
    # Somleng's switch fetches the same webhooks, signed the same way.
    from tests.test_ivr_calls import Outbound

    call = Outbound(app, delivery_id, sid=d.provider_id)
    walk(call, [("answer", "", ANN_CONFIRM), ("press", "1", ["play:confirm_thanks", "hangup"])])
    assert delivery_of(app, delivery_id).status == "confirmed"


def test_somleng_unreachable_is_retried(make_app, tmp_path, hotline_template, redis_url, shared_audio, somleng):
    closed = somleng.rsplit(":", 1)[0] + ":1"  # nothing listens on port 1
    app = build_hotline(make_app, redis_url, shared_audio, db_path=tmp_path / "g.sqlite", template=hotline_template,
                        filled=True, VOICE_PROVIDER="twilio", TWILIO_API_BASE_URL=closed, TWILIO_FROM_NUMBER=HOTLINE)
    set_quiet(app, "00:00-00:00")
    delivery_id = queue_announcement_call(app)
    drain(app)
    d = delivery_of(app, delivery_id)
    assert (d.status, d.attempts) == ("pending", 0)  # released for RQ's retry
    with app.app_context():
        assert get_db().scalar(select(Delivery.last_error).where(Delivery.id == delivery_id)) is None
    assert urlsplit(closed).hostname == "127.0.0.1"


def test_a_voice_report_on_somleng_is_fetched_from_it(make_app, tmp_path, hotline_template, redis_url, shared_audio,
                                                       somleng):
    """A commune's Somleng on its own network (plain http, the configured host) serves the recording."""
    import os

    from gateway.ivr.recordings import process_voice_report

    with open(os.path.join(os.path.dirname(os.path.dirname(__file__)), "gateway", "console", "static",
                           "sample-report.ogg"), "rb") as f:
        FakeSomleng.recording = f.read()
    account = "AC" + "7" * 32
    app = build_hotline(make_app, redis_url, shared_audio, db_path=tmp_path / "g.sqlite", template=hotline_template,
                        filled=True, VOICE_PROVIDER="twilio", TWILIO_API_BASE_URL=somleng, TWILIO_ACCOUNT_SID=account)
    call = Call(app, app.names)
    call.inbound()
    call.press("2")
    call.press("1")
    url = f"{somleng}/2010-04-01/Accounts/{account}/Recordings/RE{'8' * 32}"
    call.post(local(call.last.next_url("Record")), RecordingUrl=url, RecordingSid="RE" + "8" * 32,
              RecordingDuration="5", Digits="#")
    call.press("1")
    with app.app_context():
        [report] = get_db().scalars(select(Report))
        assert process_voice_report(report.id) == "mirrored"
        report = get_db().get(Report, report.id)
        assert report.recording is not None and report.recording.original_name.startswith("phan-anh-")
    [(path, auth, _)] = FakeSomleng.received
    assert path.endswith(f"/Recordings/RE{'8' * 32}.mp3")
    from tests.conftest import TWILIO_TOKEN

    assert auth == "Basic " + base64.b64encode(f"{account}:{TWILIO_TOKEN}".encode()).decode()
    with app.app_context():  # an http URL elsewhere is still refused
        from gateway.ivr.recordings import fetch
        from gateway.transport import TransportError

        with pytest.raises(TransportError, match="https"):
            fetch("http://elsewhere.example/r.mp3", app.config)
