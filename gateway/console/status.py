"""What an announcement's status means right now, in words an official can trust: waiting for
its time, waiting for quiet hours to end, sending, or sent (only when nothing is left to go)."""
from sqlalchemy import func, select

from gateway.announcements import quiet
from gateway.console.base import local_time, t
from gateway.models import AudioAsset, Delivery, GroupPost, utcnow

# Deliveries that have not left us yet (or are with the provider and not yet handed over).
WAITING = ("pending", "sending", "queued")
POSTS_WAITING = ("pending", "posting")


def _waiting(db, ids):
    """{announcement_id: {channel: n}} of deliveries that have not gone yet."""
    out = {}
    if not ids:
        return out
    rows = db.execute(select(Delivery.announcement_id, Delivery.channel, func.count())
                      .where(Delivery.announcement_id.in_(ids), Delivery.status.in_(WAITING))
                      .group_by(Delivery.announcement_id, Delivery.channel))
    for announcement_id, channel, n in rows:
        out.setdefault(announcement_id, {})[channel] = n
    posts = db.execute(select(GroupPost.announcement_id, func.count())
                       .where(GroupPost.announcement_id.in_(ids), GroupPost.status.in_(POSTS_WAITING))
                       .group_by(GroupPost.announcement_id))
    for announcement_id, n in posts:
        out.setdefault(announcement_id, {})["group"] = n
    return out


def describe(db, announcements, now=None):
    """{announcement id: (badge class, words)} for a page of announcements (two queries)."""
    now = now or utcnow()
    waiting = _waiting(db, [a.id for a in announcements if a.status in ("sending", "sent")])
    return {a.id: _one(a, waiting.get(a.id, {}), now) for a in announcements}


def _one(a, waiting, now):
    if a.status == "scheduled":
        if a.send_at is not None and a.send_at > now:
            return "scheduled", t("ann.waiting_start", time=local_time(a.send_at))
        return "sending", t("ann.preparing")
    if a.status not in ("sending", "sent"):
        return a.status, t(f"status.{a.status}")
    held = [c for c in ("sms", "voice") if waiting.get(c) and quiet.held_back(a.priority, c)]
    area = a.areas[0] if a.areas else None
    if held and area is not None and quiet.is_quiet(area, now):
        until = quiet.next_allowed(area, now)
        return "waiting", t("ann.waiting_quiet", time=local_time(until, "%H:%M"))
    if a.status == "sending" or any(waiting.values()):
        return "sending", t("ann.status_sending")
    return "sent", t("ann.status_sent_all")


def channel_rows(db, announcement):
    """Progress rows beyond person deliveries: group posts by status, and the loudspeaker file."""
    rows = {}
    posts = db.execute(select(GroupPost.status, func.count()).where(GroupPost.announcement_id == announcement.id)
                       .group_by(GroupPost.status))
    group = [{"status": s, "label": t(f"post.{s}"), "count": n} for s, n in sorted(posts)]
    if group:
        rows["group"] = group
    if "loudspeaker" in (announcement.channels or []):
        asset = db.get(AudioAsset, announcement.audio_id) if announcement.audio_id else None
        status = asset.status if asset is not None else "pending"
        rows["loudspeaker"] = [{"status": status, "label": t(f"asset.{status}"), "count": 1}]
    return rows


def sms_reports_delivery(config):
    """Whether the configured SMS provider tells us a message reached the phone."""
    from gateway.sms.providers import SMS_PROVIDERS

    return SMS_PROVIDERS.get(config["SMS_PROVIDER"]).reports_delivery
