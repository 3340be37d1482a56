"""Each group target against its platform's recorded HTTP: success, rate limits, failures."""
import hashlib
import hmac
import json

import pytest
import requests
import responses

from gateway.mirror import get_target
from gateway.mirror.base import ChatMigrated
from gateway.transport import TransportError

CONFIG = {
    "TELEGRAM_BOT_TOKEN": "123:abc", "TELEGRAM_WEBHOOK_SECRET": "s3cret",
    "ZALO_BOT_TOKEN": "999:zzz", "ZALO_WEBHOOK_SECRET": "zsecret",
    "ZALO_OA_ACCESS_TOKEN": "oa-token", "GROUP_WEBHOOK_SECRET": "whsecret",
}
TG = "https://api.telegram.org/bot123:abc/sendMessage"
ZALO = "https://bot-api.zaloplatforms.com/bot999:zzz/sendMessage"
OA = "https://openapi.zalo.me/v3.0/oa/group/message"
HOOK = "https://hooks.example.org/group/kp5"

# target, url, chat id, recorded answer (status, json body, headers), expected id or error (permanent, retry_after)
CASES = [
    ("telegram", TG, "-100123", (200, {"ok": True, "result": {"message_id": 42, "date": 1}}, {}), "42"),
    ("telegram", TG, "-100123", (429, {"ok": False, "error_code": 429, "description": "Too Many Requests: retry after 7",
                                       "parameters": {"retry_after": 7}}, {}), (False, 7)),
    ("telegram", TG, "-100123", (403, {"ok": False, "error_code": 403,
                                       "description": "Forbidden: bot was kicked from the group chat"}, {}), (True, None)),
    ("telegram", TG, "-100123", (400, {"ok": False, "error_code": 400, "description": "Bad Request: chat not found"}, {}),
     (True, None)),
    ("telegram", TG, "-100123", (502, "<html>Bad Gateway</html>", {}), (False, None)),
    ("zalo", ZALO, "g-1", (200, {"ok": True, "result": {"message_id": "m-9", "date": 1}}, {}), "m-9"),
    ("zalo", ZALO, "g-1", (429, {"ok": False, "error_code": 429, "description": "rate limited"},
                           {"Retry-After": "30"}), (False, 30)),
    ("zalo", ZALO, "g-1", (200, {"ok": False, "error_code": 403, "description": "not a member"}, {}), (True, None)),
    ("zalo", ZALO, "g-1", (500, {"ok": False, "error_code": 500, "description": "internal"}, {}), (False, None)),
    ("zalo_oa", OA, "grp", (200, {"error": 0, "message": "Success", "data": {"message_id": "oa-1"}}, {}), "oa-1"),
    ("zalo_oa", OA, "grp", (200, {"error": -32, "message": "limit exceeded"}, {}), (False, None)),
    ("zalo_oa", OA, "grp", (429, "", {"Retry-After": "5"}), (False, 5)),
    ("webhook", HOOK, HOOK, (200, {"message_id": "w-1"}, {}), "w-1"),
    ("webhook", HOOK, HOOK, (429, "", {"Retry-After": "12"}), (False, 12)),
    ("webhook", HOOK, HOOK, (410, "gone", {}), (True, None)),
    ("webhook", HOOK, HOOK, (503, "", {}), (False, None)),
]


@pytest.mark.parametrize("name, url, chat, answer, expected", CASES,
                         ids=[f"{c[0]}-{c[3][0]}-{i}" for i, c in enumerate(CASES)])
@responses.activate
def test_target_answers(name, url, chat, answer, expected):
    status, body, headers = answer
    kwargs = {"json": body} if isinstance(body, dict) else {"body": body}
    responses.add(responses.POST, url, status=status, headers=headers, **kwargs)
    target = get_target(name, CONFIG)
    if isinstance(expected, str):
        assert target.post(chat, "Phản ánh #1", reply_to="41") == expected
        return
    with pytest.raises(TransportError) as err:
        target.post(chat, "Phản ánh #1")
    assert (err.value.permanent, err.value.retry_after) == expected


@responses.activate
def test_telegram_sends_plain_text_as_a_reply():
    responses.add(responses.POST, TG, json={"ok": True, "result": {"message_id": 43}})
    get_target("telegram", CONFIG).post("-100123", "<b>không phải HTML</b>", reply_to="42")
    sent = json.loads(responses.calls[0].request.body)
    assert sent["text"] == "<b>không phải HTML</b>" and "parse_mode" not in sent  # nothing is interpreted
    assert sent["reply_parameters"] == {"message_id": 42, "allow_sending_without_reply": True}


@responses.activate
def test_telegram_group_that_became_a_supergroup():
    responses.add(responses.POST, TG, status=400, json={
        "ok": False, "error_code": 400, "description": "Bad Request: group chat was upgraded to a supergroup chat",
        "parameters": {"migrate_to_chat_id": -1009876}})
    with pytest.raises(ChatMigrated) as err:
        get_target("telegram", CONFIG).post("-123", "x")
    assert err.value.new_chat_id == "-1009876"


@responses.activate
def test_zalo_messages_are_cut_to_2000_characters():
    responses.add(responses.POST, ZALO, json={"ok": True, "result": {"message_id": "1"}})
    get_target("zalo", CONFIG).post("g", "ả" * 2500)
    assert len(json.loads(responses.calls[0].request.body)["text"]) == 2000


@responses.activate
def test_zalo_oa_sends_the_token_in_its_header():
    responses.add(responses.POST, OA, json={"error": 0, "data": {"message_id": "1"}})
    get_target("zalo_oa", CONFIG).post("grp", "xin chào")
    request = responses.calls[0].request
    assert request.headers["access_token"] == "oa-token"
    assert json.loads(request.body) == {"recipient": {"group_id": "grp"}, "message": {"text": "xin chào"}}


@responses.activate
def test_webhook_is_signed_over_timestamp_and_body():
    responses.add(responses.POST, HOOK, json={})
    get_target("webhook", CONFIG).post(HOOK, "Phản ánh #7", data={"report_id": 7})
    request = responses.calls[0].request
    ts = request.headers["X-Loaxom-Timestamp"]
    expected = hmac.new(b"whsecret", f"{ts}.".encode() + request.body, hashlib.sha256).hexdigest()
    assert request.headers["X-Loaxom-Signature"] == f"sha256={expected}"
    assert json.loads(request.body)["event"] == {"report_id": 7}


@pytest.mark.parametrize("exc", [requests.ConnectTimeout, requests.ConnectionError, requests.ReadTimeout])
@responses.activate
def test_unreachable_platform_is_transient(exc):
    responses.add(responses.POST, TG, body=exc("down"))
    with pytest.raises(TransportError) as err:
        get_target("telegram", CONFIG).post("-1", "x")
    assert err.value.permanent is False


@pytest.mark.parametrize("name", ["telegram", "zalo", "zalo_oa", "webhook"])
def test_missing_credentials_are_a_permanent_error_naming_the_setting(name):
    with pytest.raises(TransportError) as err:
        get_target(name, {})
    assert err.value.permanent and err.value.code == "not_configured" and "_" in str(err.value)


def test_unknown_target_lists_the_known_ones():
    with pytest.raises(ValueError, match="outbox, telegram, webhook, zalo, zalo_oa"):
        get_target("facebook", {})
