"""Officials answer in the group; the answer reaches the reporter by SMS."""
import json
import time

import pytest
from flask import request
from sqlalchemy import select

from gateway.mirror import MIRROR_TARGETS
from gateway.mirror.base import GroupReply
from gateway.mirror.webhook import sign
from gateway.models import Area, Delivery, GroupPost, Official
from gateway.queue import drain
from tests.test_casework import new_report

SECRET = "tg-secret"


@pytest.fixture
def group(app, db, demo):
    """KP1's group on Telegram, its leader linked; a report posted there as message 500."""
    app.config.update(TELEGRAM_BOT_TOKEN="T:1", TELEGRAM_WEBHOOK_SECRET=SECRET, ZALO_WEBHOOK_SECRET="z-secret",
                      GROUP_WEBHOOK_SECRET="wh-secret")
    kp1 = db.scalar(select(Area).where(Area.code == "KP1"))
    kp1.group_target, kp1.group_chat_id = "telegram", "-1001"
    leader = db.scalar(select(Official).where(Official.login == "truongkp1"))
    leader.link_account("telegram", "111")
    leader.link_account("zalo", "z-111")
    db.commit()
    report = new_report(db, code="KP1")
    post = db.scalar(select(GroupPost).where(GroupPost.report_id == report.id))
    post.status, post.message_id = "posted", "500"
    db.commit()
    return report


def update(text, *, sender=111, reply_to=None, message_id=900, chat=-1001):
    message = {"message_id": message_id, "chat": {"id": chat, "type": "supergroup"},
               "from": {"id": sender, "is_bot": False, "first_name": "Hoa"}, "text": text, "date": 1}
    if reply_to is not None:
        message["reply_to_message"] = {"message_id": reply_to, "text": "Phản ánh #1"}
    return {"update_id": message_id, "message": message}


def relayed(db, report):
    return [d.body for d in db.scalars(select(Delivery).where(Delivery.report_id == report.id).order_by(Delivery.id))]


def post_tg(client, body, secret=SECRET):
    return client.post("/bots/telegram", json=body, headers={"X-Telegram-Bot-Api-Secret-Token": secret})


@pytest.mark.parametrize("secret", ["wrong", ""])
def test_wrong_or_missing_secret_is_403(client, db, group, secret):
    events = len(group.events)
    assert post_tg(client, update("Đã xử lý.", reply_to=500), secret=secret).status_code == 403
    db.expire_all()
    assert relayed(db, group) == [] and len(group.events) == events  # a relayable reply, refused


def test_reply_to_the_mirrored_post_is_relayed_once(client, db, group):
    body = update("Chiều nay công an khu vực sẽ đến.", reply_to=500)
    first = post_tg(client, body)
    assert first.status_code == 200 and first.get_json()["relayed"] is True
    again = post_tg(client, body)  # Telegram redelivers an update it thinks failed
    assert again.get_json()["relayed"] is False
    assert relayed(db, group) == [f"Tra loi phan anh #{group.number}: Chiều nay công an khu vực sẽ đến."]
    event = group.events[-1]
    assert event.kind == "message_out" and event.official.login == "truongkp1"


def test_numbered_message_is_relayed(client, db, group):
    post_tg(client, update(f"#{group.number} Đã chuyển cho tổ trưởng.", message_id=901))
    assert relayed(db, group) == [f"Tra loi phan anh #{group.number}: Đã chuyển cho tổ trưởng."]


@pytest.mark.parametrize("body", [
    update("Cảm ơn cả nhà", reply_to=500, sender=222),      # a resident in the group, not an official
    update("Không liên quan", message_id=902),              # neither a reply nor numbered
    update("#999 không có phản ánh này", message_id=903),   # unknown number
    update(f"#1", message_id=904),                          # nothing to say
    update("xin chào", reply_to=12345),                     # a reply to something else
    {"update_id": 5, "edited_message": {"text": "x"}},       # not a message
])
def test_other_messages_are_not_relayed_but_answered_200(client, db, group, body):
    resp = post_tg(client, body)
    assert resp.status_code == 200 and resp.get_json()["relayed"] is False
    assert relayed(db, group) == []


def test_leader_cannot_answer_for_another_area(client, db, group):
    other = new_report(db, code="KP5")
    post_tg(client, update(f"#{other.number} trả lời", chat=-1001, message_id=905))
    assert relayed(db, other) == []


def test_relayed_reply_is_sent_and_noted_in_the_group(app, client, db, group):
    post_tg(client, update("Đã xử lý xong.", reply_to=500))
    drain(app)  # the group note; the SMS job is covered with the SMS provider tests
    note = db.scalar(select(GroupPost).where(GroupPost.report_id == group.id, GroupPost.id != None)  # noqa: E711
                     .order_by(GroupPost.id.desc()))
    assert note.text == f"Đã nhắn người phản ánh #{group.number}: «Đã xử lý xong.»" and note.reply_to == "500"


def zalo_event(text, *, sender="z-111", chat="zalo-kp1", message_id="zm1", event="message.text.received"):
    return {"ok": True, "result": {"event_name": event, "message": {
        "message_id": message_id, "date": 1, "chat": {"id": chat, "chat_type": "GROUP"},
        "from": {"id": sender, "display_name": "Hoa"}, "text": text}}}


def test_zalo_numbered_reply(client, db, group):
    kp1 = db.scalar(select(Area).where(Area.code == "KP1"))
    kp1.group_target, kp1.group_chat_id = "zalo", "zalo-kp1"
    db.commit()
    headers = {"X-Bot-Api-Secret-Token": "z-secret"}
    forged = client.post("/bots/zalo", json=zalo_event(f"#{group.number}: Giả mạo"), headers={"X-Bot-Api-Secret-Token": "no"})
    assert forged.status_code == 403 and relayed(db, group) == []
    resp = client.post("/bots/zalo", json=zalo_event(f"#{group.number}: Đã nhận"), headers=headers)
    assert resp.get_json()["relayed"] is True
    sticker = client.post("/bots/zalo", json=zalo_event("", event="message.sticker.received"), headers=headers)
    assert sticker.status_code == 200 and sticker.get_json()["relayed"] is False
    assert relayed(db, group) == [f"Tra loi phan anh #{group.number}: Đã nhận"]


def test_generic_webhook_reply_is_signed(client, db, group):
    body = json.dumps({"id": "w1", "chat_id": "-1001", "text": f"#{group.number} Đã nhận", "official": "truongkp1"}).encode()
    ts = str(int(time.time()))
    good = {"X-Loaxom-Timestamp": ts, "X-Loaxom-Signature": sign("wh-secret", ts, body),
            "Content-Type": "application/json"}
    stale_ts = str(int(time.time()) - 3600)
    stale = {"X-Loaxom-Timestamp": stale_ts, "X-Loaxom-Signature": sign("wh-secret", stale_ts, body),
             "Content-Type": "application/json"}
    assert client.post("/bots/webhook", data=body, headers=stale).status_code == 403
    assert client.post("/bots/webhook", data=body, headers={**good, "X-Loaxom-Signature": "sha256=00"}).status_code == 403
    assert relayed(db, group) == []  # refused before anything was relayed
    assert client.post("/bots/webhook", data=body, headers=good).get_json()["relayed"] is True
    assert len(relayed(db, group)) == 1


def test_an_account_on_another_platform_is_not_the_official(client, db, group):
    """The leader's Zalo id written as a Telegram sender is nobody on Telegram."""
    post_tg(client, update("Đã xử lý.", reply_to=500, sender="z-111"))
    assert relayed(db, group) == []


def test_officials_link_command_lets_their_group_replies_through(app, client, db, group):
    leader = db.scalar(select(Official).where(Official.login == "truongkp1"))
    leader.accounts.clear()
    db.commit()
    assert post_tg(client, update("Chưa liên kết.", reply_to=500, sender=777)).get_json()["relayed"] is False
    result = app.test_cli_runner().invoke(args=["officials", "link", "truongkp1", "--telegram", "777"])
    assert result.exit_code == 0, result.output
    db.expire_all()
    assert {(a.platform, a.user_id) for a in leader.accounts} == {("telegram", "777")}
    assert post_tg(client, update("Đã liên kết.", reply_to=500, sender=777, message_id=990)).get_json()["relayed"]
    app.test_cli_runner().invoke(args=["officials", "link", "truongkp1", "--telegram", "778"])  # a new account
    db.expire_all()
    assert [(a.platform, a.user_id) for a in leader.accounts] == [("telegram", "778")]


# What each target reads from its platform's webhook (bodies as the platforms' docs give them)
PARSE = [
    ("telegram", update("Đã nhận", reply_to=500), GroupReply("-1001", "900", "Đã nhận", sender="111", reply_to="500")),
    ("telegram", update("#3 Đã nhận", sender=222, message_id=7, chat=-1002),
     GroupReply("-1002", "7", "#3 Đã nhận", sender="222")),
    ("telegram", {"update_id": 5, "edited_message": {"text": "x"}}, None),
    ("telegram", {"update_id": 6, "my_chat_member": {"chat": {"id": -1001}}}, None),
    ("zalo", zalo_event("#3 Đã nhận"), GroupReply("zalo-kp1", "zm1", "#3 Đã nhận", sender="z-111")),
    ("zalo", zalo_event("", event="message.image.received"), None),
    ("zalo", {"ok": True}, None),
    ("webhook", {"id": "w1", "chat_id": "c", "text": "#3 x", "official": "truongkp1", "reply_to": "m9"},
     GroupReply("c", "w1", "#3 x", official_login="truongkp1", reply_to="m9")),
]


@pytest.mark.parametrize("platform, body, expected", PARSE)
def test_each_target_reads_its_platforms_webhook(app, platform, body, expected):
    with app.test_request_context(f"/bots/{platform}", method="POST", json=body):
        assert MIRROR_TARGETS.get(platform).parse_reply(request) == expected


@pytest.mark.parametrize("platform", ["telegram", "zalo", "webhook"])
def test_no_configured_secret_refuses_everything(app, db, group, platform):
    app.config.update(TELEGRAM_WEBHOOK_SECRET="", ZALO_WEBHOOK_SECRET="", GROUP_WEBHOOK_SECRET="")
    body = json.dumps({"telegram": update(f"#{group.number} Đã xử lý.", reply_to=500),
                       "zalo": zalo_event(f"#{group.number} Đã xử lý."),
                       "webhook": {"id": "w9", "chat_id": "-1001", "text": f"#{group.number} Đã xử lý.",
                                   "official": "truongkp1"}}[platform]).encode()
    ts = str(int(time.time()))
    headers = {"X-Telegram-Bot-Api-Secret-Token": "", "X-Bot-Api-Secret-Token": "", "X-Loaxom-Timestamp": ts,
               "X-Loaxom-Signature": sign("", ts, body), "Content-Type": "application/json"}
    events = len(group.events)
    assert app.test_client().post(f"/bots/{platform}", data=body, headers=headers).status_code == 403
    db.expire_all()
    assert relayed(db, group) == [] and len(group.events) == events  # a relayable reply, refused
