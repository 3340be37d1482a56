"""What a loudspeaker operator sees: an area's announcements meant for loudspeakers."""
import datetime as dt
from zoneinfo import ZoneInfo

from sqlalchemy import select

from gateway import languages
from gateway.announcements.current import LIVE_STATUSES
from gateway.models import Announcement, announcement_areas, utcnow

VIETNAM = ZoneInfo("Asia/Ho_Chi_Minh")


def for_area(session, area, *, days=30, now=None, between=None):
    """Loudspeaker announcements for `area` (or an ancestor) sent in the last `days` (or `between`
    two UTC times), newest first."""
    now = now or utcnow()
    start, end = between or (now - dt.timedelta(days=days), now)
    area_ids = [node.id for node in area.ancestors()]
    rows = session.scalars(
        select(Announcement)
        .where(Announcement.id.in_(select(announcement_areas.c.announcement_id)
                                   .where(announcement_areas.c.area_id.in_(area_ids))))
        .where(Announcement.status.in_(LIVE_STATUSES), Announcement.send_at <= min(now, end),
               Announcement.send_at >= start)
        .order_by(Announcement.send_at.desc(), Announcement.id.desc()))
    # Channels are a JSON list; few rows per area, so the filter is done here for every database.
    return [a for a in rows if "loudspeaker" in (a.channels or [])]


def playable(announcement, language=None, session=None):
    """The announcement's audio asset when its MP3 is ready, else None; in `language` (gateway.languages)
    when it has a recording in it, else the Vietnamese one."""
    asset = announcement.audio
    if language not in (None, languages.VI):
        asset = languages.audio(session, announcement, language)[0]
    return asset if asset is not None and asset.status == "ready" and asset.mp3_path else None


def recorded_languages(session, announcement):
    """Codes of the extra languages the announcement has a ready MP3 in."""
    return [code for code, row in languages.recordings(session, announcement).items()
            if row.audio is not None and row.audio.status == "ready" and row.audio.mp3_path]


def is_current(announcement, now=None):
    """True until the announcement expires."""
    now = now or utcnow()
    return announcement.expires_at is None or announcement.expires_at > now


def local_day(moment):
    """The calendar day in Vietnam of an aware UTC time."""
    return moment.astimezone(VIETNAM).date()


def day_bounds(day):
    """The UTC start and end of a Vietnamese calendar day."""
    start = dt.datetime.combine(day, dt.time(), VIETNAM)
    return start.astimezone(dt.timezone.utc), (start + dt.timedelta(days=1)).astimezone(dt.timezone.utc)
