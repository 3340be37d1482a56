"""The hotline walked as whole calls: tables of webhook sequences and the TwiML at each step."""
import threading

import pytest
from sqlalchemy import func, select

from gateway.db import get_db
from gateway.models import AudioAsset, Report
from tests.ivr_helpers import (  # noqa: F401  (fixtures)
    KNOWN, UNKNOWN, Call, area, build_hotline, hotline, hotline_template, shared_audio, signed_post, walk,
)

NEWS = ["play:news_intro", "play:ann:Tiêm phòng dại"]
MENU = ["gather:1[play:menu]", "redirect"]
GREETING_NEWS_MENU = ["play:greeting", *NEWS, *MENU]
BYE = ["play:goodbye", "hangup"]
PICKER = ["gather:2[play:greeting, play:area_unknown_caller, play:area_ask, play:areas]", "redirect"]
CATEGORIES = ["gather:1[play:category_menu]", "redirect"]
RECORD = ["play:record_instructions", "record", "gather:1[play:record_empty, play:menu]", "redirect"]

# (name, caller, steps): each step is (action, argument, the TwiML tokens expected back).
WALKS = [
    ("known caller hears the news with no key pressed", KNOWN, [
        ("inbound", None, GREETING_NEWS_MENU),
    ]),
    ("1 replays the news", KNOWN, [
        ("inbound", None, GREETING_NEWS_MENU),
        ("press", "1", [*NEWS, *MENU]),
        ("press", "1", [*NEWS, *MENU]),
    ]),
    ("silence repeats the menu once, then goodbye", KNOWN, [
        ("inbound", None, GREETING_NEWS_MENU),
        ("silence", None, ["gather:1[play:menu_again, play:menu]", "redirect"]),
        ("silence", None, BYE),
    ]),
    ("wrong keys repeat the menu once, then goodbye", KNOWN, [
        ("inbound", None, GREETING_NEWS_MENU),
        ("press", "7", ["gather:1[play:wrong_key, play:menu]", "redirect"]),
        ("press", "9", BYE),
    ]),
    ("a wrong key, then silence: goodbye", KNOWN, [
        ("inbound", None, GREETING_NEWS_MENU),
        ("press", "*", ["gather:1[play:wrong_key, play:menu]", "redirect"]),
        ("silence", None, BYE),
    ]),
    ("a wrong key, then the right one", KNOWN, [
        ("inbound", None, GREETING_NEWS_MENU),
        ("press", "5", ["gather:1[play:wrong_key, play:menu]", "redirect"]),
        ("press", "1", [*NEWS, *MENU]),
    ]),
    ("unknown caller picks Khu phố 5 by keypad", UNKNOWN, [
        ("inbound", None, PICKER),
        ("press", "5", [*NEWS, *MENU]),
    ]),
    ("unknown caller picks a neighbourhood with two digits and #", UNKNOWN, [
        ("inbound", None, PICKER),
        ("press", "12", ["play:no_news", *MENU]),
    ]),
    ("unknown caller: a wrong area repeats once, then goodbye", UNKNOWN, [
        ("inbound", None, PICKER),
        ("press", "99", ["gather:2[play:wrong_key, play:area_ask, play:areas]", "redirect"]),
        ("silence", None, BYE),
    ]),
    ("3 picks another area", KNOWN, [
        ("inbound", None, GREETING_NEWS_MENU),
        ("press", "3", ["gather:2[play:area_ask, play:areas]", "redirect"]),
        ("press", "1", ["play:no_news", *MENU]),
    ]),
    ("0 dials the duty officer; unanswered: back to the menu", KNOWN, [
        ("inbound", None, GREETING_NEWS_MENU),
        ("press", "0", ["play:duty_connecting", "dial:+84912000111"]),
        ("dialed", "no-answer", ["gather:1[play:duty_no_answer, play:menu]", "redirect"]),
    ]),
    ("the duty officer answered: the call ends with theirs", KNOWN, [
        ("inbound", None, GREETING_NEWS_MENU),
        ("press", "0", ["play:duty_connecting", "dial:+84912000111"]),
        ("dialed", "completed", ["hangup"]),
    ]),
    ("report: category, recording, number read back", KNOWN, [
        ("inbound", None, GREETING_NEWS_MENU),
        ("press", "2", CATEGORIES),
        ("press", "3", RECORD),
        ("recorded", None, ["play:report_number", "play:digit_1", "play:report_thanks", *BYE]),
    ]),
    ("report: no category twice files it as other", KNOWN, [
        ("inbound", None, GREETING_NEWS_MENU),
        ("press", "2", CATEGORIES),
        ("silence", None, ["gather:1[play:menu_again, play:category_menu]", "redirect"]),
        ("press", "8", RECORD),
    ]),
    ("report: an empty recording falls through to the menu", KNOWN, [
        ("inbound", None, GREETING_NEWS_MENU),
        ("press", "2", CATEGORIES),
        ("press", "1", RECORD),
        ("silence", None, BYE),
    ]),
]


@pytest.mark.parametrize("name, caller, steps", WALKS, ids=[w[0] for w in WALKS])
def test_call_walks(hotline, name, caller, steps):
    walk(Call(hotline, hotline.names, caller=caller), steps)


def test_known_caller_hears_rendered_audio_from_our_server(hotline):
    """Every <Play> is a ready 8 kHz WAV we serve; nothing is synthesized while the call runs."""
    turn = Call(hotline, hotline.names).inbound()
    urls = [p.text for p in turn.root.iter("Play")]
    client = hotline.test_client()
    with hotline.app_context():
        before = get_db().scalar(select(func.count(AudioAsset.id)))
    for url in urls:
        resp = client.get(url.replace("https://gw.example.vn", ""))
        assert resp.status_code == 200 and resp.mimetype == "audio/wav"
    with hotline.app_context():
        assert get_db().scalar(select(func.count(AudioAsset.id))) == before


def test_report_by_phone_goes_to_the_pipeline(hotline):
    call = Call(hotline, hotline.names)
    walk(call, WALKS[12][2][:3])
    record = call.last.find("Record")
    assert record.get("maxLength") == "120" and record.get("finishOnKey") == "#"
    assert record.get("recordingStatusCallback").startswith("https://gw.example.vn/ivr/recording?")
    call.recorded()
    call.recording_status(record)  # Twilio also posts the status callback: still one report
    with hotline.app_context():
        db = get_db()
        [report] = db.scalars(select(Report))
        assert (report.channel, report.category, report.phone, report.number) == ("voice", "health", KNOWN, 1)
        assert report.area.parent.code == "KP5" and report.resident.phone == KNOWN  # their team in KP5
        assert report.recording_url.endswith("/Recordings/RE" + "2" * 32)
    from rq import Queue

    from gateway.queue import get_connection

    with hotline.app_context():
        jobs = Queue("high", connection=get_connection()).jobs
    assert [(j.func_name, j.args) for j in jobs] == [("gateway.recordings.process_voice_report", (report.id,))]


@pytest.mark.parametrize("order", ["status callback only (hung up mid-recording)", "action then status",
                                   "status then action", "action with Digits=hangup, then status"])
def test_one_report_whatever_callbacks_arrive(hotline, order):
    call = Call(hotline, hotline.names)
    walk(call, WALKS[12][2][:3])
    record = call.last.find("Record")
    record_turn = call.last
    if order.startswith("status"):
        assert call.recording_status(record).status == 200
    if "action" in order:
        call.last = record_turn
        hangup = "hangup" in order
        turn = call.recorded(digits="hangup" if hangup else "#")
        assert turn.tokens == ([] if hangup else ["play:report_number", "play:digit_1", "play:report_thanks",
                                                  "play:goodbye", "hangup"])
    if order.endswith("then status"):
        assert call.recording_status(record).status == 200
    with hotline.app_context():
        reports = list(get_db().scalars(select(Report)))
    assert len(reports) == 1 and reports[0].category == "health"


def test_concurrent_callbacks_make_one_report_on_postgresql(make_app, pg_url, redis_url, shared_audio):
    """The action and the status callback racing in two threads still make one report (the lock)."""
    app = build_hotline(make_app, redis_url, shared_audio, url=pg_url, render=False)
    try:
        call = Call(app, app.names)
        call.inbound()
        call.press("2")
        call.press("4")
        record = call.last.find("Record")
        from tests.ivr_helpers import local, recording_url

        sid = "RE" + "3" * 32
        base = {**call.fields, "CallStatus": "completed", "RecordingUrl": recording_url(sid), "RecordingSid": sid,
                "RecordingDuration": "9"}
        posts = [(local(record.get("action")), {**base, "Digits": "hangup"}),
                 (local(record.get("recordingStatusCallback")), {**base, "RecordingStatus": "completed"})]
        results = []
        barrier = threading.Barrier(2)

        def run(path, params):
            client = app.test_client()
            barrier.wait()
            results.append(signed_post(client, path, params).status_code)

        threads = [threading.Thread(target=run, args=p) for p in posts]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert sorted(results) == [200, 200]
        with app.app_context():
            reports = list(get_db().scalars(select(Report)))
        assert len(reports) == 1 and reports[0].category == "person"
    finally:
        from sqlalchemy import text

        from gateway.models import Base

        with app.extensions["gateway.engine"].begin() as conn:
            names = ", ".join(f'"{t.name}"' for t in Base.metadata.sorted_tables)
            conn.execute(text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))


def test_report_numbers_are_read_digit_by_digit(hotline):
    with hotline.app_context():
        db = get_db()
        from gateway.reports import next_number

        kp5 = area(db, "KP5")
        for _ in range(106):
            next_number(db, kp5.commune().id)
        db.commit()
    call = Call(hotline, hotline.names)
    walk(call, WALKS[12][2][:3])
    turn = call.recorded()
    assert turn.tokens[:4] == ["play:report_number", "play:digit_1", "play:digit_0", "play:digit_7"]


def test_no_duty_officer_configured_says_so(hotline):
    with hotline.app_context():
        db = get_db()
        commune = area(db, "TANLAP")
        commune.duty_officer_phone = None
        db.commit()
    walk(Call(hotline, hotline.names), [
        ("inbound", None, GREETING_NEWS_MENU),
        ("press", "0", ["gather:1[play:duty_unavailable, play:menu]", "redirect"]),
    ])


def test_duty_officer_from_the_setting(make_app, tmp_path, hotline_template, redis_url, shared_audio):
    app = build_hotline(make_app, redis_url, shared_audio, db_path=tmp_path / "g.sqlite", template=hotline_template, filled=True,
                        DUTY_OFFICER_PHONE="+84243000999")
    with app.app_context():
        db = get_db()
        area(db, "TANLAP").duty_officer_phone = None
        db.commit()
    walk(Call(app, app.names), [("inbound", None, GREETING_NEWS_MENU),
                               ("press", "0", ["play:duty_connecting", "dial:+84243000999"])])


def test_unrendered_prompts_are_said_in_vietnamese_and_queued(make_app, tmp_path, sqlite_template, redis_url,
                                                               shared_audio):
    """Before `flask ivr prompts --render`: <Say language="vi-VN"> with a Google voice, and renders queued."""
    app = build_hotline(make_app, redis_url, shared_audio, db_path=tmp_path / "g.sqlite", template=sqlite_template,
                        render=False)
    turn = Call(app, app.names).inbound()
    says = list(turn.root.iter("Say"))
    assert [s.get("language") for s in says] == ["vi-VN"] * 3
    assert says[0].get("voice") == "Google.vi-VN-Standard-A"
    assert says[0].text.startswith("Xin chào bà con")
    # The announcement is not rendered either: skipped (render requested), so "no news" is said.
    assert turn.tokens[:2] == ["say:greeting", "say:no_news"] and turn.root.find("Play") is None
    with app.app_context():
        db = get_db()
        pending = {a.text for a in db.scalars(select(AudioAsset).where(AudioAsset.kind == "prompt"))}
    from gateway.ivr.prompts import PROMPTS

    assert {PROMPTS["greeting"], PROMPTS["no_news"], PROMPTS["menu"]} <= pending
    from gateway.queue import drain

    drain(app, ["audio"])
    app.names.__init__()
    with app.app_context():
        app.names.learn(get_db())
    turn = Call(app, app.names).inbound()
    # What was asked for is now played; "news_intro" was never needed before, so it is said and queued.
    assert turn.tokens == ["play:greeting", "say:news_intro", "play:ann:Tiêm phòng dại", *MENU]
    drain(app, ["audio"])
    with app.app_context():
        app.names.learn(get_db())
    assert Call(app, app.names).inbound().tokens == GREETING_NEWS_MENU


def test_bad_or_missing_signature_is_refused_everywhere(hotline):
    client = hotline.test_client()
    params = {"CallSid": "CA" + "9" * 32, "From": KNOWN, "To": "+842633822123", "Digits": "1"}
    for path in ["/ivr/inbound", "/ivr/play?area=1", "/ivr/menu?area=1&tries=0", "/ivr/pick?commune=1&tries=0",
                 "/ivr/dialed?area=1", "/ivr/report?area=1&tries=0", "/ivr/record?area=1&category=other",
                 "/ivr/recording?area=1&category=other", "/ivr/outbound?delivery=1", "/ivr/confirm?delivery=1&tries=0",
                 "/ivr/status", "/ivr/status?delivery=1"]:
        assert client.post(path, data=params).status_code == 403, path
        assert client.post(path, data=params, headers={"X-Twilio-Signature": "bm90IGEgc2lnbmF0dXJl"}).status_code == 403
        # Signed for other fields: a field changed in transit fails the check.
        from tests.ivr_helpers import sign

        headers = {"X-Twilio-Signature": sign(path, {**params, "Digits": "2"})}
        assert client.post(path, data=params, headers=headers).status_code == 403, path
        assert signed_post(client, path, params).status_code == 200, path


def test_prompts_cli_lists_and_renders_ahead_of_time(make_app, tmp_path, sqlite_template, redis_url, shared_audio):
    from gateway.ivr.prompts import PROMPTS
    from gateway.queue import drain

    app = build_hotline(make_app, redis_url, shared_audio, db_path=tmp_path / "g.sqlite", template=sqlite_template,
                        render=False)
    runner = app.test_cli_runner()
    listed = runner.invoke(args=["ivr", "prompts"])
    assert listed.exit_code == 0
    lines = [line.split()[:2] for line in listed.output.splitlines()[:-1]]
    assert [k for k, _ in lines] == [*PROMPTS, f"areas_{_commune_id(app)}"]
    assert {s for _, s in lines} == {"missing"}
    assert runner.invoke(args=["ivr", "prompts", "--render"]).exit_code == 0
    drain(app, ["audio"])
    listed = runner.invoke(args=["ivr", "prompts"]).output
    assert listed.splitlines()[-1] == f"{len(PROMPTS) + 1} ready"


def _commune_id(app):
    with app.app_context():
        return area(get_db(), "TANLAP").id


def test_an_officials_recording_replaces_a_prompt(hotline, tmp_path):
    from gateway.media.assets import asset_url
    from gateway.queue import drain
    from tests.audio_helpers import speech_wav

    path = tmp_path / "loi-chao.wav"
    path.write_bytes(speech_wav("Xin chào bà con, tôi là chủ tịch xã Tân Lập."))
    runner = hotline.test_cli_runner()
    bad = runner.invoke(args=["ivr", "record-prompt", "no_such_prompt", str(path), "--commune", "TANLAP"])
    assert bad.exit_code != 0 and "Unknown prompt 'no_such_prompt'" in bad.output
    done = runner.invoke(args=["ivr", "record-prompt", "greeting", str(path), "--commune", "TANLAP"])
    assert done.exit_code == 0, done.output
    # Until the recording is rendered for the phone, the synthesized greeting goes on playing.
    assert Call(hotline, hotline.names).inbound().tokens[0] == "play:greeting"
    drain(hotline, ["audio"])
    with hotline.app_context():
        db = get_db()
        asset_id = area(db, "TANLAP").settings["prompt_recordings"]["greeting"]
        recording = db.get(AudioAsset, asset_id)
        assert (recording.kind, recording.status) == ("prompt", "ready")
        url = asset_url(recording, "phone")
    turn = Call(hotline, hotline.names).inbound()
    assert [p.text for p in turn.root.iter("Play")][0] == url
    assert turn.tokens[1:] == GREETING_NEWS_MENU[1:]
    status = runner.invoke(args=["ivr", "prompts", "--commune", "TANLAP"]).output
    assert any(line.split()[:2] == ["greeting", "recorded"] for line in status.splitlines())


def reference_examples(section):
    import json
    import os

    path = os.path.join(os.path.dirname(__file__), "..", "..", "shared", "reference", "twilio_webhooks.json")
    with open(path, encoding="utf-8") as f:
        return [e["params"] for e in json.load(f)[section]["examples"]]


@pytest.mark.parametrize("index, known", [(0, False), (1, False), (2, True)])
def test_reference_inbound_calls(hotline, index, known):
    """Twilio's captured inbound-call parameter sets: a US caller and a browser client pick an area;
    the Vietnamese caller (on our list) hears the news at once."""
    params = reference_examples("inbound_voice")[index]
    resp = signed_post(hotline.test_client(), "/ivr/inbound", params)
    assert resp.status_code == 200
    from tests.ivr_helpers import Turn

    turn = Turn(resp, hotline.names)
    assert (params["From"] == KNOWN) is known
    assert turn.tokens == (GREETING_NEWS_MENU if known else PICKER)


def test_reference_record_callbacks_make_one_report_each(hotline):
    with hotline.app_context():
        kp5 = area(get_db(), "KP5").id
    client = hotline.test_client()
    for params in reference_examples("record_callback"):
        resp = signed_post(client, f"/ivr/record?area={kp5}&category=environment", params)
        assert resp.status_code == 200
        resp = signed_post(client, f"/ivr/recording?area={kp5}&category=environment",
                           {**params, "RecordingStatus": "completed"})
        assert resp.status_code == 200
    with hotline.app_context():
        reports = list(get_db().scalars(select(Report).order_by(Report.id)))
    assert [(r.number, r.category, r.phone) for r in reports] == [(1, "environment", KNOWN), (2, "environment", KNOWN)]
