"""Fuzzing every route: requests built from a seed of awkward values, signed as each provider signs
(or not), and the two checks that matter: no 500, and no correctly signed inbound SMS lost.

Shared by tests/test_fuzz.py (hypothesis drives `Case`s) and scripts/fuzz.py (random drives them).
Routes come from `app.url_map`, so a new route is fuzzed without anyone listing it here.
"""
import dataclasses
import itertools
import json
import random
import string
import time
from dataclasses import dataclass, field
from urllib.parse import urlencode

from sqlalchemy import func, select
from twilio.request_validator import RequestValidator
from werkzeug.datastructures import MultiDict

from gateway.mirror.webhook import sign as webhook_sign
from gateway.sms.providers.android import signature as android_signature

BASE = "https://gw.example.vn"
SECRETS = {
    "TELEGRAM_WEBHOOK_SECRET": "tg-secret-0123456789",
    "ZALO_WEBHOOK_SECRET": "zalo-secret-0123456789",
    "GROUP_WEBHOOK_SECRET": "webhook-secret-0123456789",
    "SMS_ANDROID_SIGNING_KEY": "android-signing-key",
    "ESMS_CALLBACK_TOKEN": "esms-token-0123456789",
}
# Values that broke something once, or could: digits that are not ASCII, numbers past INTEGER,
# dates before year 1 in UTC, NUL, over-long ids, formulas, markup, numbers as residents write them.
AWKWARD = [
    "", " ", "0", "1", "2", "-1", "²", "٣", "1²", "9" * 20, "4294967296", "2147483648", "1e309", "NaN", "Infinity",
    "-inf", "0001-01-01", "0001-01-01T00:00:00", "9999-12-31T23:59:59-10:00", "2026-02-30", "2026-11-25T08:30:00Z",
    "\x00", "a\x00b", "SM\x00" + "0" * 32, "x" * 101, "y" * 501, "z" * 5000, "=1+1", "+84912345678", "0912345678",
    "84912345678", "0912.345.678", "<script>alert(1)</script>", "'; DROP TABLE reports; --", "#1 Đã tiếp nhận",
    "#99999999999 x", "lx-1", "lx-" + "9" * 30, "lx-abc", "DK KP5", "TIN", "HUY", "PA rác thải", "1", "sms:received",
    "sms:sent", "completed", "in-progress", "no-answer", "busy", "outbound-api", "inbound", "machine_start", "fax",
    "hangup", "message.text.received", "json", "xml", "txt", "open", "closed", "security", "KP1", "Khu phố 1",
    "Tổ 3", "\u202e", "\ufeff", "ﬁ", "e\u0301", "😀", "%00", "../../etc/passwd", "https://example.com/" + "r" * 600,
]
# Values that reach deeper: ids and numbers that exist after `set_up`, codes, a linked group member.
PLAUSIBLE = [
    "1", "2", "3", "kp1-group", "tanlap-main", "77", "42", "admin", "#1 Đã xử lý xong", "#2", "KP1", "KP2", "T1",
    "environment", "other", "open", "new", "resolved", "acknowledged", "sms:received", "sms:delivered",
    "message.text.received", "10.76", "106.66", "completed", "answered", "human", "json", "+84912345678",
    "https://api.twilio.com/2010-04-01/Accounts/AC0/Recordings/RE0", "RE0123", "CA0123", "lx-1-0123456789",
]
# Field and argument names the gateway reads, from every provider: a fuzzed request uses these.
NAMES = [
    "From", "To", "Body", "MessageSid", "SmsSid", "AccountSid", "NumMedia", "MessageStatus", "SmsStatus",
    "ErrorCode", "CallSid", "CallStatus", "Direction", "Digits", "AnsweredBy", "DialCallStatus", "RecordingUrl",
    "RecordingSid", "RecordingStatus", "RecordingDuration", "CallDuration", "area", "tries", "category",
    "delivery", "lead", "purpose", "status", "limit", "offset", "page", "format", "download", "token", "SMSID",
    "RequestId", "SendStatus", "SendSuccess", "SendFailed", "jurisdiction_id", "service_request_id",
    "service_code", "start_date", "end_date", "api_key", "lat", "long", "address_string", "address_id",
    "description", "next", "phone", "after", "login", "password", "q",
]
# Fields a route reads, added to most of its fuzzed requests so they get past the first check.
HINTS = {
    "/open311/v2/requests.<fmt>": ("service_code", "description", "address_id", "lat", "long", "jurisdiction_id"),
    "/ivr/": ("area", "CallSid", "From", "To", "Digits", "RecordingUrl", "RecordingStatus", "category", "delivery"),
    "/sms/status": ("MessageSid", "MessageStatus", "ErrorCode"),
    "/sms/esms/status": ("SMSID", "RequestId", "SendStatus", "SendSuccess", "SendFailed"),
    "/api/reports": ("area", "status", "category", "limit", "offset"),
}
# JSON shapes of the providers' events, with holes the fuzzer fills.
JSON_SHAPES = ("telegram", "zalo", "webhook", "android", "api", "any")


@dataclass
class Case:
    """One fuzzed request, before signing."""

    rule: str
    method: str
    path_values: dict = field(default_factory=dict)
    args: list = field(default_factory=list)
    form: list = field(default_factory=list)
    json_body: object = None  # used when `json_kind` is not None
    json_kind: str | None = None
    signed: bool = True
    timestamp: str | None = None  # None: now


def routes(app):
    """(rule, method) for every route but static files."""
    found = []
    for rule in app.url_map.iter_rules():
        if rule.endpoint.endswith("static"):
            continue
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            found.append((rule, method))
    return found


def path_of(rule, values):
    """The rule's path with each <arg> replaced by its (awkward) value, escaped as a client would."""
    from urllib.parse import quote

    path = rule.rule
    while "<" in path:
        start, end = path.index("<"), path.index(">")
        name = path[start + 1:end].split(":")[-1]
        path = path[:start] + quote(str(values.get(name, "1")), safe="") + path[end + 1:]
    return path


def twilio_route(rule):
    return rule.startswith(("/sms/inbound", "/sms/status", "/ivr/"))


def send(client, case, token=None):
    """Sign and send `case` as its provider would (console pages: as the logged-in admin); the response."""
    path = path_of(_rule(client.application, case.rule), case.path_values)
    args = list(case.args)
    headers = {}
    if case.signed and case.rule.startswith("/console") and case.rule != "/console/logout":
        csrf = console_login(client)
        headers["X-CSRF-Token"] = csrf
        if case.method == "POST" and case.json_kind is None:
            case = dataclasses.replace(case, form=list(case.form) + [("csrf_token", csrf)])
    if case.signed and case.rule == "/sms/esms/status":
        args.append(("token", SECRETS["ESMS_CALLBACK_TOKEN"]))
    query = urlencode(args)
    url_path = path + (f"?{query}" if query else "")
    body, content_type = None, None
    if case.json_kind is not None:
        body = case.json_body if isinstance(case.json_body, bytes) else json.dumps(case.json_body).encode("utf-8")
        content_type = "application/json"
    elif case.method == "POST":
        form = MultiDict(case.form)
        body, content_type = urlencode(list(form.items(multi=True))).encode("utf-8"), "application/x-www-form-urlencoded"
    if case.signed:
        headers.update(_signature(case, url_path, body))
    if case.signed and token and (case.rule.startswith("/api/")):
        headers["Authorization"] = f"Bearer {token}"
    if case.signed and token and case.rule.startswith("/open311/") and case.method == "POST":
        body = (body + b"&" if body else b"") + urlencode({"api_key": token}).encode()
    return client.open(url_path, method=case.method, data=body, content_type=content_type, headers=headers)


def console_login(client):
    """Log `client` in to the console as the demo admin (once); the session's CSRF token."""
    from tests.console_helpers import CSRF

    html = client.get("/console/downloads").get_data(as_text=True)
    if "/console/logout" not in html:
        token = CSRF.search(client.get("/console/login").get_data(as_text=True)).group(1)
        client.post("/console/login", data={"login": "admin", "password": "demo1234", "csrf_token": token})
        html = client.get("/console/downloads").get_data(as_text=True)
    return CSRF.search(html).group(1)


def _rule(app, text):
    for rule in app.url_map.iter_rules():
        if rule.rule == text:
            return rule
    raise KeyError(text)


def _signature(case, url_path, body):
    rule = case.rule
    ts = case.timestamp or str(int(time.time()))
    if twilio_route(rule):
        if case.json_kind is not None:
            return {}
        form = MultiDict(case.form)
        from tests.conftest import TWILIO_TOKEN

        return {"X-Twilio-Signature": RequestValidator(TWILIO_TOKEN).compute_signature(BASE + url_path, form)}
    if rule == "/sms/android":
        return {"X-Timestamp": ts, "X-Signature": android_signature(SECRETS["SMS_ANDROID_SIGNING_KEY"], body or b"",
                                                                    ts if ts.isascii() else "0")}
    if rule == "/bots/telegram":
        return {"X-Telegram-Bot-Api-Secret-Token": SECRETS["TELEGRAM_WEBHOOK_SECRET"]}
    if rule == "/bots/zalo":
        return {"X-Bot-Api-Secret-Token": SECRETS["ZALO_WEBHOOK_SECRET"]}
    if rule == "/bots/webhook":
        return {"X-Loaxom-Timestamp": ts, "X-Loaxom-Signature": webhook_sign(SECRETS["GROUP_WEBHOOK_SECRET"],
                                                                             ts if ts.isascii() else "0", body or b"")}
    return {}


def carries_sms(case):
    """True when `case` is a correctly signed, fresh inbound SMS with something in it: it must be stored.

    Fresh: signed now, and with no message id or one no earlier request had (a repeated id is the
    provider retrying, rightly stored once)."""
    if not case.signed or case.timestamp is not None:
        return False
    if case.rule == "/sms/inbound" and case.method == "POST" and case.json_kind is None:
        form = MultiDict(case.form)
        fresh = all(sid.startswith("SMfuzz") for sid in form.getlist("MessageSid")[:1] if sid)
        return fresh and bool(form.get("From") or form.get("Body"))
    if case.rule == "/sms/android" and isinstance(case.json_body, dict):
        event, payload = case.json_body, case.json_body.get("payload")
        fresh = event.get("id") in (None, "") or str(event.get("id")).startswith("SMfuzz")
        return (fresh and event.get("event") == "sms:received" and isinstance(payload, dict)
                and any(isinstance(payload.get(k), str) and payload.get(k)
                        for k in ("message", "sender", "phoneNumber")))
    return False


def stored_count(app):
    """Inbound SMS rows in `app`'s database."""
    from gateway.db import get_db
    from gateway.models import InboundMessage

    with app.app_context():
        return get_db().scalar(select(func.count()).select_from(InboundMessage))


def check(app, client, case, token=None):
    """Send `case`; (problem or None, status). A problem is a 500 or a signed SMS not stored."""
    sms = carries_sms(case)
    before = stored_count(app) if sms else 0
    resp = send(client, case, token)
    if resp.status_code >= 500:
        return f"HTTP {resp.status_code}", resp.status_code
    if sms and stored_count(app) != before + 1:
        return f"signed SMS not stored (HTTP {resp.status_code})", resp.status_code
    return None, resp.status_code


def set_up(app):
    """The demo commune, and an admin's API token; returns the token."""
    from gateway.auth import issue_token
    from gateway.db import get_db
    from gateway.demo import load_demo
    from gateway.models import Area, GroupPost, Official
    from gateway.reports.records import open_report

    with app.app_context():
        db = get_db()
        commune = load_demo(db, households=20)
        admin = db.scalar(select(Official).where(Official.role == "admin"))
        admin.link_account("telegram", "42")
        admin.link_account("zalo", "42")
        token = issue_token(db, admin)
        area = db.scalar(select(Area).where(Area.code == "KP1"))
        for n in range(3):
            report = open_report(db, commune=commune, channel="sms", text=f"Phản ánh {n}", area=area,
                                 phone="+84912345678")
            db.add(GroupPost(idempotency_key=f"fuzz:{n}", area_id=area.id, report_id=report.id, target="telegram",
                             chat_id="kp1-group", text="#", message_id=str(77 + n), status="posted"))
        db.commit()
    return token


def json_shape(kind, fill):
    """A provider-shaped JSON body whose leaves come from `fill()` (an awkward value or a random one)."""
    if kind == "telegram":
        return {"update_id": fill(), "message": {"message_id": fill(), "text": fill(), "chat": {"id": fill()},
                                                 "from": {"id": fill()}, "reply_to_message": {"message_id": fill()}}}
    if kind == "zalo":
        return {"ok": True, "result": {"event_name": fill(), "message": {"message_id": fill(), "text": fill(),
                                                                         "chat": {"id": fill()}, "from": {"id": fill()}}}}
    if kind == "webhook":
        return {"id": fill(), "chat_id": fill(), "text": fill(), "official": fill(), "reply_to": fill()}
    if kind == "android":
        return {"event": fill(), "id": fill(), "deviceId": fill(),
                "payload": {"message": fill(), "sender": fill(), "phoneNumber": fill(), "recipient": fill(),
                            "messageId": fill(), "reason": fill()}}
    if kind == "api":
        return {"status": fill(), "note": fill(), "text": fill(), "title": fill(), "body": fill(), "areas": [fill()],
                "channels": [fill()], "priority": fill(), "send_at": fill(), "recording_id": fill()}
    return fill()


# -- random cases (scripts/fuzz.py) ----------------------------------------------------------

JSON_ODDITIES = [None, True, False, 0, -1, 2**64, 10**30, 1.5, [], {}, [1, 2], "\ud800", "\udfff x", "a\x00b",
                 {"a": None}, ""]


_ids = itertools.count(1)


def message_id():
    """A provider message id no other fuzzed request has (the same id twice is a duplicate, rightly dropped)."""
    return f"SMfuzz{next(_ids):026d}"


def random_value(rng):
    """An awkward or plausible value, a random string, or a number."""
    roll = rng.random()
    if roll < 0.3:
        return rng.choice(PLAUSIBLE)
    if roll < 0.55:
        return rng.choice(AWKWARD)
    if roll < 0.75:
        return "".join(rng.choice(string.printable + "ăâđêôơưáàảãạ\x00") for _ in range(rng.randint(0, 40)))
    if roll < 0.9:
        return str(rng.randint(-10**22, 10**22))
    return rng.choice(AWKWARD)


def random_json_leaf(rng):
    return rng.choice(JSON_ODDITIES) if rng.random() < 0.4 else random_value(rng)


def random_case(rng, rule, method, *, sms_from=None):
    """A random Case for (rule, method); `sms_from` puts a valid sender on inbound SMS more often."""
    values = {name: random_value(rng) if rng.random() < 0.6 else str(rng.randint(1, 5)) for name in rule.arguments}
    if "fmt" in values and rng.random() < 0.7:
        values["fmt"] = rng.choice(["json", "xml"])
    names = rng.sample(NAMES, rng.randint(0, 8))
    for prefix, hinted in HINTS.items():
        if rule.rule.startswith(prefix) and rng.random() < 0.7:
            names += [n for n in hinted if rng.random() < 0.7]
    pairs = [(n, random_value(rng)) for n in names]
    case = Case(rule=rule.rule, method=method, path_values=values, signed=rng.random() < 0.8)
    if rng.random() < 0.1:
        case.timestamp = rng.choice(["²", "-1", "0", "9" * 20, "", "1e3"])
    if method == "GET":
        case.args = pairs
        return case
    case.args = pairs[: len(pairs) // 3]
    wants_json = rule.rule.startswith(("/bots/", "/sms/android", "/api/")) or rng.random() < 0.1
    if wants_json:
        kind = {"/bots/telegram": "telegram", "/bots/zalo": "zalo", "/bots/webhook": "webhook",
                "/sms/android": "android"}.get(rule.rule, "api")
        case.json_kind = kind if rng.random() < 0.85 else "any"
        case.json_body = json_shape(case.json_kind, lambda: random_json_leaf(rng))
        if case.json_kind == "android" and rng.random() < 0.6:
            case.json_body["event"] = "sms:received"
            if sms_from and rng.random() < 0.5:
                case.json_body["payload"]["sender"] = sms_from
            if rng.random() < 0.7:
                case.json_body["id"] = message_id()
        if rng.random() < 0.05:
            case.json_body = rng.choice([b"", b"{", b"NaN", b"[1,2", b"\xff\xfe", b'{"a": Infinity}',
                                         b"1" * 5000, b"[" * 5000])
    else:
        case.form = pairs
        if rule.rule == "/sms/inbound" and rng.random() < 0.7:
            case.form += [("From", sms_from or random_value(rng)), ("Body", random_value(rng)),
                          ("MessageSid", message_id())]
    return case


def sms_case(rng, case):
    """`case` made a correctly signed, fresh inbound SMS whose text and sender are awkward values."""
    body, sender = random_value(rng), rng.choice(["+84912345678", "0912.345.678", "01623456789", random_value(rng)])
    case = dataclasses.replace(case, signed=True, timestamp=None)
    if case.rule == "/sms/android":
        case.json_kind = "android"
        case.json_body = {"event": "sms:received", "id": message_id(), "payload": {"message": body, "sender": sender}}
    else:
        case.json_kind = None
        case.form = [p for p in case.form if p[0] not in ("From", "Body", "MessageSid")]
        case.form += [("From", sender), ("Body", body), ("MessageSid", message_id())]
    return case


def run(app, n, seed=0, progress=None):
    """Send `n` random requests spread over every route; {"requests", "http_500", "lost_sms", "problems"}."""
    rng = random.Random(seed)
    token = set_up(app)
    client = app.test_client()
    table = routes(app)
    counts = {"requests": 0, "signed_sms": 0, "http_500": 0, "lost_sms": 0, "problems": {}}
    inbound = [(rule, method) for rule, method in table if rule.rule in ("/sms/inbound", "/sms/android")]
    for i in range(n):
        # Every tenth request is a signed inbound SMS with an awkward text or sender: each must be stored.
        rule, method = rng.choice(inbound) if i % 10 == 9 else table[i % len(table)]
        case = random_case(rng, rule, method, sms_from=rng.choice(["+84912345678", "0987654321", None]))
        if i % 10 == 9:
            case = sms_case(rng, case)
        problem, _status = check(app, client, case, token)
        counts["requests"] += 1
        counts["signed_sms"] += carries_sms(case)
        if problem:
            counts["http_500" if problem.startswith("HTTP 5") else "lost_sms"] += 1
            key = f"{method} {rule.rule}: {problem}"
            counts["problems"].setdefault(key, case)
        if progress and (i + 1) % 1000 == 0:
            progress(i + 1, counts)
    return counts
