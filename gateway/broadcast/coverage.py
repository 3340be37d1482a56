"""Coverage: per area and audience, how many households were targeted, reached (SMS
delivered or call answered), confirmed, and failed with which reasons.

Every targeted household counts, with its delivery rows or without: one with none yet (its
chunk not fanned out, or its job lost) is "not_sent", so a stalled broadcast cannot look done."""
from collections import Counter, defaultdict

from sqlalchemy import func, select

from gateway.broadcast.targeting import all_areas, neighbourhood_of, recipients
from gateway.models import Delivery, Resident

REACHED = {"delivered", "answered", "confirmed"}
# Skipped: opted out after the fan-out, or the announcement expired before it could go.
FAILED = {"failed", "undelivered", "no_answer", "busy", "cancelled", "skipped"}
AUDIENCE_COLUMNS = (("all", None), ("elderly", "is_elderly"), ("poor", "is_poor"), ("no_smartphone", "no_smartphone"))
CSV_COLUMNS = ("area", "audience", "targeted", "reached", "confirmed", "failed", "in_progress", "not_sent")


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


def household_states(session, announcement):
    """{resident_id: (area_id, flags, state)} with state reached / confirmed / failed / in_progress /
    not_sent (targeted, and no delivery row yet), for every targeted household and every one with rows."""
    rows = session.execute(
        select(Delivery.resident_id, Delivery.area_id, Delivery.status, Delivery.confirmed_at,
               Resident.is_elderly, Resident.is_poor, Resident.no_smartphone)
        .join(Resident, Resident.id == Delivery.resident_id)
        .where(Delivery.announcement_id == announcement.id)
    )
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
    missing = [r.resident_id for r in recipients(session, announcement) if r.resident_id not in out]
    for start in range(0, len(missing), 1000):
        for resident_id, area_id, elderly, poor, no_smartphone in session.execute(
                select(Resident.id, Resident.area_id, Resident.is_elderly, Resident.is_poor, Resident.no_smartphone)
                .where(Resident.id.in_(missing[start:start + 1000]))):
            flags = {"is_elderly": elderly, "is_poor": poor, "no_smartphone": no_smartphone}
            out[resident_id] = (area_id, flags, "not_sent")
    return out


def by_area_and_audience(session, announcement):
    """Rows per neighbourhood and audience, plus a total row per audience (area "*")."""
    areas = all_areas(session)
    counts = defaultdict(Counter)
    for audience, _ in AUDIENCE_COLUMNS:
        counts[("*", audience)]  # the totals are always there, zero or not
    for area_id, flags, state in household_states(session, announcement).values():
        hood = neighbourhood_of(areas, area_id)
        for name in (hood.name if hood else "?", "*"):
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
                     "confirmed": c["confirmed"], "failed": c["failed"], "in_progress": c["in_progress"],
                     "not_sent": c["not_sent"]})
    return rows


def failure_reasons(session, announcement):
    """Failed deliveries grouped by channel and reason, most common first."""
    rows = session.execute(
        select(Delivery.channel, Delivery.status, Delivery.error_code, Delivery.last_error, func.count())
        .where(Delivery.announcement_id == announcement.id, Delivery.status.in_(FAILED))
        .group_by(Delivery.channel, Delivery.status, Delivery.error_code, Delivery.last_error)
        .order_by(func.count().desc())
    )
    return [{"channel": c, "status": s, "code": code, "reason": (reason or "")[:200], "count": n}
            for c, s, code, reason, n in rows]


def to_csv(rows):
    """Coverage rows as CSV text (UTF-8 with BOM, for Excel), through the exports' shared writer."""
    from gateway.residents import rows_csv

    return rows_csv([list(CSV_COLUMNS)] + [[row.get(c, "") for c in CSV_COLUMNS] for row in rows]).decode("utf-8")
