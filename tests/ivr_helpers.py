"""Walking calls through the IVR webhooks: signed posts (as Twilio sends them) and TwiML read back
as a short list of tokens a table can state, e.g. ["play:greeting", "gather:1[play:menu]", "redirect"]."""
import datetime as dt
import shutil
import xml.etree.ElementTree as ET
from urllib.parse import urlsplit

import pytest
import redis
from sqlalchemy import select
from twilio.request_validator import RequestValidator

from gateway.db import get_db
from gateway.demo import load_demo
from gateway.ivr import prompts
from gateway.media.assets import asset_url, request_announcement_audio
from gateway.models import Announcement, Area, Resident, utcnow
from gateway.queue import drain
from tests.conftest import TWILIO_TOKEN

BASE = "https://gw.example.vn"
HOTLINE = "+842633822123"
KNOWN = "+84912345678"  # a household in Khu phố 5
UNKNOWN = "+84987000111"
ACCOUNT = "AC" + "a" * 32


STRINGEE_SECRET = "stringee-signing-secret-for-tests"
STRINGEE_CONFIG = {"STRINGEE_SIGNING_SECRET": STRINGEE_SECRET, "STRINGEE_API_KEY_SID": "SKtest0123456789",
                   "STRINGEE_API_KEY_SECRET": "stringee-api-key-secret-0123456789abcdef",
                   "STRINGEE_NUMBER": "842633822123"}
DIALECTS = ("twiml", "stringee")


def sign(path, params):
    return RequestValidator(TWILIO_TOKEN).compute_signature(BASE + path, params)


def signed_post(client, path, params):
    """POST `params` to `path` with the signature Twilio would send."""
    return client.post(path, data=params, headers={"X-Twilio-Signature": sign(path, params)})


def stringee_signature(data):
    """X-STRINGEE-SIGNATURE as Stringee computes it: base64(HMAC-SHA1(secret, data)) [reference §1, S4]."""
    import base64
    import hashlib
    import hmac

    return base64.b64encode(hmac.new(STRINGEE_SECRET.encode(), data, hashlib.sha1).digest()).decode()


def stringee_get(client, path, params):
    """GET `path` with `params` signed over the Request-URI (spaces as %20)."""
    from urllib.parse import quote, urlencode

    uri = path + "?" + urlencode(params, quote_via=quote)
    return client.get(uri, headers={"X-STRINGEE-SIGNATURE": stringee_signature(uri.encode())})


def stringee_post(client, path, data):
    """POST the JSON `data` to `path` signed over the raw body."""
    import json

    body = json.dumps(data).encode()
    return client.post(path, data=body, content_type="application/json",
                       headers={"X-STRINGEE-SIGNATURE": stringee_signature(body)})


def local(url):
    """The path and query of an absolute URL we gave the provider."""
    parts = urlsplit(url)
    assert f"{parts.scheme}://{parts.netloc}" == BASE, url
    return parts.path + (f"?{parts.query}" if parts.query else "")


class Names:
    """Play URLs and Say texts → the names tests use (prompt keys, "ann:<title>")."""

    def __init__(self):
        self.urls, self.texts = {}, {}

    def learn(self, db):
        for key, text, state, asset in prompts.status(db):
            name = "areas" if key.startswith("areas_") else "greeting" if key.startswith("greeting_") else key
            self.texts[text] = name
            if asset is not None and state in ("ready", "recorded"):
                self.urls[asset_url(asset, "phone")] = name
        for ann in db.scalars(select(Announcement)):
            if ann.audio is not None and ann.audio.status == "ready":
                self.urls[asset_url(ann.audio, "phone")] = f"ann:{ann.title}"
            self.texts[ann.body] = f"ann:{ann.title}"


def tokens(element, names):
    """TwiML verbs as tokens; the Redirect after a Gather or Record (to its own action) is left out."""
    out = []
    verbs = list(element)
    for i, verb in enumerate(verbs):
        tag = verb.tag.lower()
        if tag == "play":
            out.append("play:" + names.urls.get(verb.text, verb.text))
        elif tag == "say":
            out.append("say:" + names.texts.get(verb.text, verb.text))
        elif tag == "gather":
            out.append(f"gather:{verb.get('numDigits')}[{', '.join(tokens(verb, names))}]")
        elif tag == "dial":
            out.append("dial:" + (verb.text or "").strip())
        elif tag == "reject":
            out.append("reject:" + verb.get("reason", ""))
        elif tag == "redirect" and i and verbs[i - 1].tag in ("Gather", "Record"):
            assert verb.text == verbs[i - 1].get("action"), "silence must lead to the same step"
        else:
            out.append(tag)
    return out


def scco_tokens(actions, names):
    """SCCO actions as the same tokens: barge-in prompts before an input are inside its gather."""
    out, pending = [], []
    for action in actions:
        kind = action["action"]
        if kind == "stream":
            token = "play:" + names.urls.get(action["streamUrl"], action["streamUrl"])
        elif kind == "talk":
            token = "say:" + names.texts.get(action["text"], action["text"])
        else:
            token = None
        if token is not None:
            assert action.get("bargeIn") or not pending, "a prompt nobody can interrupt inside a gather"
            (pending if action.get("bargeIn") else out).append(token)
            continue
        if kind == "input":
            out.append(f"gather:{action['maxDigits']}[{', '.join(pending)}]")
            pending = []
        elif kind == "recordMessage":
            out.append("record")
        elif kind == "connect":
            out.append("dial:+" + action["to"]["number"])
        else:
            out.append(kind)
    assert not pending, "barge-in prompts with no input after them"
    if not actions or actions[-1]["action"] not in ("input", "recordMessage", "connect"):
        out.append("hangup")  # an SCCO ends the call when its last action completes
    return out


class Turn:
    """One webhook answer: its HTTP status, its tokens, and the document (TwiML root or SCCO list)."""

    def __init__(self, resp, names, dialect="twiml"):
        self.status = resp.status_code
        self.dialect = dialect
        self.root = self.actions = None
        if dialect == "twiml":
            self.root = ET.fromstring(resp.data) if resp.data and resp.status_code == 200 else None
            self.tokens = tokens(self.root, names) if self.root is not None else []
        else:
            self.actions = resp.get_json() if resp.status_code == 200 else None
            self.tokens = scco_tokens(self.actions, names) if self.actions is not None else []

    def find(self, tag):
        if self.root is not None:
            return self.root.find(f".//{tag}")
        kind = {"Gather": "input", "Record": "recordMessage", "Dial": "connect"}[tag]
        return next((a for a in self.actions or [] if a["action"] == kind), None)

    def next_url(self, tag):
        """The URL the provider asks next after the waiting verb (its action or eventUrl)."""
        found = self.find(tag)
        if self.root is not None:
            return found.get("action")
        return found["onFailEventUrl"] if tag == "Dial" else found["eventUrl"]


class Call:
    """A phone call driven step by step in one dialect: each step follows the URLs the last answer gave."""

    def __init__(self, app, names, *, caller=KNOWN, sid="CA" + "1" * 32, direction="inbound", to=HOTLINE,
                 dialect="twiml"):
        self.client = app.test_client()
        self.names = names
        self.sid = sid
        self.dialect = dialect
        self.caller, self.to = caller, to
        self.fields = {"AccountSid": ACCOUNT, "ApiVersion": "2010-04-01", "CallSid": sid, "Direction": direction}
        if direction == "inbound":
            self.fields.update({"From": caller, "Caller": caller, "To": to, "Called": to})
        else:
            self.fields.update({"From": HOTLINE, "Caller": HOTLINE, "To": caller, "Called": caller})
        self.last = None

    def post(self, path, **extra):
        """A TwiML step (form fields), or a Stringee action result (`extra` is the JSON body)."""
        if self.dialect == "twiml":
            params = {**self.fields, "CallStatus": "in-progress", **extra}
            resp = signed_post(self.client, path, params)
        else:
            resp = stringee_post(self.client, path, {"call_id": self.sid, **extra})
        self.last = Turn(resp, self.names, self.dialect)
        return self.last

    def inbound(self):
        if self.dialect == "twiml":
            return self.post("/ivr/inbound", CallStatus="ringing")
        params = {"from": self.caller.lstrip("+"), "to": self.to.lstrip("+"), "uuid": self.sid,
                  "fromInternal": "false"}
        self.last = Turn(stringee_get(self.client, "/ivr/stringee/answer", params), self.names, self.dialect)
        return self.last

    def press(self, digits, finished_on_key=""):
        url = local(self.last.next_url("Gather"))
        if self.dialect == "twiml":
            return self.post(url, Digits=digits, FinishedOnKey=finished_on_key)
        return self.post(url, dtmf=digits, timeout=False, customField="")

    def silence(self):
        """No key before the timeout: Twilio falls through to the Redirect; Stringee posts timeout."""
        if self.dialect == "twiml":
            redirect = self.last.root.find("Redirect")
            return self.post(local(redirect.text))
        return self.post(local(self.last.next_url("Gather")), dtmf="", timeout=True, customField="")

    def recorded(self, *, digits="#", sid="RE" + "2" * 32, seconds="14"):
        """The <Record> action Twilio requests when the recording ends (Stringee: recordMessage's eventUrl)."""
        url = local(self.last.next_url("Record"))
        if self.dialect == "twiml":
            return self.post(url, RecordingUrl=recording_url(sid), RecordingSid=sid,
                             RecordingDuration=seconds, Digits=digits,
                             **({"CallStatus": "completed"} if digits == "hangup" else {}))
        return self.post(url, recording_url=stringee_recording_url(sid))

    def nothing_recorded(self):
        """The recording was empty: Twilio falls through to the Redirect; Stringee posts no recording."""
        if self.dialect == "twiml":
            return self.post(local(self.last.root.find("Redirect").text))
        return self.post(local(self.last.next_url("Record")))

    def recording_status(self, record, *, sid="RE" + "2" * 32, seconds="14"):
        """The recordingStatusCallback (also sent when the caller hung up mid-recording); beside the call's
        own steps, so what the caller hears next is still the last answer."""
        last = self.last
        try:
            return self.post(local(record.get("recordingStatusCallback")), RecordingUrl=recording_url(sid),
                             RecordingSid=sid, RecordingStatus="completed", RecordingDuration=seconds,
                             RecordingChannels="1", RecordingSource="RecordVerb")
        finally:
            self.last = last

    def dialed(self, status):
        if self.dialect == "twiml":
            return self.post(local(self.last.next_url("Dial")), DialCallStatus=status)
        return self.post(local(self.last.next_url("Dial")), call_status=status)


def recording_url(sid):
    return f"https://api.twilio.com/2010-04-01/Accounts/{ACCOUNT}/Recordings/{sid}"


def stringee_recording_url(sid):
    return f"https://api.stringee.com/v1/call/play/{sid}.mp3"


def walk(call, steps):
    """Run (action, argument, expected tokens) steps; the first failing step is named."""
    for i, (action, arg, expected) in enumerate(steps):
        turn = getattr(call, action)(*([] if arg is None else [arg]))
        assert turn.status == 200, f"step {i} {action}: HTTP {turn.status}"
        assert turn.tokens == expected, f"step {i} {action}({arg}): {turn.tokens}"
    return call.last


def announce(db, area, title, body, **kw):
    """A live announcement for `area`."""
    now = utcnow()
    ann = Announcement(title=title, body=body, areas=[area], status=kw.pop("status", "sent"),
                       send_at=now - dt.timedelta(hours=1), expires_at=now + dt.timedelta(days=2), **kw)
    db.add(ann)
    db.commit()
    return ann


def area(db, code):
    return db.scalar(select(Area).where(Area.code == code))


@pytest.fixture(scope="session")
def shared_audio(tmp_path_factory):
    """One AUDIO_DIR for the IVR tests: a prompt rendered once is a cache hit for every later test."""
    return tmp_path_factory.mktemp("ivr-audio")


@pytest.fixture(scope="session")
def hotline_template(tmp_path_factory, sqlite_template, redis_url, shared_audio):
    """A SQLite file holding the hotline's data with everything rendered, built once and copied per test."""
    from gateway import create_app
    from tests.conftest import base_config

    folder = tmp_path_factory.mktemp("hotline-template")
    path = folder / "hotline.sqlite"
    shutil.copy(sqlite_template, path)
    app = create_app(base_config(folder, DATABASE_URL=f"sqlite:///{path}", REDIS_URL=redis_url,
                                 AUDIO_DIR=str(shared_audio)))
    redis.Redis.from_url(redis_url).flushdb()
    with app.app_context():
        fill(app, get_db(), render=True)
    app.extensions["gateway.engine"].dispose()
    return path


@pytest.fixture
def hotline(make_app, tmp_path, hotline_template, redis_url, shared_audio):
    """The demo commune with a known caller in Khu phố 5, a live announcement there, and every
    prompt and the announcement rendered (real espeak-ng and ffmpeg, through the RQ audio queue)."""
    return build_hotline(make_app, redis_url, shared_audio, db_path=tmp_path / "gateway.sqlite",
                         template=hotline_template, filled=True)


def build_hotline(make_app, redis_url, audio_dir, *, db_path=None, template=None, url=None, render=True,
                  filled=False, **config):
    """An app with the hotline's data: copied from a filled template, or filled now (PostgreSQL)."""
    redis.Redis.from_url(redis_url).flushdb()
    if url is None:
        shutil.copy(template, db_path)
        url = f"sqlite:///{db_path}"
    app = make_app(DATABASE_URL=url, REDIS_URL=redis_url, AUDIO_DIR=str(audio_dir), **{**STRINGEE_CONFIG, **config})
    app.testing = True
    with app.app_context():
        db = get_db()
        if not filled:
            fill(app, db, render=render)
        names = Names()
        names.learn(db)
    app.names = names
    return app


def fill(app, db, *, render):
    """The demo commune, a known caller in KP5, a live announcement there; prompts rendered if `render`."""
    load_demo(db, households=30)
    kp5 = area(db, "KP5")
    db.add(Resident(phone=KNOWN, name="Cụ Nguyễn Văn Năm", area_id=kp5.children[0].id, is_elderly=True,
                    prefers_voice=True, no_smartphone=True, consent_source="test"))
    ann = announce(db, kp5, "Tiêm phòng dại", "Sáng thứ bảy tiêm phòng dại cho chó mèo tại nhà văn hóa khu phố 5.")
    if render:
        prompts.render_all(db)
        request_announcement_audio(db, ann)
        drain(app, ["audio"])
