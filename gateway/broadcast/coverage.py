"""Coverage: per area and audience, how many households were targeted, reached (SMS
delivered or call answered), confirmed, and failed with which reasons."""
import csv
import io
from collections import Counter, defaultdict

from sqlalchemy import func, select

from gateway.broadcast.targeting import all_areas, neighbourhood_of
from gateway.models import Delivery, Resident

REACHED = {"delivered", "answered", "confirmed"}
# Skipped: opted out after the fan-out, or the announcement expired before it could go.
FAILED = {"failed", "undelivered", "no_answer", "busy", "cancelled", "skipped"}
AUDIENCE_COLUMNS = (("all", None), ("elderly", "is_elderly"), ("poor", "is_poor"), ("no_smartphone", "no_smartphone"))
CSV_COLUMNS = ("area", "audience", "targeted", "reached", "confirmed", "failed", "in_progress")


def progress(session, announcement):
    """Deliveries per channel and status: {"sms": {"delivered": 120, …}, …, "total": n}."""
    out = defaultdict(dict)
    total = 0
    rows = session.execute(select(Delivery.channel, Delivery.status, func.count())
                           .where(Delivery.announcement_id == announcement.id)
                           .group_by(Delivery.channel, Delivery.status))
    for channel, status, n in rows:
        out[channel][status] = n
        total += n
    return dict(out) | {"total": total}


def household_states(session, announcement, within=None):
    """{resident_id: (area_id, flags, state)} with state reached / confirmed / failed / in_progress;
    `within`: only households of these area ids (an official's scope, `gateway.auth.scope_select`)."""
    query = (select(Delivery.resident_id, Delivery.area_id, Delivery.status, Delivery.confirmed_at,
                    Resident.is_elderly, Resident.is_poor, Resident.no_smartphone)
             .join(Resident, Resident.id == Delivery.resident_id)
             .where(Delivery.announcement_id == announcement.id))
    if within is not None:
        query = query.where(Delivery.area_id.in_(within))
    rows = session.execute(query)
    seen = {}
    for resident_id, area_id, status, confirmed_at, elderly, poor, no_smartphone in rows:
        area, flags, statuses, confirmed = seen.get(resident_id, (area_id, None, [], False))
        statuses.append(status)
        flags = {"is_elderly": elderly, "is_poor": poor, "no_smartphone": no_smartphone}
        seen[resident_id] = (area, flags, statuses, confirmed or confirmed_at is not None or status == "confirmed")
    out = {}
    for resident_id, (area_id, flags, statuses, confirmed) in seen.items():
        if confirmed:
            state = "confirmed"
        elif REACHED & set(statuses):
            state = "reached"
        elif all(s in FAILED for s in statuses):
            state = "failed"
        else:
            state = "in_progress"
        out[resident_id] = (area_id, flags, state)
    return out


def by_area_and_audience(session, announcement, within=None):
    """Rows per neighbourhood and audience, plus a total row per audience (area "*"); `within`:
    only households of these area ids (an official's scope), totals included."""
    areas = all_areas(session)
    states = household_states(session, announcement, within).values()
    hoods = {area_id: neighbourhood_of(areas, area_id) for area_id in {s[0] for s in states}}
    communes = {_commune_of(areas, h) for h in hoods.values() if h is not None}
    counts = defaultdict(Counter)
    for audience, _ in AUDIENCE_COLUMNS:
        counts[("*", audience)]  # the totals are always there, zero or not
    for area_id, flags, state in states:
        hood = hoods[area_id]
        label = "?" if hood is None else hood.name
        if hood is not None and len(communes) > 1 and _commune_of(areas, hood) not in (None, hood.id):
            # Across communes "Khu phố 1" is many places: name the commune too.
            label = f"{areas[_commune_of(areas, hood)].name} – {hood.name}"
        for name in (label, "*"):
            for audience, flag in AUDIENCE_COLUMNS:
                if flag is None or flags[flag]:
                    c = counts[(name, audience)]
                    c["targeted"] += 1
                    c[state] += 1
                    if state == "confirmed":
                        c["reached"] += 1  # confirming means it was heard
    rows = []
    for (area, audience), c in sorted(counts.items(), key=lambda kv: (kv[0][0] == "*", kv[0][0], kv[0][1])):
        rows.append({"area": area, "audience": audience, "targeted": c["targeted"], "reached": c["reached"],
                     "confirmed": c["confirmed"], "failed": c["failed"], "in_progress": c["in_progress"]})
    return rows


def _commune_of(areas_by_id, area):
    """The id of the commune `area` is in (itself for a commune), or None."""
    while area is not None and area.level != "commune":
        area = areas_by_id.get(area.parent_id)
    return area.id if area is not None else None


def failure_reasons(session, announcement, within=None):
    """Failed deliveries grouped by channel and reason, most common first; `within`: only
    deliveries to these area ids (an official's scope)."""
    query = select(Delivery.channel, Delivery.status, Delivery.error_code, Delivery.last_error, func.count()).where(
        Delivery.announcement_id == announcement.id, Delivery.status.in_(FAILED))
    if within is not None:
        query = query.where(Delivery.area_id.in_(within))
    rows = session.execute(
        query.group_by(Delivery.channel, Delivery.status, Delivery.error_code, Delivery.last_error)
        .order_by(func.count().desc())
    )
    return [{"channel": c, "status": s, "code": code, "reason": (reason or "")[:200], "count": n}
            for c, s, code, reason, n in rows]


def to_csv(rows):
    """Coverage rows as CSV text (UTF-8 with BOM, for Excel)."""
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=CSV_COLUMNS)
    writer.writeheader()
    writer.writerows(rows)
    return "\ufeff" + buf.getvalue()
