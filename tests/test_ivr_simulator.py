"""The phone simulator speaks every voice dialect: it reads Stringee's SCCO into the same steps as TwiML,
answers in Stringee's requests, and a hotline call walked in either dialect sounds the same."""
import json

import pytest

from gateway.console.simulator import Call, TwiMLError, parse_scco
from tests.console_helpers import login, post_json
from tests.ivr_helpers import DIALECTS, KNOWN, UNKNOWN, hotline, hotline_template, shared_audio  # noqa: F401

BASE = "https://gw.example.vn"


class Gateway:
    """A fake `fetch`: SCCO answers by URL, and every request it was asked for."""

    def __init__(self, documents):
        self.documents = documents
        self.requests = []

    def __call__(self, url, method, params):
        self.requests.append((url, method, dict(params)))
        answer = self.documents[url.split("?")[0]]
        return json.dumps(answer(params) if callable(answer) else answer)


def scco_call():
    return Call(sid="call-vn-1-SIM", caller="+84912345678", called="+842633822123",
                entry_url=BASE + "/ivr/stringee/answer", status_url=BASE + "/ivr/stringee/event", dialect="stringee")


def test_scco_actions_read_as_the_same_verbs():
    verbs = parse_scco(json.dumps([
        {"action": "talk", "text": "Xin chào", "bargeIn": False, "loop": 1},
        {"action": "stream", "streamUrl": "https://gw.example.vn/audio/a.wav", "bargeIn": True, "loop": 1},
        {"action": "input", "eventUrl": "https://gw.example.vn/ivr/stringee/menu?area=1", "submitOnHash": True,
         "timeout": 6, "maxDigits": 2},
    ]))
    assert [v.name for v in verbs] == ["Say", "Gather"]
    assert [(c.name, c.text) for c in verbs[1].children] == [("Play", "https://gw.example.vn/audio/a.wav")]
    assert verbs[1].attrs["finishOnKey"] == "#" and verbs[1].attrs["numDigits"] == "2"
    for bad in ("", "{}", '[{"no": "action"}]', "<Response/>"):
        with pytest.raises(TwiMLError):
            parse_scco(bad)


def test_a_stringee_call_gets_its_requests_and_the_end_event():
    gw = Gateway({
        BASE + "/ivr/stringee/answer": [{"action": "talk", "text": "Bấm 1", "bargeIn": True},
                                        {"action": "input", "eventUrl": BASE + "/ivr/stringee/menu?area=1",
                                         "timeout": 6, "maxDigits": 1}],
        BASE + "/ivr/stringee/menu": lambda p: ([{"action": "recordMessage", "eventUrl": BASE + "/ivr/stringee/record"}]
                                                if p["dtmf"] == "2" else [{"action": "talk", "text": "Lại"}]),
        BASE + "/ivr/stringee/record": [{"action": "talk", "text": "Cảm ơn"}],
        BASE + "/ivr/stringee/event": [],
    })
    c = scco_call()
    events = c.start(gw)
    (url, method, params), = gw.requests
    assert (url, method, params) == (BASE + "/ivr/stringee/answer", "GET",
                                     {"from": "84912345678", "to": "842633822123", "uuid": "call-vn-1-SIM",
                                      "fromInternal": "false"})
    assert [e["type"] for e in events] == ["fetch", "say", "gather"]
    c.press(gw, "2")
    assert gw.requests[-1][2] == {"call_id": "call-vn-1-SIM", "dtmf": "2", "timeout": False, "customField": ""}
    events = c.recorded(gw, url=BASE + "/audio/r.mp3", sid="RE1", duration=5)
    assert gw.requests[-1][2] == {"call_id": "call-vn-1-SIM", "recording_url": BASE + "/audio/r.mp3"}
    assert [e.get("text") for e in events if e["type"] == "say"] == ["Cảm ơn"] and c.ended
    c.hangup(gw, duration=30)
    event = gw.requests[-1]
    assert event[0] == BASE + "/ivr/stringee/event"
    assert (event[2]["call_status"], event[2]["answerDuration"]) == ("ended", 30)


def test_silence_on_stringee_posts_the_timeout():
    gw = Gateway({BASE + "/ivr/stringee/answer": [{"action": "input", "eventUrl": BASE + "/ivr/stringee/menu"}],
                  BASE + "/ivr/stringee/menu": [{"action": "talk", "text": "Tạm biệt"}]})
    c = scco_call()
    c.start(gw)
    c.press(gw, "")
    assert gw.requests[-1][2]["timeout"] is True and gw.requests[-1][2]["dtmf"] == ""


def heard(events):
    return [(e["type"], e.get("url") or e.get("text")) for e in events if e["type"] in ("play", "say")]


@pytest.mark.parametrize("caller", [KNOWN, UNKNOWN])
def test_the_simulator_walks_the_same_hotline_in_every_dialect(hotline, caller):
    """The console's simulated call, in TwiML and in SCCO: the phone hears the same audio, step by step."""
    client = hotline.test_client()
    token = login(client)
    walks = {}
    for dialect in DIALECTS:
        start = post_json(client, "/console/simulator/call", token, {"phone": caller, "dialect": dialect}).get_json()
        assert start["waiting"] == "Gather", start
        steps = [heard(start["events"])]
        for keys in (["5"] if caller == UNKNOWN else []) + ["2", "1"]:
            answer = post_json(client, f"/console/simulator/call/{start['call']}/digits", token,
                               {"digits": keys}).get_json()
            steps.append(heard(answer["events"]))
        assert answer["waiting"] == "Record"
        ended = post_json(client, f"/console/simulator/call/{start['call']}/hangup", token, {}).get_json()
        assert ended["ended"]
        walks[dialect] = steps
    assert walks["twiml"] == walks["stringee"]
    from tests.test_ivr_calls import callbacks

    assert callbacks(hotline) == []  # an answered call that ended is no missed call
    assert all(kind == "play" for step in walks["twiml"] for kind, _ in step)  # rendered prompts, played
