"""Daily bulletins: an area's loudspeaker announcements of one day, joined into one MP3."""
import datetime as dt
import logging

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from gateway.loudspeaker.listing import day_bounds, for_area, playable
from gateway.models import Bulletin, utcnow
from gateway.queue import enqueue_on_commit

log = logging.getLogger(__name__)
JOB = "gateway.loudspeaker.jobs.render_bulletin"
# A pending bulletin older than this is requested again (its job may have died with a worker).
STALE_AFTER = dt.timedelta(minutes=10)


def day_announcements(session, area, day):
    """The day's loudspeaker announcements for `area` whose audio is ready, in the order they were sent."""
    return [a for a in reversed(for_area(session, area, between=day_bounds(day))) if playable(a) is not None]


def request_bulletin(session, area, day):
    """The area's bulletin for `day`, its rendering requested when missing or out of date.

    Committed here, so the job (enqueued after commit) finds the row."""
    ids = [a.id for a in day_announcements(session, area, day)]
    bulletin = session.scalar(select(Bulletin).where(Bulletin.area_id == area.id, Bulletin.day == day))
    if bulletin is None:
        bulletin = Bulletin(area_id=area.id, day=day, announcement_ids=[], status="new")
        session.add(bulletin)
        try:
            session.flush()
        except IntegrityError:  # another request made it first
            session.rollback()
            bulletin = session.scalar(select(Bulletin).where(Bulletin.area_id == area.id, Bulletin.day == day))
    same = bulletin.announcement_ids == ids
    if not ids:
        bulletin.announcement_ids, bulletin.status, bulletin.asset_id = [], "empty", None
    elif same and bulletin.status == "ready" and _asset_ready(bulletin):
        pass
    elif same and bulletin.status == "pending" and utcnow() - bulletin.updated_at < STALE_AFTER:
        pass  # requested a moment ago; its job is queued or running
    else:
        bulletin.announcement_ids, bulletin.status, bulletin.error = ids, "pending", None
        bulletin.updated_at = utcnow()
        session.flush()
        enqueue_on_commit(session, JOB, bulletin.id, queue="audio", job_timeout=900)
        log.info("bulletin=%s area=%s day=%s requested (%d announcements)", bulletin.id, area.id, day, len(ids))
    session.commit()
    return bulletin


def _asset_ready(bulletin):
    asset = bulletin.asset
    return asset is not None and asset.status == "ready" and bool(asset.mp3_path)
