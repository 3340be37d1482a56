"""Replies from the group: the bots' inbound webhooks relay an official's answer to a mirrored
report (a reply to its post, or a message starting `#123`) to the reporter by SMS.

Each group target reads its own webhook (`reply_ok`, `parse_reply` in gateway.mirror.<target>);
this module routes and relays. Only members linked to an official (an OfficialAccount on that
platform, or the official a signed webhook names) are relayed; what others write stays in the
group. A bad secret is answered 403, anything not acted on 200, so platforms stop retrying.
"""
import logging
import re

from flask import Blueprint, abort, current_app, jsonify, request
from sqlalchemy import select

from gateway.auth import may_act_on
from gateway.db import get_db
from gateway.mirror import MIRROR_TARGETS
from gateway.models import Area, GroupPost, Official, OfficialAccount, Report
from gateway.parse import json_errors
from gateway.reports.casework import relay_reply
from gateway.reports.records import find_by_number
from gateway.text import nfc

log = logging.getLogger(__name__)
bp = Blueprint("bots", __name__, url_prefix="/bots")
json_errors(bp)
_NUMBERED = re.compile(r"^\s*#([0-9]{1,9})\b[\s:.,-]*(.*)$", re.S)
PLATFORMS = ("telegram", "zalo", "webhook")  # group targets whose replies come back (POST /bots/<name>)


def reply(platform):
    """A group message from `platform`'s webhook: relayed to the reporter when an official wrote it."""
    target = MIRROR_TARGETS.get(platform)
    if not target.reply_ok(request, current_app.config):
        abort(403)
    message = target.parse_reply(request)
    if message is None:
        return jsonify(ok=True, relayed=False)
    db = get_db()
    text = nfc(message.text).strip()
    report, body = _find_report(db, platform, message.chat_id, text, message.reply_to)
    if report is None or not body:
        return jsonify(ok=True, relayed=False)
    official = _official(db, platform, message)
    if official is None or not may_act_on(db, official, report.area_id or report.commune_id):
        log.info("group reply not relayed platform=%s report=%s (sender is not an official for the area)",
                 platform, report.id)
        return jsonify(ok=True, relayed=False)
    event = relay_reply(db, report, body, key=f"{platform}:{message.chat_id}:{message.message_id}",
                        official=official)
    db.commit()
    log.info("group reply relayed platform=%s report=%s official=%s duplicate=%s",
             platform, report.id, official.id, event is None)
    return jsonify(ok=True, relayed=event is not None)


for _platform in PLATFORMS:
    bp.add_url_rule(f"/{_platform}", _platform, reply, methods=["POST"], defaults={"platform": _platform})


def _official(db, platform, message):
    """The active official who wrote `message`: named by a signed webhook, else by their account."""
    if message.official_login:
        return db.scalar(select(Official).where(Official.login == message.official_login, Official.active.is_(True)))
    if not message.sender:
        return None
    return db.scalar(select(Official).join(OfficialAccount)
                     .where(OfficialAccount.platform == platform, OfficialAccount.user_id == message.sender,
                            Official.active.is_(True)))


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
