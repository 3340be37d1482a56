"""Outbound calls and callbacks: placing (once), confirmations, answering machines, status callbacks,
retries, quiet hours, the concurrency cap, missed-call callbacks and the Twilio provider's HTTP."""
import datetime as dt
import threading
from urllib.parse import parse_qs
from zoneinfo import ZoneInfo

import pytest
import requests
import responses
from rq.job import Job
from rq.registry import ScheduledJobRegistry
from sqlalchemy import select, update

from gateway.db import get_db
from gateway.ivr.calls import queue_call
from gateway.models import Delivery, OutboxMessage, Resident, utcnow
from gateway.queue import drain, enqueue, get_connection
from tests.ivr_helpers import (  # noqa: F401  (fixtures)
    KNOWN, UNKNOWN, Call, area, build_hotline, hotline, hotline_template, shared_audio, signed_post, walk,
)

TWILIO_CALLS = "https://api.twilio.com/2010-04-01/Accounts/AC" + "0" * 32 + "/Calls.json"
NEWS = ["play:news_intro", "play:ann:Tiêm phòng dại"]
NEWS_MENU = [f"gather:1[{', '.join(NEWS)}, play:menu]"]
CALLBACK_NEWS_MENU = [f"gather:1[play:callback_greeting, {', '.join(NEWS)}, play:menu]"]
ANN_CONFIRM = ["gather:1[play:ann:Tiêm phòng dại, play:confirm]"]


class Outbound(Call):
    """An outbound call we placed, from the callee's side."""

    def __init__(self, app, delivery_id, *, sid, caller=KNOWN):
        super().__init__(app, app.names, caller=caller, sid=sid, direction="outbound-api")
        self.delivery_id = delivery_id

    def answer(self, answered_by):
        return self.post(f"/ivr/outbound?delivery={self.delivery_id}", AnsweredBy=answered_by)

    def status(self, call_status, **extra):
        return self.post(f"/ivr/status?delivery={self.delivery_id}", CallStatus=call_status,
                         CallbackSource="call-progress-events", **extra)


def set_quiet(app, span):
    """Quiet hours of the demo commune (every area inherits them)."""
    with app.app_context():
        db = get_db()
        commune = area(db, "TANLAP")
        commune.settings = {**commune.settings, "quiet_hours": span}
        db.commit()


def quiet_now_span():
    """A quiet-hours span around the present moment, local time."""
    local = dt.datetime.now(ZoneInfo("Asia/Ho_Chi_Minh"))
    start, end = local - dt.timedelta(hours=1), local + dt.timedelta(hours=2)
    return f"{start:%H:%M}-{end:%H:%M}"


@pytest.fixture
def calls_app(hotline):
    set_quiet(hotline, "00:00-00:00")  # never quiet, unless a test says otherwise
    return hotline


def queue_announcement_call(app, phone=KNOWN, *, priority=None, key=None):
    with app.app_context():
        db = get_db()
        resident = db.scalar(select(Resident).where(Resident.phone == phone))
        from gateway.models import Announcement

        ann = db.scalar(select(Announcement))
        if priority:
            ann.priority = priority
        delivery = queue_call(db, phone=phone, key=key or f"ann:{ann.id}:res:{resident.id}:voice",
                              announcement_id=ann.id, resident_id=resident.id, area_id=resident.area_id)
        db.commit()
        return delivery.id


def delivery_of(app, delivery_id):
    with app.app_context():
        return get_db().get(Delivery, delivery_id)


def outbox_calls(app):
    with app.app_context():
        return list(get_db().scalars(select(OutboxMessage).where(OutboxMessage.channel == "voice")
                                     .order_by(OutboxMessage.id)))


def add_residents(app, n):
    phones = [f"+8491222{i:04d}" for i in range(n)]
    with app.app_context():
        db = get_db()
        team = area(db, "KP5").children[0]
        for p in phones:
            db.add(Resident(phone=p, area_id=team.id, prefers_voice=True))
        db.commit()
    return phones


def scheduled(app, delivery_id):
    """When place_call(delivery_id) is scheduled to run, across the queues."""
    with app.app_context():
        conn = get_connection()
        out = []
        for name in ("high", "default"):
            registry = ScheduledJobRegistry(name, connection=conn)
            for job_id in registry.get_job_ids():
                job = Job.fetch(job_id, connection=conn)
                if job.func_name == "gateway.ivr.jobs.place_call" and job.args == (delivery_id,):
                    out.append(registry.get_scheduled_time(job_id))
        return out


def let_time_pass(app, delivery_id):
    """The retry's time has come: what the clock would do, done to the row."""
    with app.app_context():
        db = get_db()
        db.execute(update(Delivery).where(Delivery.id == delivery_id)
                   .values(next_attempt_at=utcnow() - dt.timedelta(seconds=1)))
        db.commit()


# --- placing a call and what the callee hears ----------------------------------------------

def test_announcement_call_is_placed_once_with_its_urls(calls_app):
    delivery_id = queue_announcement_call(calls_app)
    drain(calls_app)
    [row] = outbox_calls(calls_app)
    assert row.recipient == KNOWN and row.body == "announcement"
    assert row.media_url == f"https://gw.example.vn/ivr/outbound?delivery={delivery_id}"
    assert row.status_callback == f"https://gw.example.vn/ivr/status?delivery={delivery_id}"
    d = delivery_of(calls_app, delivery_id)
    assert (d.status, d.attempts, d.provider, d.provider_id) == ("sending", 1, "outbox", f"outbox-call-{row.id}")


# (name, AnsweredBy, steps after the answer, final status, error code)
OUTBOUND_WALKS = [
    ("human presses 1", "human", [("press", "1", ["play:confirm_thanks", "hangup"])], "confirmed", None),
    ("no detection result, presses 1", "", [("press", "1", ["play:confirm_thanks", "hangup"])], "confirmed", None),
    ("2 replays, then 1", "human", [
        ("press", "2", ANN_CONFIRM),
        ("press", "1", ["play:confirm_thanks", "hangup"])], "confirmed", None),
    ("silence twice", "human", [
        ("silence", None, ["gather:1[play:menu_again, play:confirm]"]),
        ("silence", None, ["play:goodbye", "hangup"])], "answered", None),
    ("a wrong key, then 1", "unknown", [
        ("press", "9", ["gather:1[play:wrong_key, play:confirm]"]),
        ("press", "1", ["play:confirm_thanks", "hangup"])], "confirmed", None),
]


@pytest.mark.parametrize("name, answered_by, steps, final, code", OUTBOUND_WALKS, ids=[w[0] for w in OUTBOUND_WALKS])
def test_outbound_call_walks(calls_app, name, answered_by, steps, final, code):
    delivery_id = queue_announcement_call(calls_app)
    drain(calls_app)
    sid = delivery_of(calls_app, delivery_id).provider_id
    call = Outbound(calls_app, delivery_id, sid=sid)
    walk(call, [("answer", answered_by, ANN_CONFIRM), *steps])
    call.status("completed", CallDuration="41")  # the end of the call never undoes a confirmation
    d = delivery_of(calls_app, delivery_id)
    assert (d.status, d.error_code) == (final, code)
    assert d.delivered_at is not None
    assert (d.confirmed_at is not None) == (final == "confirmed")


@pytest.mark.parametrize("answered_by, tokens, status, code", [
    ("machine_end_beep", ["play:ann:Tiêm phòng dại", "play:goodbye", "hangup"], "answered", "machine"),
    ("machine_end_silence", ["play:ann:Tiêm phòng dại", "play:goodbye", "hangup"], "answered", "machine"),
    ("machine_end_other", ["play:ann:Tiêm phòng dại", "play:goodbye", "hangup"], "answered", "machine"),
    ("fax", ["hangup"], "failed", "fax"),
])
def test_answering_machine_gets_the_message_after_the_beep(calls_app, answered_by, tokens, status, code):
    delivery_id = queue_announcement_call(calls_app)
    drain(calls_app)
    call = Outbound(calls_app, delivery_id, sid=delivery_of(calls_app, delivery_id).provider_id)
    assert call.answer(answered_by).tokens == tokens
    call.status("completed", AnsweredBy=answered_by)
    d = delivery_of(calls_app, delivery_id)
    assert (d.status, d.error_code, d.confirmed_at) == (status, code, None)
    assert scheduled(calls_app, delivery_id) == []  # a machine got the message: no retry


# --- status callbacks ---------------------------------------------------------------------

# (CallStatus sequence, final delivery status)
STATUS_SEQUENCES = [
    (["queued", "ringing", "in-progress", "completed"], "answered"),
    (["ringing", "completed", "ringing", "in-progress"], "answered"),
    (["in-progress", "busy"], "answered"),
    (["ringing", "no-answer", "ringing", "queued"], "no_answer"),
    (["busy", "ringing"], "busy"),
    (["failed"], "failed"),
    (["canceled", "in-progress"], "answered"),
    (["ringing", "mystery-status"], "sending"),
]


@pytest.mark.parametrize("sequence, final", STATUS_SEQUENCES, ids=["-".join(s) for s, _ in STATUS_SEQUENCES])
def test_status_callbacks_never_move_backwards(calls_app, sequence, final):
    delivery_id = queue_announcement_call(calls_app)
    drain(calls_app)
    call = Outbound(calls_app, delivery_id, sid=delivery_of(calls_app, delivery_id).provider_id)
    for i, status in enumerate(sequence):
        assert call.status(status, SequenceNumber=str(i)).status == 200
    assert delivery_of(calls_app, delivery_id).status == final


def test_status_of_unknown_or_earlier_calls_changes_nothing(calls_app):
    delivery_id = queue_announcement_call(calls_app)
    drain(calls_app)
    client = calls_app.test_client()
    unknown = {"CallSid": "CA" + "f" * 32, "CallStatus": "completed", "Direction": "outbound-api", "From": "+1",
               "To": KNOWN}
    assert signed_post(client, "/ivr/status", unknown).status_code == 200
    # Signed for this delivery but from another (earlier) attempt's call: ignored.
    assert signed_post(client, f"/ivr/status?delivery={delivery_id}", unknown).status_code == 200
    assert signed_post(client, "/ivr/status?delivery=999", unknown).status_code == 200
    assert delivery_of(calls_app, delivery_id).status == "sending"


def test_status_callback_before_the_job_stored_the_call_id(calls_app):
    """Twilio may post "ringing" before the job commits the call's id: the URL names the delivery."""
    delivery_id = queue_announcement_call(calls_app)
    drain(calls_app)
    with calls_app.app_context():
        db = get_db()
        db.execute(update(Delivery).where(Delivery.id == delivery_id).values(provider_id=None))
        db.commit()
    call = Outbound(calls_app, delivery_id, sid="CA" + "7" * 32)
    call.status("in-progress")
    d = delivery_of(calls_app, delivery_id)
    assert (d.status, d.provider_id) == ("answered", "CA" + "7" * 32)


# --- retries ------------------------------------------------------------------------------

# (outcome of each attempt, calls placed, final status)
RETRY_CASES = [
    (["no-answer", "no-answer", "no-answer"], 3, "no_answer"),
    (["busy", "failed", "busy"], 3, "busy"),
    (["no-answer", "in-progress"], 2, "answered"),
    (["failed", "busy", "no-answer"], 3, "no_answer"),
]


@pytest.mark.parametrize("outcomes, placed, final", RETRY_CASES, ids=["-".join(o) for o, _, _ in RETRY_CASES])
def test_retries_ten_and_thirty_minutes_apart_three_attempts_at_most(calls_app, outcomes, placed, final):
    delivery_id = queue_announcement_call(calls_app)
    drain(calls_app)
    delays = [10, 30]
    for attempt, outcome in enumerate(outcomes, start=1):
        d = delivery_of(calls_app, delivery_id)
        assert (d.attempts, d.status) == (attempt, "sending")
        before = utcnow()
        Outbound(calls_app, delivery_id, sid=d.provider_id).status(outcome)
        Outbound(calls_app, delivery_id, sid=d.provider_id).status(outcome)  # Twilio retried its callback
        d = delivery_of(calls_app, delivery_id)
        if outcome == "in-progress" or attempt == 3:
            assert scheduled(calls_app, delivery_id) == []
            break
        [at] = scheduled(calls_app, delivery_id)  # one retry, however many callbacks came
        expected = before + dt.timedelta(minutes=delays[attempt - 1])
        assert abs((at.replace(tzinfo=dt.timezone.utc) - expected).total_seconds()) < 5
        assert abs((d.next_attempt_at - expected).total_seconds()) < 5
        # A stray duplicate of the job before the time has come places nothing.
        with calls_app.app_context():
            enqueue("gateway.ivr.jobs.place_call", delivery_id)
        drain(calls_app)
        assert len(outbox_calls(calls_app)) == attempt
        let_time_pass(calls_app, delivery_id)
        drain(calls_app, scheduled=True)
    drain(calls_app, scheduled=True)
    assert len(outbox_calls(calls_app)) == placed
    d = delivery_of(calls_app, delivery_id)
    assert (d.status, d.attempts) == (final, placed)


def test_a_retry_waits_for_the_end_of_quiet_hours(calls_app):
    delivery_id = queue_announcement_call(calls_app)
    drain(calls_app)
    set_quiet(calls_app, quiet_now_span())
    d = delivery_of(calls_app, delivery_id)
    Outbound(calls_app, delivery_id, sid=d.provider_id).status("no-answer")
    d = delivery_of(calls_app, delivery_id)
    local_end = d.next_attempt_at.astimezone(ZoneInfo("Asia/Ho_Chi_Minh"))
    assert f"{local_end:%H:%M}" == quiet_now_span().split("-")[1]


# --- quiet hours and the cap --------------------------------------------------------------

@pytest.mark.parametrize("priority, placed", [("normal", False), ("urgent", False), ("emergency", True)])
def test_quiet_hours_hold_calls_back_unless_emergency(calls_app, priority, placed):
    set_quiet(calls_app, quiet_now_span())
    delivery_id = queue_announcement_call(calls_app, priority=priority)
    drain(calls_app)
    assert bool(outbox_calls(calls_app)) is placed
    d = delivery_of(calls_app, delivery_id)
    if placed:
        assert d.status == "sending"
        return
    assert (d.status, d.attempts) == ("pending", 0)
    [at] = scheduled(calls_app, delivery_id)
    end = quiet_now_span().split("-")[1]
    assert f"{at.replace(tzinfo=dt.timezone.utc).astimezone(ZoneInfo('Asia/Ho_Chi_Minh')):%H:%M}" == end
    assert d.next_attempt_at == at.replace(tzinfo=dt.timezone.utc)


def test_concurrent_calls_are_capped(make_app, tmp_path, hotline_template, redis_url, shared_audio):
    app = build_hotline(make_app, redis_url, shared_audio, db_path=tmp_path / "g.sqlite", template=hotline_template, filled=True,
                        VOICE_MAX_CONCURRENT="2")
    set_quiet(app, "00:00-00:00")
    phones = add_residents(app, 3)
    ids = [queue_announcement_call(app, p) for p in [KNOWN, *phones]]
    drain(app)
    assert len(outbox_calls(app)) == 2
    waiting = [i for i in ids if delivery_of(app, i).status == "pending"]
    assert len(waiting) == 2 and all(len(scheduled(app, i)) == 1 for i in waiting)
    for i in ids:
        d = delivery_of(app, i)
        if d.status == "sending":
            Outbound(app, i, sid=d.provider_id, caller=d.phone).status("completed")
    drain(app, scheduled=True)
    assert sorted(c.recipient for c in outbox_calls(app)) == sorted([KNOWN, *phones])


# --- placing once --------------------------------------------------------------------------

def test_duplicated_jobs_place_one_call(make_app, pg_url, redis_url, shared_audio):
    """On PostgreSQL: a duplicated job, and two workers running it at the same moment, place one call."""
    app = build_hotline(make_app, redis_url, shared_audio, url=pg_url)
    try:
        set_quiet(app, "00:00-00:00")
        delivery_id = queue_announcement_call(app)
        again = queue_announcement_call(app)  # queued twice under the same key: one row, one job
        assert again == delivery_id
        with app.app_context():
            enqueue("gateway.ivr.jobs.place_call", delivery_id)  # and a duplicated job
        from gateway.ivr.jobs import place_call

        results, barrier = [], threading.Barrier(3)

        def worker():
            with app.app_context():
                barrier.wait()
                results.append(place_call(delivery_id))

        threads = [threading.Thread(target=worker) for _ in range(3)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        drain(app)
        assert len(outbox_calls(app)) == 1
        assert results.count("placed") == 1
        d = delivery_of(app, delivery_id)
        assert (d.status, d.attempts) == ("sending", 1)
    finally:
        from sqlalchemy import text

        from gateway.models import Base

        with app.extensions["gateway.engine"].begin() as conn:
            names = ", ".join(f'"{t.name}"' for t in Base.metadata.sorted_tables)
            conn.execute(text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))


def test_cancelled_announcement_is_not_called(calls_app):
    delivery_id = queue_announcement_call(calls_app)
    with calls_app.app_context():
        db = get_db()
        from gateway.models import Announcement

        db.scalar(select(Announcement)).status = "cancelled"
        db.commit()
    drain(calls_app)
    assert outbox_calls(calls_app) == []
    assert delivery_of(calls_app, delivery_id).status == "cancelled"


# --- missed-call callbacks -----------------------------------------------------------------

def missed(app, caller, status="canceled", sid="CA" + "5" * 32):
    params = {"CallSid": sid, "AccountSid": "AC" + "a" * 32, "From": caller, "To": "+842633822123",
              "Direction": "inbound", "CallStatus": status, "ApiVersion": "2010-04-01"}
    return signed_post(app.test_client(), "/ivr/status", params)


def callbacks(app):
    with app.app_context():
        return list(get_db().scalars(select(Delivery).where(Delivery.idempotency_key.like("callback:%"))
                                     .order_by(Delivery.id)))


@pytest.mark.parametrize("status", ["canceled", "no-answer", "busy"])
def test_missed_call_gets_a_callback_with_the_news(calls_app, status):
    assert missed(calls_app, KNOWN, status).status_code == 200
    assert missed(calls_app, KNOWN, status, sid="CA" + "6" * 32).status_code == 200  # rang twice: one callback
    [cb] = callbacks(calls_app)
    assert (cb.phone, cb.body, cb.status) == (KNOWN, "callback:normal", "pending")
    drain(calls_app)
    [row] = outbox_calls(calls_app)
    assert (row.recipient, row.body) == (KNOWN, "callback")
    call = Outbound(calls_app, cb.id, sid=delivery_of(calls_app, cb.id).provider_id)
    walk(call, [("answer", "human", CALLBACK_NEWS_MENU),
                ("press", "1", NEWS_MENU)])
    assert delivery_of(calls_app, cb.id).status == "answered"


def test_answered_inbound_call_gets_no_callback(calls_app):
    missed(calls_app, KNOWN, "completed")
    assert callbacks(calls_app) == []


def test_callback_mode_rejects_for_free_and_calls_back(make_app, tmp_path, hotline_template, redis_url, shared_audio):
    app = build_hotline(make_app, redis_url, shared_audio, db_path=tmp_path / "g.sqlite", template=hotline_template, filled=True,
                        HOTLINE_MODE="callback")
    set_quiet(app, quiet_now_span())  # even at night: the caller rang just now
    walk(Call(app, app.names), [("inbound", None, ["reject:busy"])])
    missed(app, KNOWN, "busy", sid="CA" + "1" * 32)  # the rejected call's own status callback
    [cb] = callbacks(app)
    drain(app)
    assert [r.recipient for r in outbox_calls(app)] == [KNOWN]
    assert delivery_of(app, cb.id).status == "sending"


def test_stale_callback_waits_for_quiet_hours_to_end(calls_app):
    missed(calls_app, KNOWN)
    [cb] = callbacks(calls_app)
    with calls_app.app_context():
        db = get_db()
        db.execute(update(Delivery).where(Delivery.id == cb.id).values(created_at=utcnow() - dt.timedelta(minutes=20)))
        db.commit()
    set_quiet(calls_app, quiet_now_span())
    drain(calls_app)
    assert outbox_calls(calls_app) == []
    assert len(scheduled(calls_app, cb.id)) == 1


def test_unknown_callers_are_called_back_within_limits(make_app, tmp_path, hotline_template, redis_url, shared_audio):
    app = build_hotline(make_app, redis_url, shared_audio, db_path=tmp_path / "g.sqlite", template=hotline_template, filled=True,
                        CALLBACK_UNKNOWN_PER_HOUR="2")
    set_quiet(app, "00:00-00:00")
    for caller in [UNKNOWN, UNKNOWN, "+84987000222", "+84987000333", "+14155550100", "client:Anonymous", ""]:
        assert missed(app, caller).status_code == 200
    assert [cb.phone for cb in callbacks(app)] == [UNKNOWN, "+84987000222"]  # once each, two an hour, +84 only
    missed(app, KNOWN)  # households are not limited by the unknown-number budget
    assert [cb.phone for cb in callbacks(app)][-1] == KNOWN
    drain(app)
    cb = callbacks(app)[0]
    call = Outbound(app, cb.id, sid=delivery_of(app, cb.id).provider_id, caller=UNKNOWN)
    walk(call, [
        ("answer", "human",
         ["gather:2[play:callback_greeting, play:area_unknown_caller, play:area_ask]"]),
        ("press", "5", NEWS_MENU),
    ])


# --- the Twilio provider, against its recorded HTTP ----------------------------------------

@pytest.fixture
def twilio_app(make_app, tmp_path, hotline_template, redis_url, shared_audio):
    app = build_hotline(make_app, redis_url, shared_audio, db_path=tmp_path / "g.sqlite", template=hotline_template, filled=True,
                        VOICE_PROVIDER="twilio", TWILIO_FROM_NUMBER="+842633822123")
    set_quiet(app, "00:00-00:00")
    return app


def twilio_call_json(sid):
    return {"sid": sid, "status": "queued", "to": KNOWN, "from": "+842633822123", "direction": "outbound-api",
            "account_sid": "AC" + "0" * 32, "uri": f"/2010-04-01/Accounts/AC{'0' * 32}/Calls/{sid}.json"}


@responses.activate
def test_twilio_places_the_call_with_machine_detection(twilio_app):
    responses.add(responses.POST, TWILIO_CALLS, status=201, json=twilio_call_json("CA" + "c" * 32))
    delivery_id = queue_announcement_call(twilio_app)
    drain(twilio_app)
    [sent] = responses.calls
    form = parse_qs(sent.request.body)
    assert form["To"] == [KNOWN] and form["From"] == ["+842633822123"]
    assert form["Url"] == [f"https://gw.example.vn/ivr/outbound?delivery={delivery_id}"]
    assert form["StatusCallback"] == [f"https://gw.example.vn/ivr/status?delivery={delivery_id}"]
    assert form["StatusCallbackEvent"] == ["initiated", "ringing", "answered", "completed"]
    assert form["MachineDetection"] == ["DetectMessageEnd"] and form["Method"] == ["POST"]
    d = delivery_of(twilio_app, delivery_id)
    assert (d.status, d.provider, d.provider_id) == ("sending", "twilio", "CA" + "c" * 32)
    assert outbox_calls(twilio_app) == []


# (recorded answer, delivery status after the job, error code)
TWILIO_ERRORS = [
    ((400, {"code": 21211, "message": "Invalid 'To' Phone Number", "status": 400}), "failed", "21211"),
    ((400, {"code": 21215, "message": "Geo permission not enabled", "status": 400}), "failed", "21215"),
    ((401, {"code": 20003, "message": "Authenticate", "status": 401}), "failed", "20003"),
    ((429, {"code": 20429, "message": "Too Many Requests", "status": 429}), "pending", None),
    ((503, {"code": 20500, "message": "Service unavailable", "status": 503}), "pending", None),
    (requests.ConnectionError("connection reset"), "pending", None),
]


@pytest.mark.parametrize("answer, status, code", TWILIO_ERRORS, ids=[str(c[0][0]) if isinstance(c[0], tuple)
                                                                       else "connection" for c in TWILIO_ERRORS])
@responses.activate
def test_twilio_errors_fail_permanently_or_retry(twilio_app, answer, status, code):
    if isinstance(answer, tuple):
        responses.add(responses.POST, TWILIO_CALLS, status=answer[0], json=answer[1])
    else:
        responses.add(responses.POST, TWILIO_CALLS, body=answer)
    responses.add(responses.POST, TWILIO_CALLS, status=201, json=twilio_call_json("CA" + "d" * 32))
    delivery_id = queue_announcement_call(twilio_app)
    drain(twilio_app)
    d = delivery_of(twilio_app, delivery_id)
    assert (d.status, d.error_code, d.attempts) == (status, code, 1 if code else 0)
    drain(twilio_app, scheduled=True)  # RQ's retry of a transient error
    d = delivery_of(twilio_app, delivery_id)
    if code:
        assert len(responses.calls) == 1 and d.status == "failed"
    else:
        assert len(responses.calls) == 2
        assert (d.status, d.provider_id, d.attempts) == ("sending", "CA" + "d" * 32, 1)


def test_voice_provider_registry_names_the_choices(make_app):
    from gateway.config import ConfigError

    with pytest.raises(ValueError, match="outbox, stringee, twilio"):
        make_app(VOICE_PROVIDER="nope")
    with pytest.raises(ConfigError, match="TWILIO_FROM_NUMBER"):
        make_app(GATEWAY_ENV="production", DATABASE_URL="sqlite:////tmp/x.sqlite", REDIS_URL="redis://127.0.0.1:6379/0",
                 VOICE_PROVIDER="twilio", TWILIO_FROM_NUMBER="", ALLOW_OUTBOX="1")
    with pytest.raises(ConfigError, match="HOTLINE_MODE"):
        make_app(HOTLINE_MODE="sometimes")


def test_queue_call_checks_its_arguments(calls_app):
    with calls_app.app_context():
        with pytest.raises(ValueError, match="purpose"):
            queue_call(get_db(), phone=KNOWN, key="x", purpose="chat")
        with pytest.raises(ValueError, match="priority"):
            queue_call(get_db(), phone=KNOWN, key="x", priority="asap")


def test_callback_answered_by_a_machine_leaves_the_news(calls_app):
    missed(calls_app, KNOWN)
    [cb] = callbacks(calls_app)
    drain(calls_app)
    call = Outbound(calls_app, cb.id, sid=delivery_of(calls_app, cb.id).provider_id)
    walk(call, [("answer", "machine_end_beep", ["play:callback_greeting", *NEWS, "play:goodbye", "hangup"])])
    d = delivery_of(calls_app, cb.id)
    assert (d.status, d.error_code) == ("answered", "machine")
