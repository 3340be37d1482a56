"""The phone simulator: the TwiML interpreter over TwiML samples, and the signed webhooks the
console sends for it (checked by the real @twilio_signed and the twilio library)."""
import json
import os

import pytest
from flask import request
from sqlalchemy import select

from gateway.console.simulator import Call, TwiMLError, messages, parse
from gateway.models import OutboxMessage
from gateway.twilio_auth import twilio_signed
from tests.console_helpers import login, post_json

BASE = "https://gw.example.vn"
SAMPLE = os.path.join(os.path.dirname(os.path.dirname(__file__)), "gateway", "console", "static", "sample-report.ogg")


class Gateway:
    """A fake `fetch`: TwiML answers by URL, and every request it was asked for."""

    def __init__(self, documents):
        self.documents = documents
        self.requests = []

    def __call__(self, url, method, params):
        self.requests.append((url, method, dict(params)))
        answer = self.documents[url]
        return answer(params) if callable(answer) else answer


def call(entry="/ivr/inbound"):
    return Call(sid="CA" + "1" * 32, caller="+84912345678", called="+842633822123", entry_url=BASE + entry,
                status_url=BASE + "/ivr/status", account_sid="AC" + "0" * 32)


def twiml(body):
    return f'<?xml version="1.0" encoding="UTF-8"?><Response>{body}</Response>'


def test_parse_reads_verbs_attributes_and_nesting():
    verbs = parse(twiml('<Gather numDigits="1" action="/ivr/menu"><Say language="vi-VN">Bấm 1</Say>'
                        '<Play>/audio/x.wav</Play></Gather><Hangup/>'))
    assert [v.name for v in verbs] == ["Gather", "Hangup"]
    assert verbs[0].attrs == {"numDigits": "1", "action": "/ivr/menu"}
    assert [(c.name, c.text) for c in verbs[0].children] == [("Say", "Bấm 1"), ("Play", "/audio/x.wav")]


@pytest.mark.parametrize("document, error", [
    ("", "empty"), ("<Response>", "not XML"), ("<html><body>oops</body></html>", "must be a <Response>"),
])
def test_parse_refuses_what_a_call_cannot_follow(document, error):
    with pytest.raises(TwiMLError, match=error):
        parse(document)


def test_entry_says_plays_and_waits_for_keys():
    gw = Gateway({BASE + "/ivr/inbound": twiml(
        '<Say language="vi-VN" voice="Google.vi-VN-Standard-A">Xin chào</Say><Play loop="2">/audio/a.wav</Play>'
        '<Gather numDigits="1" action="/ivr/menu" timeout="7"><Say>Bấm 1 để nghe lại</Say></Gather>')})
    c = call()
    events = c.start(gw)
    (url, method, params), = gw.requests
    assert (url, method, params["CallStatus"], params["From"], params["To"], params["Direction"]) == \
        (BASE + "/ivr/inbound", "POST", "ringing", "+84912345678", "+842633822123", "inbound")
    assert [e["type"] for e in events] == ["fetch", "say", "play", "say", "gather"]
    assert events[2] == {"type": "play", "url": BASE + "/audio/a.wav", "loop": 2}  # relative URL resolved
    assert events[-1] == {"type": "gather", "numDigits": "1", "finishOnKey": "#", "timeout": 7}
    assert c.waiting["verb"] == "Gather" and not c.ended


def test_keys_go_to_the_gather_action():
    gw = Gateway({BASE + "/ivr/inbound": twiml('<Gather numDigits="1" action="/ivr/menu"/>'),
                  BASE + "/ivr/menu": lambda p: twiml(f"<Say>Bạn bấm {p['Digits']}</Say><Hangup/>")})
    c = call()
    c.start(gw)
    events = c.press(gw, "3")
    assert gw.requests[-1][2]["Digits"] == "3" and gw.requests[-1][2]["CallStatus"] == "in-progress"
    assert [e.get("text") for e in events if e["type"] == "say"] == ["Bạn bấm 3"]
    assert events[-1] == {"type": "hangup"} and c.ended


def test_gather_without_action_posts_to_the_current_document():
    gw = Gateway({BASE + "/ivr/inbound": lambda p: twiml("<Say>ok</Say>") if "Digits" in p
                  else twiml("<Gather/>")})
    c = call()
    c.start(gw)
    c.press(gw, "12", finished_on_key="#")
    assert gw.requests[-1][0] == BASE + "/ivr/inbound"
    assert (gw.requests[-1][2]["Digits"], gw.requests[-1][2]["FinishedOnKey"]) == ("12", "#")


def test_gather_timeout_falls_through_to_the_next_verb():
    gw = Gateway({BASE + "/ivr/inbound": twiml('<Gather action="/ivr/menu"/><Say>Tạm biệt</Say>')})
    c = call()
    c.start(gw)
    events = c.press(gw, "")
    assert len(gw.requests) == 1  # no action request
    assert [e["type"] for e in events] == ["say", "end"] and c.ended


def test_action_on_empty_result_posts_anyway():
    gw = Gateway({BASE + "/ivr/inbound": twiml('<Gather action="/ivr/menu" actionOnEmptyResult="true"/>'),
                  BASE + "/ivr/menu": twiml("<Hangup/>")})
    c = call()
    c.start(gw)
    c.press(gw, "")
    assert gw.requests[-1][0] == BASE + "/ivr/menu" and gw.requests[-1][2]["Digits"] == ""


def test_record_posts_the_action_and_the_status_callback():
    gw = Gateway({
        BASE + "/ivr/inbound": twiml('<Say>Nói sau tiếng bíp</Say><Record maxLength="120" action="/ivr/recorded" '
                                     'recordingStatusCallback="/ivr/recording-status"/>'),
        BASE + "/ivr/recorded": twiml("<Say>Cảm ơn</Say><Hangup/>"),
        BASE + "/ivr/recording-status": "",
    })
    c = call()
    events = c.start(gw)
    assert events[-1] == {"type": "record", "maxLength": 120, "beep": True, "finishOnKey": "1234567890*#"}
    events = c.recorded(gw, url=BASE + "/audio/r.mp3", sid="RE" + "2" * 32, duration=7)
    (action_url, _, action), (callback_url, _, callback) = gw.requests[1:]
    assert action_url == BASE + "/ivr/recorded" and callback_url == BASE + "/ivr/recording-status"
    assert (action["RecordingUrl"], action["RecordingSid"], action["RecordingDuration"], action["Digits"]) == \
        (BASE + "/audio/r.mp3", "RE" + "2" * 32, "7", "#")
    assert (callback["RecordingStatus"], callback["RecordingSource"], callback["RecordingUrl"]) == \
        ("completed", "RecordVerb", BASE + "/audio/r.mp3")
    assert [e.get("text") for e in events if e["type"] == "say"] == ["Cảm ơn"] and c.ended


def test_empty_recording_requests_no_action():
    gw = Gateway({BASE + "/ivr/inbound": twiml('<Record action="/ivr/recorded"/><Say>Không nghe thấy gì</Say>')})
    c = call()
    c.start(gw)
    events = c.recorded(gw, url="x", sid="RE1", duration=0)
    assert len(gw.requests) == 1 and events[0]["text"] == "Không nghe thấy gì"


def test_redirect_and_dial():
    gw = Gateway({
        BASE + "/ivr/inbound": twiml("<Redirect>/ivr/duty</Redirect><Say>never</Say>"),
        BASE + "/ivr/duty": twiml('<Dial action="/ivr/dial-done"><Number>+84912000111</Number></Dial>'),
        BASE + "/ivr/dial-done": lambda p: twiml(f"<Say>{p['DialCallStatus']}</Say>"),
    })
    events = call().start(gw)
    assert [e["type"] for e in events] == ["fetch", "fetch", "dial", "fetch", "say", "end"]
    assert events[2]["number"] == "+84912000111" and events[4]["text"] == "no-answer"


@pytest.mark.parametrize("verb", ["<Hangup/>", "<Reject/>"])
def test_hangup_and_reject_end_the_call(verb):
    gw = Gateway({BASE + "/ivr/inbound": twiml(verb + "<Say>never</Say>")})
    c = call()
    events = c.start(gw)
    assert c.ended and events[-1]["type"] == verb.strip("</>").lower()
    with pytest.raises(TwiMLError, match="ended"):
        c.press(gw, "1")


def test_a_redirect_loop_is_stopped():
    gw = Gateway({BASE + "/ivr/inbound": twiml("<Redirect>/ivr/inbound</Redirect>")})
    with pytest.raises(TwiMLError, match="loop"):
        call().start(gw)


def test_pressing_keys_when_not_asked_is_an_error():
    gw = Gateway({BASE + "/ivr/inbound": twiml("<Record/>")})
    c = call()
    c.start(gw)
    with pytest.raises(TwiMLError, match="not waiting for <Gather>"):
        c.press(gw, "1")


def test_caller_hangs_up_and_the_status_callback_hears_it():
    gw = Gateway({BASE + "/ivr/inbound": twiml("<Gather/>"), BASE + "/ivr/status": ""})
    c = call()
    c.start(gw)
    c.hangup(gw, duration=12)
    assert gw.requests[-1][0] == BASE + "/ivr/status"
    assert (gw.requests[-1][2]["CallStatus"], gw.requests[-1][2]["CallDuration"]) == ("completed", "12")
    assert c.ended


def test_call_survives_serialization():
    gw = Gateway({BASE + "/ivr/inbound": twiml('<Gather numDigits="1"/><Say>after</Say>')})
    c = call()
    c.start(gw)
    again = Call.from_dict(json.loads(json.dumps(c.to_dict())))
    assert again == c and again.pending[0].text == "after"


def test_sms_replies_are_read_from_message_verbs():
    assert messages(twiml("<Message>Da nhan phan anh #3</Message><Message><Body>Hai</Body></Message>")) == \
        ["Da nhan phan anh #3", "Hai"]
    assert messages("") == [] and messages(twiml("")) == []


# The console's signed webhooks --------------------------------------------------------------

@pytest.fixture
def echo(app):
    """A signed test webhook that answers TwiML and remembers what it got."""
    got = []

    @twilio_signed
    def webhook():
        got.append(request.form.to_dict(flat=False))
        return twiml(f"<Message>echo {request.form.get('Body', '')}</Message>"), 200, {"Content-Type": "text/xml"}

    app.add_url_rule("/test/echo", "test_echo", webhook, methods=["POST"])
    return got


def test_dispatch_signs_what_twilio_signed_accepts(app, echo):
    from gateway.console.phone import WebhookError, dispatch

    with app.test_request_context("/console/simulator"):
        body = dispatch(BASE + "/test/echo", "POST", {"Body": "Xin chào", "Empty": ""})
        assert messages(body) == ["echo Xin chào"]
        assert echo == [{"Body": ["Xin chào"], "Empty": [""]}]
        # Never sent anywhere: handed to this app, whose signature check expects its public URL.
        with pytest.raises(WebhookError, match="answered 403"):
            dispatch("https://elsewhere.example/test/echo", "POST", {})
        with pytest.raises(WebhookError, match="not a webhook URL"):
            dispatch("/test/echo", "POST", {})
        with pytest.raises(WebhookError, match="404"):
            dispatch(BASE + "/test/nothing-here", "POST", {})
    app.config["TWILIO_AUTH_TOKEN"] = "another-token"
    with app.test_request_context("/console/simulator"):
        body = dispatch(BASE + "/test/echo", "POST", {"Body": "x"})  # signs with whatever the app checks
    assert messages(body) == ["echo x"]


def test_dispatch_without_public_base_url_uses_the_request_host(make_app, tmp_path, sqlite_template, redis_url):
    import shutil

    db_path = tmp_path / "nobase.sqlite"
    shutil.copy(sqlite_template, db_path)
    app = make_app(DATABASE_URL=f"sqlite:///{db_path}", REDIS_URL=redis_url, PUBLIC_BASE_URL="")

    @twilio_signed
    def webhook():
        return twiml("<Message>ok</Message>")

    app.add_url_rule("/test/echo", "test_echo", webhook, methods=["POST"])
    from gateway.console.phone import dispatch

    with app.test_request_context("/console/simulator", base_url="http://127.0.0.1:5000"):
        assert messages(dispatch("http://127.0.0.1:5000/test/echo", "POST", {"Body": "x"})) == ["ok"]


def test_simulator_is_off_in_production_unless_enabled(make_app, tmp_path, sqlite_template, redis_url):
    import shutil

    from gateway.console.base import simulator_enabled

    assert simulator_enabled({"GATEWAY_ENV": "development"})
    assert not simulator_enabled({"GATEWAY_ENV": "production"})
    assert simulator_enabled({"GATEWAY_ENV": "production", "SIMULATOR_ENABLED": "1"})
    assert not simulator_enabled({"GATEWAY_ENV": "development", "SIMULATOR_ENABLED": "0"})
    db_path = tmp_path / "prod.sqlite"
    shutil.copy(sqlite_template, db_path)
    app = make_app(GATEWAY_ENV="production", ALLOW_OUTBOX="1", DATABASE_URL=f"sqlite:///{db_path}", REDIS_URL=redis_url)
    with app.app_context():
        from gateway.db import get_db
        from gateway.demo import load_demo

        load_demo(get_db(), households=5)
    client = app.test_client()
    assert client.get("/console/simulator", base_url=BASE).status_code == 404
    assert client.get("/console/simulator/messages?phone=0912345678", base_url=BASE).status_code == 404


def test_outbox_messages_appear_on_the_phone_and_are_reported_delivered(app, client, db, demo, echo):
    db.add_all([
        OutboxMessage(channel="sms", recipient="+84912345678", body="Thong bao: hop dan 19h",
                      status_callback=BASE + "/test/echo"),
        OutboxMessage(channel="sms", recipient="+84987654321", body="not mine"),
    ])
    db.commit()
    token = login(client)
    first = client.get("/console/simulator/messages?phone=0912345678").get_json()
    assert [m["body"] for m in first["messages"]] == ["Thong bao: hop dan 19h"]
    assert echo[0]["MessageStatus"] == ["delivered"] and echo[0]["MessageSid"] == [f"outbox-{first['messages'][0]['id']}"]
    again = client.get(f"/console/simulator/messages?phone=0912345678&after={first['messages'][0]['id']}").get_json()
    assert again["messages"] == [] and len(echo) == 1  # reported once
    client.get("/console/simulator/messages?phone=0912345678")
    assert len(echo) == 1
    bad = client.get("/console/simulator/messages?phone=abc")
    assert bad.status_code == 400 and "không phải chữ số" in bad.get_json()["error"]
    assert post_json(client, "/console/simulator/sms", token, {"phone": "0912345678", "body": ""}).status_code == 400


def test_a_recording_the_simulator_stored_is_used_without_fetching(app, db, demo):
    """The simulator's RecordingUrl names our own file: the voice report takes it from storage."""
    from gateway.media.assets import store_upload
    from gateway.models import Area, Report
    from gateway.ivr.recordings import process_voice_report
    from gateway.reports.records import open_report

    with open(SAMPLE, "rb") as f, app.test_request_context():
        asset = store_upload(db, "micro.ogg", f.read(), kind="recording")
    area = db.scalar(select(Area).where(Area.code == "KP1"))
    report = open_report(db, commune=area.commune(), channel="voice", area=area, phone="+84912345678")
    report.recording_url = f"http://127.0.0.1:5000/audio/{asset.content_hash}.mp3"  # plain http: no fetch
    db.commit()
    assert process_voice_report(report.id) == "mirrored"
    db.expire_all()
    report = db.get(Report, report.id)
    assert report.recording_id == asset.id and [e.kind for e in report.events] == ["message_in"]


def test_answering_a_call_the_gateway_placed(app, client, db, demo):
    """An outbox call rings on the phone; answering runs its TwiML with the call's own sid."""
    got = []

    def remember(answer):
        @twilio_signed
        def view():
            got.append((request.path, request.form.to_dict()))
            return answer

        return view

    app.add_url_rule("/test/call", "test_call", remember(twiml(
        '<Say>Thông báo khẩn</Say><Gather numDigits="1" action="/test/confirm"><Say>Bấm 1</Say></Gather>')),
        methods=["POST"])
    app.add_url_rule("/test/confirm", "test_confirm", remember(twiml("<Say>Cảm ơn</Say><Hangup/>")), methods=["POST"])
    app.add_url_rule("/test/status", "test_status", remember(""), methods=["POST"])
    # Development stores callback paths; a deployment, absolute URLs.
    rows = [OutboxMessage(channel="voice", recipient="+84912345678", body="announcement", media_url="/test/call",
                          status_callback=BASE + "/test/status") for _ in range(2)]
    db.add_all(rows)
    db.commit()
    token = login(client)
    listed = client.get("/console/simulator/messages?phone=0912345678").get_json()["messages"]
    assert [(m["channel"], m["id"]) for m in listed] == [("voice", rows[0].id), ("voice", rows[1].id)]
    answer = post_json(client, "/console/simulator/answer", token, {"phone": "0912345678", "id": rows[0].id}).get_json()
    assert [e["type"] for e in answer["events"]] == ["fetch", "say", "say", "gather"] and answer["waiting"] == "Gather"
    path, first = got[0]
    assert (path, first["CallSid"], first["CallStatus"], first["Direction"], first["To"]) == \
        ("/test/call", f"outbox-call-{rows[0].id}", "in-progress", "outbound-api", "+84912345678")
    done = post_json(client, f"/console/simulator/call/{answer['call']}/digits", token, {"digits": "1"}).get_json()
    assert got[1][0] == "/test/confirm" and got[1][1]["Digits"] == "1" and done["ended"]
    decline = post_json(client, "/console/simulator/decline", token, {"phone": "0912345678", "id": rows[1].id})
    assert decline.status_code == 200 and got[-1][0] == "/test/status" and got[-1][1]["CallStatus"] == "busy"
    wrong = post_json(client, "/console/simulator/answer", token, {"phone": "0987654321", "id": rows[0].id})
    assert wrong.status_code == 404  # not this phone's call
