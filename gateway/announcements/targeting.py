"""Who an announcement reaches: residents of its areas (an area includes its children) and
those who subscribed to them, filtered by audience, without the opted-out, once per phone."""
from dataclasses import dataclass

from sqlalchemy import or_, select

from gateway.models import Area, Resident, Subscription

AUDIENCE_FLAGS = {"elderly": Resident.is_elderly, "poor": Resident.is_poor, "no_smartphone": Resident.no_smartphone}
# The audiences coverage and poll results break households down by: (name, Resident flag or None).
AUDIENCE_COLUMNS = (("all", None), ("elderly", "is_elderly"), ("poor", "is_poor"), ("no_smartphone", "no_smartphone"))


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
    query = select(Resident.id, Resident.phone, Resident.area_id, Resident.prefers_sms, Resident.prefers_voice,
                   Resident.is_elderly, Resident.no_smartphone).where(
        or_(Resident.area_id.in_(ids), Resident.id.in_(subscribed)), Resident.opted_out_at.is_(None))
    audiences = [a for a in (announcement.audiences or ["everyone"]) if a != "everyone"]
    if audiences and "everyone" not in (announcement.audiences or []):
        query = query.where(or_(*(AUDIENCE_FLAGS[a].is_(True) for a in audiences)))
    return query.order_by(Resident.id)


def needs_call(*, is_elderly, no_smartphone):
    """Households a call is for even when they did not ask: the elderly and those without a smartphone."""
    return bool(is_elderly or no_smartphone)


def channels_for(announcement, *, prefers_sms, prefers_voice, call=False):
    """The person-to-person channels this resident gets: SMS and/or a call, by preference (`call`:
    an elderly or no-smartphone household gets the call too); someone who asked for neither still
    gets the SMS when it is sent."""
    wanted = set(announcement.channels or [])
    voice = "voice" in wanted and (prefers_voice or call)
    out = []
    if "sms" in wanted and (prefers_sms or not prefers_voice or not voice):
        out.append("sms")
    if voice:
        out.append("voice")
    return tuple(out)


def recipients(session, announcement, *, chunk=1000, first_id=None, last_id=None):
    """Yield Recipient rows in id order, fetched `chunk` at a time (100 000 households fit);
    `first_id`/`last_id` limit it to one fan-out chunk."""
    query = recipients_query(session, announcement)
    if first_id is not None:
        query = query.where(Resident.id >= first_id)
    if last_id is not None:
        query = query.where(Resident.id <= last_id)
    result = session.execute(query.execution_options(yield_per=chunk))
    for resident_id, phone, area_id, prefers_sms, prefers_voice, elderly, no_smartphone in result:
        channels = channels_for(announcement, prefers_sms=prefers_sms, prefers_voice=prefers_voice,
                                call=needs_call(is_elderly=elderly, no_smartphone=no_smartphone))
        if channels:
            yield Recipient(resident_id, phone, area_id, channels)


def chunk_bounds(session, announcement, size):
    """[(first_id, last_id), …]: the targeted residents in id order, `size` to a chunk."""
    ids = [row[0] for row in session.execute(recipients_query(session, announcement)
                                             .with_only_columns(Resident.id).execution_options(yield_per=10000))]
    return [(ids[i], ids[min(i + size, len(ids)) - 1]) for i in range(0, len(ids), size)]


def neighbourhood_of(areas_by_id, area_id):
    """The neighbourhood an area rolls up to (a team's parent), for coverage."""
    area = areas_by_id.get(area_id)
    while area is not None and area.level == "team":
        area = areas_by_id.get(area.parent_id)
    return area


def all_areas(session):
    return {a.id: a for a in session.scalars(select(Area))}


def commune_of(areas_by_id, area):
    """The id of the commune `area` is in (itself for a commune), or None."""
    while area is not None and area.level != "commune":
        area = areas_by_id.get(area.parent_id)
    return area.id if area is not None else None
