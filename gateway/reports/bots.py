"""Replies from the group: the bots' inbound webhooks relay an official's answer to a mirrored
report (a reply to its post, or a message starting `#123`) to the reporter by SMS.

Only members linked to an official (Official.telegram_user_id / zalo_user_id) are relayed;
what others write stays in the group. Every webhook checks its secret and answers 403 when
it is wrong, and 200 to anything it does not act on, so platforms stop retrying.
"""
import hmac
import logging
import re
import time

from flask import Blueprint, abort, current_app, jsonify, request
from sqlalchemy import select

from gateway.auth import may_act_on
from gateway.reports.casework import relay_reply
from gateway.db import get_db
from gateway.mirror.webhook import sign
from gateway.models import Area, GroupPost, Official, Report
from gateway.parse import field, json_errors, json_object, text_field, whole
from gateway.reports.records import find_by_number
from gateway.text import nfc

log = logging.getLogger(__name__)
bp = Blueprint("bots", __name__, url_prefix="/bots")
json_errors(bp)
_NUMBERED = re.compile(r"^\s*#([0-9]{1,9})\b[\s:.,-]*(.*)$", re.S)


def _secret_ok(header, setting):
    expected = current_app.config.get(setting) or ""
    given = request.headers.get(header, "")
    return bool(expected) and hmac.compare_digest(given.encode(), expected.encode())


@bp.post("/telegram")
def telegram():
    """Telegram updates (setWebhook with secret_token = TELEGRAM_WEBHOOK_SECRET)."""
    if not _secret_ok("X-Telegram-Bot-Api-Secret-Token", "TELEGRAM_WEBHOOK_SECRET"):
        abort(403)
    message = field(json_object(request.get_data()), "message")
    return _relay("telegram", text_field(field(message, "chat"), "id"), text_field(message, "message_id"),
                  text_field(message, "text"), sender=text_field(field(message, "from"), "id"),
                  reply_to=text_field(field(message, "reply_to_message"), "message_id"))


@bp.post("/zalo")
def zalo():
    """Zalo Bot Platform events (setWebhook with secret_token = ZALO_WEBHOOK_SECRET)."""
    if not _secret_ok("X-Bot-Api-Secret-Token", "ZALO_WEBHOOK_SECRET"):
        abort(403)
    result = field(json_object(request.get_data()), "result")
    message = field(result, "message")
    if result.get("event_name") != "message.text.received":
        return jsonify(ok=True, relayed=False)
    return _relay("zalo", text_field(field(message, "chat"), "id"), text_field(message, "message_id"),
                  text_field(message, "text"), sender=text_field(field(message, "from"), "id"))


@bp.post("/webhook")
def webhook():
    """Replies from any other tool: JSON {"id", "chat_id", "text", "official", "reply_to"?},
    signed like our outgoing webhook (X-Loaxom-Timestamp, X-Loaxom-Signature), ±5 minutes."""
    secret = current_app.config.get("GROUP_WEBHOOK_SECRET") or ""
    timestamp = request.headers.get("X-Loaxom-Timestamp", "")
    signature = request.headers.get("X-Loaxom-Signature", "")
    seconds = whole(timestamp, high=10**10)
    if not (secret and seconds is not None and abs(time.time() - seconds) <= 300
            and hmac.compare_digest(sign(secret, timestamp, request.get_data()), signature)):
        abort(403)
    body = json_object(request.get_data())
    official = get_db().scalar(select(Official).where(Official.login == text_field(body, "official")))
    return _relay("webhook", text_field(body, "chat_id"), text_field(body, "id"), text_field(body, "text"),
                  official=official, reply_to=text_field(body, "reply_to"))


def _relay(platform, chat_id, message_id, text, *, sender=None, official=None, reply_to=None):
    db = get_db()
    text = nfc(text).strip()
    report, body = _find_report(db, platform, chat_id, text, reply_to)
    if report is None or not body:
        return jsonify(ok=True, relayed=False)
    if official is None and sender:
        column = Official.telegram_user_id if platform == "telegram" else Official.zalo_user_id
        official = db.scalar(select(Official).where(column == sender, Official.active.is_(True)))
    if official is None or not may_act_on(db, official, report.area_id or report.commune_id):
        log.info("group reply not relayed platform=%s report=%s (sender is not an official for the area)",
                 platform, report.id)
        return jsonify(ok=True, relayed=False)
    event = relay_reply(db, report, body, key=f"{platform}:{chat_id}:{message_id}", official=official)
    db.commit()
    log.info("group reply relayed platform=%s report=%s official=%s duplicate=%s",
             platform, report.id, official.id, event is None)
    return jsonify(ok=True, relayed=event is not None)


def _find_report(db, platform, chat_id, text, reply_to):
    """The report a group message answers, and the text to relay."""
    if reply_to:
        post = db.scalar(select(GroupPost).where(GroupPost.target == platform, GroupPost.chat_id == chat_id,
                                                 GroupPost.message_id == str(reply_to)))
        if post is not None and post.report_id:
            match = _NUMBERED.match(text)
            return db.get(Report, post.report_id), (match.group(2).strip() if match else text)
    match = _NUMBERED.match(text)
    if not match:
        return None, ""
    areas = list(db.scalars(select(Area).where(Area.group_chat_id == chat_id)))
    for commune_id in {a.commune().id for a in areas}:
        report = find_by_number(db, commune_id, int(match.group(1)))
        if report is not None:
            return report, match.group(2).strip()
    return None, ""


def init_app(app):
    app.register_blueprint(bp)
