"""The hotline walked as whole calls: tables of webhook sequences and the answer at each step, run once
per dialect (TwiML for Twilio and Somleng, SCCO JSON for Stringee)."""
import threading

import pytest
from sqlalchemy import func, select

from gateway.db import get_db
from gateway.models import AudioAsset, Report
from tests.ivr_helpers import (  # noqa: F401  (fixtures)
    DIALECTS, KNOWN, UNKNOWN, Call, area, build_hotline, hotline, hotline_template, shared_audio, signed_post, walk,
)

NEWS = ["play:news_intro", "play:ann:Tiêm phòng dại"]
GREETING_NEWS_MENU = [f"gather:1[play:greeting, {', '.join(NEWS)}, play:menu]"]
NEWS_MENU = [f"gather:1[{', '.join(NEWS)}, play:menu]"]
NO_NEWS_MENU = ["gather:1[play:no_news, play:menu]"]
BYE = ["play:goodbye", "hangup"]
PICKER = ["gather:2[play:greeting, play:area_unknown_caller, play:area_ask]"]
LIST = ["gather:2[play:area_ask, play:areas]"]
CATEGORIES = ["gather:1[play:category_menu]"]
RECORD = ["play:record_instructions", "record"]
REVIEW = ["gather:1[play:record_review]"]
NUMBER_ONE = ["play:report_number", "say:số một.", "play:report_thanks", *BYE]

# (name, caller, steps): each step is (action, argument, the tokens expected back).
WALKS = [
    ("known caller hears the news with no key pressed", KNOWN, [
        ("inbound", None, GREETING_NEWS_MENU),
    ]),
    ("1 replays the news", KNOWN, [
        ("inbound", None, GREETING_NEWS_MENU),
        ("press", "1", NEWS_MENU),
        ("press", "1", NEWS_MENU),
    ]),
    ("silence repeats the menu once, then goodbye", KNOWN, [
        ("inbound", None, GREETING_NEWS_MENU),
        ("silence", None, ["gather:1[play:menu_again, play:menu]"]),
        ("silence", None, BYE),
    ]),
    ("wrong keys repeat the menu once, then goodbye", KNOWN, [
        ("inbound", None, GREETING_NEWS_MENU),
        ("press", "7", ["gather:1[play:wrong_key, play:menu]"]),
        ("press", "9", BYE),
    ]),
    ("a wrong key, then silence: goodbye", KNOWN, [
        ("inbound", None, GREETING_NEWS_MENU),
        ("press", "*", ["gather:1[play:wrong_key, play:menu]"]),
        ("silence", None, BYE),
    ]),
    ("a wrong key, then the right one", KNOWN, [
        ("inbound", None, GREETING_NEWS_MENU),
        ("press", "5", ["gather:1[play:wrong_key, play:menu]"]),
        ("press", "1", NEWS_MENU),
    ]),
    ("unknown caller keys Khu phố 5", UNKNOWN, [
        ("inbound", None, PICKER),
        ("press", "5", NEWS_MENU),
    ]),
    ("unknown caller waits: the list of areas after the silence", UNKNOWN, [
        ("inbound", None, PICKER),
        ("silence", None, LIST),
        ("press", "5", NEWS_MENU),
    ]),
    ("unknown caller picks a neighbourhood with two digits and #", UNKNOWN, [
        ("inbound", None, PICKER),
        ("press", "12", NO_NEWS_MENU),
    ]),
    ("unknown caller: a wrong area, then the list, then goodbye", UNKNOWN, [
        ("inbound", None, PICKER),
        ("press", "99", ["gather:2[play:wrong_key, play:area_ask]"]),
        ("silence", None, LIST),
        ("silence", None, BYE),
    ]),
    ("3 picks another area", KNOWN, [
        ("inbound", None, GREETING_NEWS_MENU),
        ("press", "3", ["gather:2[play:area_ask]"]),
        ("press", "1", NO_NEWS_MENU),
    ]),
    ("0 dials the duty officer; unanswered: back to the menu", KNOWN, [
        ("inbound", None, GREETING_NEWS_MENU),
        ("press", "0", ["play:duty_connecting", "dial:+84912000111"]),
        ("dialed", "no-answer", ["gather:1[play:duty_no_answer, play:menu]"]),
    ]),
    ("report: category, recording, 1 to send, number read back", KNOWN, [
        ("inbound", None, GREETING_NEWS_MENU),
        ("press", "2", CATEGORIES),
        ("press", "3", RECORD),
        ("recorded", None, REVIEW),
        ("press", "1", NUMBER_ONE),
    ]),
    ("report: 2 records again, then 1 sends", KNOWN, [
        ("inbound", None, GREETING_NEWS_MENU),
        ("press", "2", CATEGORIES),
        ("press", "3", RECORD),
        ("recorded", None, REVIEW),
        ("press", "2", RECORD),
        ("recorded", None, REVIEW),
        ("press", "1", NUMBER_ONE),
    ]),
    ("report: silence after the recording sends it (nothing is lost)", KNOWN, [
        ("inbound", None, GREETING_NEWS_MENU),
        ("press", "2", CATEGORIES),
        ("press", "5", RECORD),
        ("recorded", None, REVIEW),
        ("silence", None, NUMBER_ONE),
    ]),
    ("report: no category twice files it as other", KNOWN, [
        ("inbound", None, GREETING_NEWS_MENU),
        ("press", "2", CATEGORIES),
        ("silence", None, ["gather:1[play:menu_again, play:category_menu]"]),
        ("press", "8", RECORD),
    ]),
    ("report: an empty recording goes back to the menu", KNOWN, [
        ("inbound", None, GREETING_NEWS_MENU),
        ("press", "2", CATEGORIES),
        ("press", "1", RECORD),
        ("nothing_recorded", None, ["gather:1[play:record_empty, play:menu]"]),
        ("silence", None, BYE),
    ]),
]


def steps_of(name):
    return next(steps for n, _, steps in WALKS if n == name)


REPORT_WALK = "report: category, recording, 1 to send, number read back"


@pytest.mark.parametrize("dialect", DIALECTS)
@pytest.mark.parametrize("name, caller, steps", WALKS, ids=[w[0] for w in WALKS])
def test_call_walks(hotline, name, caller, steps, dialect):
    walk(Call(hotline, hotline.names, caller=caller, dialect=dialect), steps)


def test_the_duty_officer_answered_twilio_ends_the_call(hotline):
    """Twilio asks the Dial's action when the officer hangs up; Stringee's connect ends the call itself."""
    walk(Call(hotline, hotline.names), [
        ("inbound", None, GREETING_NEWS_MENU),
        ("press", "0", ["play:duty_connecting", "dial:+84912000111"]),
        ("dialed", "completed", ["hangup"]),
    ])


@pytest.mark.parametrize("dialect", DIALECTS)
def test_a_sent_report_is_filed_once_with_its_category(hotline, dialect):
    call = Call(hotline, hotline.names, dialect=dialect)
    walk(call, steps_of("report: 2 records again, then 1 sends")[:5])
    with hotline.app_context():
        assert list(get_db().scalars(select(Report))) == []  # not filed before the caller chose
    call.recorded(sid="RE" + "4" * 32)
    call.press("1")
    with hotline.app_context():
        [report] = get_db().scalars(select(Report))
        assert (report.channel, report.category, report.phone) == ("voice", "health", KNOWN)
        assert report.recording_url.endswith("4" * 32 + (".mp3" if dialect == "stringee" else ""))


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


def scheduled_filings(app):
    """The file_recording jobs waiting for REVIEW_GRACE: their `fields`."""
    from rq.job import Job
    from rq.registry import ScheduledJobRegistry

    from gateway.queue import get_connection

    with app.app_context():
        conn = get_connection()
        registry = ScheduledJobRegistry("high", connection=conn)
        jobs = [Job.fetch(i, connection=conn) for i in registry.get_job_ids()]
    return [j.args[0] for j in jobs if j.func_name == "gateway.ivr.jobs.file_recording"]


def run_filings(app):
    """The grace has passed: run the waiting file_recording jobs (here, as the worker would)."""
    from gateway.ivr.jobs import file_recording

    results = []
    for fields in scheduled_filings(app):
        with app.app_context():
            results.append(file_recording(fields))
    return results


def test_report_by_phone_goes_to_the_pipeline(hotline):
    call = Call(hotline, hotline.names)
    walk(call, steps_of(REPORT_WALK)[:3])
    record = call.last.find("Record")
    assert record.get("maxLength") == "120" and record.get("finishOnKey") == "#"
    assert record.get("recordingStatusCallback").startswith("https://gw.example.vn/ivr/recording?")
    call.recorded()
    call.recording_status(record)  # Twilio also posts the status callback while the caller decides
    from tests.ivr_helpers import recording_url

    assert [f["url"] for f in scheduled_filings(hotline)] == [recording_url("RE" + "2" * 32)]
    call.press("1")
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
    assert [(j.func_name, j.args) for j in jobs] == [("gateway.ivr.recordings.process_voice_report", (report.id,))]
    assert run_filings(hotline) == [f"report {report.id}"]  # the late job finds it filed: still one
    with hotline.app_context():
        assert get_db().scalar(select(func.count(Report.id))) == 1


ORDERS = ["status callback only (hung up mid-recording)", "action, status, then 1", "status, action, then 1",
          "action with Digits=hangup, then status", "action, status, hung up at the question",
          "status, then 2 records again and 1 sends the second"]


@pytest.mark.parametrize("order", ORDERS)
def test_one_report_whatever_callbacks_arrive(hotline, order):
    call = Call(hotline, hotline.names)
    walk(call, steps_of(REPORT_WALK)[:3])
    record = call.last.find("Record")
    record_turn = call.last
    if order.startswith("status"):
        assert call.recording_status(record).status == 200
    if "action" in order or "2 records" in order:
        call.last = record_turn
        hangup = "hangup" in order
        turn = call.recorded(digits="hangup" if hangup else "#")
        assert turn.tokens == ([] if hangup else REVIEW)
    if ", status" in order:
        assert call.recording_status(record).status == 200
    if "2 records" in order:
        assert call.press("2").tokens == RECORD
        call.recorded(sid="RE" + "3" * 32)
    if order.endswith(" 1") or order.endswith("second"):
        assert call.press("1").tokens == NUMBER_ONE
    with hotline.app_context():
        before = list(get_db().scalars(select(Report)))
    if "hung up" in order or order.startswith("status callback only"):
        assert before == [] or "Digits=hangup" in order  # waits for the grace unless the hangup was seen
    run_filings(hotline)
    with hotline.app_context():
        reports = list(get_db().scalars(select(Report)))
    assert len(reports) == 1 and reports[0].category == "health"
    assert reports[0].recording_url.endswith(("3" if "2 records" in order else "2") * 32)


def test_concurrent_filings_make_one_report_on_postgresql(make_app, pg_url, redis_url, shared_audio):
    """The caller's 1 and the late filing job racing in two threads still make one report (the lock)."""
    app = build_hotline(make_app, redis_url, shared_audio, url=pg_url, render=False)
    try:
        call = Call(app, app.names)
        call.inbound()
        call.press("2")
        call.press("4")
        record = call.last.find("Record")
        call.recorded(sid="RE" + "3" * 32)
        call.recording_status(record, sid="RE" + "3" * 32)
        [fields] = scheduled_filings(app)
        from tests.ivr_helpers import local

        gather = call.last.find("Gather")
        params = {**call.fields, "CallStatus": "in-progress", "Digits": "1"}
        results = []
        barrier = threading.Barrier(2)

        def caller():
            client = app.test_client()
            barrier.wait()
            results.append(signed_post(client, local(gather.get("action")), params).status_code)

        def job():
            from gateway.ivr.jobs import file_recording

            with app.app_context():
                barrier.wait()
                results.append(file_recording(fields))

        threads = [threading.Thread(target=caller), threading.Thread(target=job)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert 200 in results and len(results) == 2
        with app.app_context():
            reports = list(get_db().scalars(select(Report)))
        assert len(reports) == 1 and reports[0].category == "person"
    finally:
        from sqlalchemy import text

        from gateway.models import Base

        with app.extensions["gateway.engine"].begin() as conn:
            names = ", ".join(f'"{t.name}"' for t in Base.metadata.sorted_tables)
            conn.execute(text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))


@pytest.mark.parametrize("dialect", DIALECTS)
def test_the_report_number_is_read_as_a_whole_number(hotline, dialect):
    """"số một trăm linh bảy" in Vietnamese number words, not "một không bảy" digit by digit."""
    with hotline.app_context():
        db = get_db()
        from gateway.reports.records import next_number

        kp5 = area(db, "KP5")
        for _ in range(106):
            next_number(db, kp5.commune().id)
        db.commit()
    call = Call(hotline, hotline.names, dialect=dialect)
    walk(call, steps_of(REPORT_WALK)[:4])
    turn = call.press("1")
    assert turn.tokens[:2] == ["play:report_number", "say:số một trăm linh bảy."]
    with hotline.app_context():  # rendered for the next caller who gets that number
        [asset] = get_db().scalars(select(AudioAsset).where(AudioAsset.text == "số một trăm linh bảy."))
        assert asset.kind == "prompt"


def test_no_duty_officer_configured_says_so(hotline):
    with hotline.app_context():
        db = get_db()
        commune = area(db, "TANLAP")
        commune.duty_officer_phone = None
        db.commit()
    walk(Call(hotline, hotline.names), [
        ("inbound", None, GREETING_NEWS_MENU),
        ("press", "0", ["gather:1[play:duty_unavailable, play:menu]"]),
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
    assert says[0].text == "Thị trấn Tân Lập xin chào bà con."  # short, and it names the commune
    # The announcement is not rendered either: skipped (render requested), so "no news" is said.
    assert turn.tokens == ["gather:1[say:greeting, say:no_news, say:menu]"] and turn.root.find(".//Play") is None
    with app.app_context():
        db = get_db()
        pending = {a.text for a in db.scalars(select(AudioAsset).where(AudioAsset.kind == "prompt"))}
    from gateway.ivr.prompts import PROMPTS

    assert {"Thị trấn Tân Lập xin chào bà con.", PROMPTS["no_news"], PROMPTS["menu"]} <= pending
    from gateway.queue import drain

    drain(app, ["audio"])
    app.names.__init__()
    with app.app_context():
        app.names.learn(get_db())
    turn = Call(app, app.names).inbound()
    # What was asked for is now played; "news_intro" was never needed before, so it is said and queued.
    assert turn.tokens == ["gather:1[play:greeting, say:news_intro, play:ann:Tiêm phòng dại, play:menu]"]
    drain(app, ["audio"])
    with app.app_context():
        app.names.learn(get_db())
    assert Call(app, app.names).inbound().tokens == GREETING_NEWS_MENU


def webhook_effects(app):
    """What a call's webhook can leave behind: reports, deliveries (calls, SMS), audio assets, queued jobs."""
    from rq import Queue

    from gateway.models import Delivery
    from gateway.queue import get_connection

    with app.app_context():
        db = get_db()
        jobs = sum(len(q) for q in Queue.all(connection=get_connection()))
        return tuple(db.scalar(select(func.count()).select_from(m)) for m in (Report, Delivery, AudioAsset)) + (jobs,)


def test_bad_or_missing_signature_is_refused_everywhere(hotline):
    client = hotline.test_client()
    params = {"CallSid": "CA" + "9" * 32, "From": KNOWN, "To": "+842633822123", "Digits": "1"}
    for path in ["/ivr/inbound", "/ivr/play?area=1", "/ivr/menu?area=1&tries=0", "/ivr/pick?commune=1&tries=0",
                 "/ivr/dialed?area=1", "/ivr/report?area=1&tries=0", "/ivr/record?area=1&category=other",
                 "/ivr/review?area=1&category=other&url=https%3A%2F%2Fapi.twilio.com%2Fx",
                 "/ivr/recording?area=1&category=other", "/ivr/outbound?delivery=1", "/ivr/confirm?delivery=1&tries=0",
                 "/ivr/status", "/ivr/status?delivery=1"]:
        assert client.post(path, data=params).status_code == 403, path
        assert client.post(path, data=params, headers={"X-Twilio-Signature": "bm90IGEgc2lnbmF0dXJl"}).status_code == 403
        # Signed for other fields: a field changed in transit fails the check.
        from tests.ivr_helpers import sign

        headers = {"X-Twilio-Signature": sign(path, {**params, "Digits": "2"})}
        before = webhook_effects(hotline)
        assert client.post(path, data=params, headers=headers).status_code == 403, path
        assert client.post(path, data={**params, "RecordingUrl": "https://api.twilio.com/x", "Digits": "1"}
                           ).status_code == 403, path
        assert webhook_effects(hotline) == before, path  # refused before anything was filed, sent or queued
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
    assert [k for k, _ in lines] == [*PROMPTS, f"greeting_{_commune_id(app)}", f"areas_{_commune_id(app)}"]
    assert {s for _, s in lines} == {"missing"}
    assert runner.invoke(args=["ivr", "prompts", "--render"]).exit_code == 0
    drain(app, ["audio"])
    listed = runner.invoke(args=["ivr", "prompts"]).output
    assert listed.splitlines()[-1] == f"{len(PROMPTS) + 2} ready"


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
    assert Call(hotline, hotline.names).inbound().tokens == GREETING_NEWS_MENU
    drain(hotline, ["audio"])
    with hotline.app_context():
        db = get_db()
        asset_id = area(db, "TANLAP").settings["prompt_recordings"]["greeting"]
        recording = db.get(AudioAsset, asset_id)
        assert (recording.kind, recording.status) == ("prompt", "ready")
        url = asset_url(recording, "phone")
    turn = Call(hotline, hotline.names).inbound()
    assert [p.text for p in turn.root.iter("Play")][0] == url
    assert turn.tokens == [GREETING_NEWS_MENU[0].replace("play:greeting", "play:" + url)]
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
    from tests.ivr_helpers import Turn

    with hotline.app_context():
        kp5 = area(get_db(), "KP5").id
    client = hotline.test_client()
    for params in reference_examples("record_callback"):
        resp = signed_post(client, f"/ivr/record?area={kp5}&category=environment", params)
        assert resp.status_code == 200
        review = Turn(resp, hotline.names)
        if params["Digits"] == "hangup":
            assert review.tokens == []  # hung up while recording: filed at once, nobody to ask
        else:
            assert review.tokens == REVIEW
            from tests.ivr_helpers import local

            resp = signed_post(client, local(review.find("Gather").get("action")), {**params, "Digits": "1"})
            assert resp.status_code == 200
        resp = signed_post(client, f"/ivr/recording?area={kp5}&category=environment",
                           {**params, "RecordingStatus": "completed"})
        assert resp.status_code == 200
    run_filings(hotline)
    with hotline.app_context():
        reports = list(get_db().scalars(select(Report).order_by(Report.id)))
    assert [(r.number, r.category, r.phone) for r in reports] == [(1, "environment", KNOWN), (2, "environment", KNOWN)]
