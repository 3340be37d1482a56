"""Which announcements are current for an area (what the SMS digest and the hotline play), and
which an official may see."""
from sqlalchemy import case, or_, select

from gateway.auth import among, covering_ids
from gateway.models import Announcement, announcement_areas, utcnow

LIVE_STATUSES = ("sending", "sent")
_PRIORITY_ORDER = case({"emergency": 0, "urgent": 1}, value=Announcement.priority, else_=2)


def current_announcements(session, area, *, now=None, limit=None):
    """Live announcements for `area` (targeting it or an ancestor), most pressing and newest first."""
    now = now or utcnow()
    area_ids = [node.id for node in area.ancestors()]
    query = (
        select(Announcement)
        .where(Announcement.id.in_(select(announcement_areas.c.announcement_id)
                                   .where(announcement_areas.c.area_id.in_(area_ids))))
        .where(Announcement.status.in_(LIVE_STATUSES), Announcement.send_at <= now)
        .where(or_(Announcement.expires_at.is_(None), Announcement.expires_at > now))
        .order_by(_PRIORITY_ORDER, Announcement.send_at.desc(), Announcement.id.desc())
    )
    if limit:
        query = query.limit(limit)
    return list(session.scalars(query))


def visible_announcements(session, official):
    """A SELECT of the announcements the official may see, newest first: those sent to the
    official's areas, to areas below them, or to the commune or province above them (which reach
    their households too)."""
    return (select(Announcement)
            .where(Announcement.id.in_(select(announcement_areas.c.announcement_id).where(
                among(session, announcement_areas.c.area_id, covering_ids(session, official)))))
            .order_by(Announcement.id.desc()))


def visible_announcement(session, official, announcement_id):
    """The announcement if the official may see it (the rule of `visible_announcements`), else None."""
    announcement = session.get(Announcement, announcement_id)
    if announcement is None or not {area.id for area in announcement.areas} & covering_ids(session, official):
        return None
    return announcement
