"""Creating, scheduling and cancelling announcements (shared by the API, the CLI and the console)."""
import datetime as dt
import logging

from rq import Retry
from sqlalchemy import update

from gateway import languages
from gateway.areas import current, find_by_code
from gateway.auth import may_act_on, may_see_asset
from gateway.models import AUDIENCES, CHANNELS, PRIORITIES, Announcement, Area, AudioAsset, utcnow
from gateway.parse import iso_moment, whole
from gateway.queue import enqueue_on_commit
from gateway.text import nfc

log = logging.getLogger(__name__)
MAX_TITLE, MAX_BODY = 200, 3000
DEFAULT_LIFETIME = dt.timedelta(days=7)
START_JOB = "gateway.broadcast.jobs.start"
# A start that died before planning is run again by its retry, or by the reconciler.
START_RETRY = dict(max=4, interval=[30, 120, 400, 900])


class AnnouncementError(ValueError):
    """Input an official must fix; the message says what."""


def parse_time(value, name):
    """An ISO 8601 time with a zone (or None when empty); AnnouncementError otherwise."""
    if value in (None, ""):
        return None
    if isinstance(value, dt.datetime):
        moment = value
    else:
        try:
            moment = iso_moment(value)
        except ValueError:
            raise AnnouncementError(f"{name} must be an ISO 8601 time, e.g. 2026-11-23T08:00:00+07:00") from None
    if moment.tzinfo is None:
        raise AnnouncementError(f"{name} needs a time zone, e.g. 2026-11-23T08:00:00+07:00")
    return moment


def resolve_areas(session, refs):
    """Areas from ids or codes ("KP5"); AnnouncementError naming an unknown or ambiguous one."""
    if isinstance(refs, (str, int)):
        refs = [refs]
    if not isinstance(refs, (list, tuple)) or not refs:
        raise AnnouncementError("areas must be a non-empty list of area ids or codes")
    out = []
    for ref in refs:
        if isinstance(ref, bool) or not isinstance(ref, (int, str)) or not str(ref).strip():
            raise AnnouncementError(f"area {ref!r} is not an area id or code")
        if isinstance(ref, int) or str(ref).strip().isdigit():
            number = whole(ref)  # None for "²" or a number past INTEGER: no such area
            found = [a for a in [current(session.get(Area, number)) if number is not None else None] if a is not None]
            if found and not found[0].active:
                raise AnnouncementError(f"area {ref} is retired")
        else:
            found = find_by_code(session, str(ref))  # its code, or an old one after a merge or rename
        if len(found) != 1:
            raise AnnouncementError(f"area '{ref}' is unknown" if not found else
                                    f"area code '{ref}' is ambiguous; use its id")
        if found[0] not in out:
            out.append(found[0])
    return out


def create(session, *, official, title, body, areas, audiences=("everyone",), channels=("sms", "hotline"),
           priority="normal", category="general", send_at=None, expires_at=None, recording=None, recordings=None):
    """Validate and schedule an announcement; it starts at `send_at` (now when empty).

    `recordings`: {language code: uploaded recording} in the areas' extra languages (gateway.languages)."""
    for name, value in (("title", title), ("body", body), ("priority", priority), ("category", category)):
        if value is not None and not isinstance(value, str):
            raise AnnouncementError(f"{name} must be text")
    for name, value in (("audiences", audiences), ("channels", channels)):
        if isinstance(value, str) or not all(isinstance(v, str) for v in value or ()):
            raise AnnouncementError(f"{name} must be a list of names")
    category = (category or "general").strip()
    if len(category) > 40:
        raise AnnouncementError("category is longer than 40 characters")
    title, body = nfc(title or "").strip(), nfc(body or "").strip()
    if not title:
        raise AnnouncementError("title is empty")
    if len(title) > MAX_TITLE:
        raise AnnouncementError(f"title is longer than {MAX_TITLE} characters")
    if not body and recording is None:
        raise AnnouncementError("body is empty (write the text, or attach a recording)")
    if len(body) > MAX_BODY:
        raise AnnouncementError(f"body is longer than {MAX_BODY} characters")
    if priority not in PRIORITIES:
        raise AnnouncementError(f"priority must be one of {', '.join(PRIORITIES)}")
    bad = [a for a in audiences if a not in AUDIENCES]
    if bad or not audiences:
        raise AnnouncementError(f"audiences must be some of {', '.join(AUDIENCES)}")
    bad = [c for c in channels if c not in CHANNELS]
    if bad or not channels:
        raise AnnouncementError(f"channels must be some of {', '.join(CHANNELS)}")
    if not areas:
        raise AnnouncementError("choose at least one area")
    outside = [a.name for a in areas if not may_act_on(session, official, a.id)]
    if outside:
        raise AnnouncementError(f"not your area: {', '.join(outside)}")
    if recording is not None and (not isinstance(recording, AudioAsset) or recording.kind != "recording"):
        raise AnnouncementError("recording must be an uploaded recording")
    if recording is not None and not may_see_asset(session, official, recording):
        # Another area's recording would play on that area's loudspeakers and calls.
        raise AnnouncementError("recording_id is unknown in your areas (upload it yourself)")
    recordings = dict(recordings or {})
    spoken = {code for a in areas for code in languages.of_area(a)}
    for code, extra in recordings.items():
        if code == languages.VI or code not in spoken:
            raise AnnouncementError(f"language '{code}' is not an extra language of these areas")
        if not isinstance(extra, AudioAsset) or extra.kind != "recording" or not may_see_asset(session, official, extra):
            raise AnnouncementError(f"the recording for '{code}' is unknown in your areas (upload it yourself)")
    now = utcnow()
    send_at = send_at or now
    if send_at.tzinfo is None:
        raise AnnouncementError("send_at needs a time zone")
    if send_at < now - dt.timedelta(minutes=5):
        raise AnnouncementError("send_at is in the past")
    expires_at = expires_at or send_at + DEFAULT_LIFETIME
    if expires_at <= send_at:
        raise AnnouncementError("expires_at must come after send_at")
    announcement = Announcement(
        title=title, body=body, areas=list(areas), audiences=sorted(set(audiences)), channels=sorted(set(channels)),
        priority=priority, category=category, send_at=send_at, expires_at=expires_at, status="scheduled",
        created_by_id=official.id, recording_id=recording.id if recording is not None else None)
    session.add(announcement)
    session.flush()
    for code, extra in recordings.items():
        languages.set_recording(session, announcement, code, extra)
    # The start job checks the status, so a cancelled announcement never starts.
    enqueue_on_commit(session, START_JOB, announcement.id, queue="default", at=send_at if send_at > now else None,
                      job_id=f"announcement-{announcement.id}-start", retry=Retry(**START_RETRY))
    log.info("announcement scheduled id=%s official=%s at=%s", announcement.id, official.id, send_at.isoformat())
    return announcement


def cancel(session, announcement):
    """Cancel before sending starts; AnnouncementError once it has.

    Conditional, so a cancel racing the start job loses cleanly instead of half-cancelling."""
    done = session.execute(
        update(Announcement).where(Announcement.id == announcement.id,
                                   Announcement.status.in_(("draft", "scheduled"))).values(status="cancelled")
    ).rowcount
    session.refresh(announcement)
    if not done:
        raise AnnouncementError(f"announcement {announcement.id} is '{announcement.status}' and can no longer be cancelled")
    log.info("announcement cancelled id=%s", announcement.id)
    return announcement
