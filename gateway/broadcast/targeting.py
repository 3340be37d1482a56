"""Who an announcement reaches: residents of its areas (an area includes its children) and
those who subscribed to them, filtered by audience, without the opted-out, once per phone."""
from dataclasses import dataclass

from sqlalchemy import or_, select

from gateway.models import Area, Resident, Subscription

AUDIENCE_FLAGS = {"elderly": Resident.is_elderly, "poor": Resident.is_poor, "no_smartphone": Resident.no_smartphone}


@dataclass(frozen=True)
class Recipient:
    resident_id: int
    phone: str
    area_id: int | None
    channels: tuple


def area_ids(session, areas):
    """Ids of `areas` and everything below them."""
    ids = set()
    for area in areas:
        ids.update(area.descendant_ids(session))
    return ids


def recipients_query(session, announcement):
    """A SELECT of the residents the announcement targets (ordered by id, distinct)."""
    ids = area_ids(session, announcement.areas)
    subscribed = select(Subscription.resident_id).where(Subscription.area_id.in_(ids))
    query = select(Resident.id, Resident.phone, Resident.area_id, Resident.prefers_sms, Resident.prefers_voice).where(
        or_(Resident.area_id.in_(ids), Resident.id.in_(subscribed)), Resident.opted_out_at.is_(None))
    audiences = [a for a in (announcement.audiences or ["everyone"]) if a != "everyone"]
    if audiences and "everyone" not in (announcement.audiences or []):
        query = query.where(or_(*(AUDIENCE_FLAGS[a].is_(True) for a in audiences)))
    return query.order_by(Resident.id)


def channels_for(announcement, prefers_sms, prefers_voice):
    """The person-to-person channels this resident gets: SMS and/or a call, by preference;
    someone who asked for neither still gets the SMS when it is sent."""
    wanted = set(announcement.channels or [])
    out = []
    if "sms" in wanted and (prefers_sms or not prefers_voice or "voice" not in wanted):
        out.append("sms")
    if "voice" in wanted and prefers_voice:
        out.append("voice")
    return tuple(out)


def recipients(session, announcement, *, chunk=1000):
    """Yield Recipient rows in id order, fetched `chunk` at a time (100 000 households fit)."""
    result = session.execute(recipients_query(session, announcement).execution_options(yield_per=chunk))
    for resident_id, phone, area_id, prefers_sms, prefers_voice in result:
        channels = channels_for(announcement, prefers_sms, prefers_voice)
        if channels:
            yield Recipient(resident_id, phone, area_id, channels)


def neighbourhood_of(areas_by_id, area_id):
    """The neighbourhood an area rolls up to (a team's parent), for coverage."""
    area = areas_by_id.get(area_id)
    while area is not None and area.level == "team":
        area = areas_by_id.get(area.parent_id)
    return area


def all_areas(session):
    return {a.id: a for a in session.scalars(select(Area))}
