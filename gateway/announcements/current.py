"""Which announcements are current for an area (what the SMS digest and the hotline play), and
which an official may see."""
from sqlalchemy import case, func, or_, select

from gateway.auth import among, covering_ids
from gateway.models import Announcement, announcement_areas, utcnow

LIVE_STATUSES = ("sending", "sent")
_PRIORITY_ORDER = case({"emergency": 0, "urgent": 1}, value=Announcement.priority, else_=2)


def _reaching(area):
    return Announcement.id.in_(select(announcement_areas.c.announcement_id)
                               .where(announcement_areas.c.area_id.in_([node.id for node in area.ancestors()])))


def current_announcements(session, area, *, now=None, limit=None):
    """Live announcements for `area` (targeting it or an ancestor), most pressing and newest first."""
    now = now or utcnow()
    query = (
        select(Announcement)
        .where(_reaching(area))
        .where(Announcement.status.in_(LIVE_STATUSES), Announcement.send_at <= now)
        .where(or_(Announcement.expires_at.is_(None), Announcement.expires_at > now))
        .order_by(_PRIORITY_ORDER, Announcement.send_at.desc(), Announcement.id.desc())
    )
    if limit:
        query = query.limit(limit)
    return list(session.scalars(query))


def current_until(session, area, announcements, *, now):
    """The next moment the area's current announcements change by the clock alone (one of them
    expires, a live one's send time comes), or None: how long an answer built from them holds."""
    moments = [a.expires_at for a in announcements if a.expires_at is not None]
    starting = session.scalar(select(func.min(Announcement.send_at)).where(
        _reaching(area), Announcement.status.in_(LIVE_STATUSES), Announcement.send_at > now))
    if starting is not None:
        moments.append(starting)
    return min(moments) if moments else None


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
