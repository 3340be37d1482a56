"""Coverage: per area and audience, how many households were targeted, reached (SMS
delivered or call answered), confirmed, and failed with which reasons.

Every targeted household counts, with its delivery rows or without: one with none yet (its
chunk not fanned out, or its job lost) is "not_sent", so a stalled broadcast cannot look done."""
from collections import Counter, defaultdict

from sqlalchemy import case, exists, func, or_, select

from gateway.auth import among
from gateway.announcements.targeting import AUDIENCE_COLUMNS, all_areas, commune_of, neighbourhood_of, recipients_query
from gateway.models import Delivery, Resident

REACHED = {"delivered", "answered", "confirmed"}
# Skipped: opted out after the fan-out, or the announcement expired before it could go.
FAILED = {"failed", "undelivered", "no_answer", "busy", "cancelled", "skipped"}
CSV_COLUMNS = ("area", "audience", "targeted", "reached", "confirmed", "failed", "in_progress", "not_sent")


def progress(session, announcement, within=None):
    """Deliveries per channel and status: {"sms": {"delivered": 120, …}, …, "total": n}; `within`:
    only deliveries to these area ids (an official's scope)."""
    out = defaultdict(dict)
    total = 0
    query = select(Delivery.channel, Delivery.status, func.count()).where(Delivery.announcement_id == announcement.id)
    if within is not None:
        query = query.where(among(session, Delivery.area_id, within))
    rows = session.execute(query.group_by(Delivery.channel, Delivery.status))
    for channel, status, n in rows:
        out[channel][status] = n
        total += n
    return dict(out) | {"total": total}


def household_counts(session, announcement, within=None):
    """[(area_id, flags, state, households)]: households per area, flags and state (reached /
    confirmed / failed / in_progress), counted in SQL (a province-wide broadcast has 300 000);
    `within`: only households of these area ids (an official's scope, `gateway.auth.area_scope`)."""
    confirmed = or_(Delivery.confirmed_at.is_not(None), Delivery.status == "confirmed")
    per_household = (
        select(Delivery.resident_id.label("resident_id"), func.min(Delivery.area_id).label("area_id"),
               func.max(case((confirmed, 1), else_=0)).label("confirmed"),
               func.max(case((Delivery.status.in_(REACHED), 1), else_=0)).label("reached"),
               func.min(case((Delivery.status.in_(FAILED), 1), else_=0)).label("failed"),
               func.max(case((Delivery.status == "sent", 1), else_=0)).label("handed"))
        .where(Delivery.announcement_id == announcement.id, Delivery.resident_id.is_not(None))
        .group_by(Delivery.resident_id))
    if within is not None:
        per_household = per_household.where(among(session, Delivery.area_id, within))
    per_household = per_household.subquery()
    rows = session.execute(
        select(per_household.c.area_id, Resident.is_elderly, Resident.is_poor, Resident.no_smartphone,
               Resident.language,
               per_household.c.confirmed, per_household.c.reached, per_household.c.failed, per_household.c.handed,
               func.count())
        .join(Resident, Resident.id == per_household.c.resident_id)
        .group_by(per_household.c.area_id, Resident.is_elderly, Resident.is_poor, Resident.no_smartphone,
                  Resident.language,
                  per_household.c.confirmed, per_household.c.reached, per_household.c.failed, per_household.c.handed))
    out = []
    for area_id, elderly, poor, no_smartphone, language, is_confirmed, reached, failed, handed, n in rows:
        state = "confirmed" if is_confirmed else "reached" if reached else "failed" if failed else "in_progress"
        # Handed to the provider ("sent") and no word yet that it arrived: shown as such on the dashboard.
        flags = {"is_elderly": bool(elderly), "is_poor": bool(poor), "no_smartphone": bool(no_smartphone),
                 "language": language, "sent_unreported": bool(handed) and state == "in_progress"}
        out.append((area_id, flags, state, n))
    return out + _not_sent_counts(session, announcement, within)


def _not_sent_counts(session, announcement, within=None):
    """[(area_id, flags, "not_sent", households)]: targeted households with no delivery row yet (their
    chunk not fanned out, or its job lost), counted in SQL, by the fan-out's own recipient query."""
    wanted = set(announcement.channels or [])
    if not {"sms", "voice"} & wanted:
        return []
    query = recipients_query(session, announcement).order_by(None).where(~exists().where(
        Delivery.announcement_id == announcement.id, Delivery.resident_id == Resident.id))
    if "sms" not in wanted:
        # Calls only: the households a call is for (gateway.announcements.targeting.channels_for).
        query = query.where(or_(Resident.prefers_voice.is_(True), Resident.is_elderly.is_(True),
                                Resident.no_smartphone.is_(True)))
    if within is not None:
        query = query.where(among(session, Resident.area_id, within))
    columns = (Resident.area_id, Resident.is_elderly, Resident.is_poor, Resident.no_smartphone, Resident.language)
    rows = session.execute(query.with_only_columns(*columns, func.count()).group_by(*columns))
    return [(area_id, {"is_elderly": bool(elderly), "is_poor": bool(poor), "no_smartphone": bool(no_smartphone),
                       "language": language},
             "not_sent", n) for area_id, elderly, poor, no_smartphone, language, n in rows]


def by_area_and_audience(session, announcement, within=None, with_sent=False):
    """Rows per neighbourhood and audience, plus a total row per audience (area "*"); `within`:
    only households of these area ids (an official's scope), totals included. Households of
    several communes (a province-wide view) are rolled up per commune. `with_sent`: each row also
    has "sent", households whose message the provider took with no word yet that it arrived."""
    areas = all_areas(session)
    states = household_counts(session, announcement, within)
    hoods = {area_id: neighbourhood_of(areas, area_id) for area_id in {s[0] for s in states}}
    communes = {commune_of(areas, h) for h in hoods.values() if h is not None}
    counts = defaultdict(Counter)
    for audience, _ in AUDIENCE_COLUMNS:
        counts[("*", audience)]  # the totals are always there, zero or not
    for area_id, flags, state, n in states:
        hood = hoods[area_id]
        label = "?" if hood is None else hood.name
        if hood is not None and len(communes) > 1 and commune_of(areas, hood) is not None:
            # A province: one row per commune (a thousand villages would be no overview).
            label = areas[commune_of(areas, hood)].name
        for name in (label, "*"):
            for audience, flag in AUDIENCE_COLUMNS:
                if flag is None or flags[flag]:
                    c = counts[(name, audience)]
                    c["targeted"] += n
                    c[state] += n
                    if flags.get("sent_unreported"):
                        c["sent"] += n
                    if state == "confirmed":
                        c["reached"] += n  # confirming means it was heard
    rows = []
    for (area, audience), c in sorted(counts.items(), key=lambda kv: (kv[0][0] == "*", kv[0][0], kv[0][1])):
        rows.append({"area": area, "audience": audience, "targeted": c["targeted"], "reached": c["reached"],
                     "confirmed": c["confirmed"], "failed": c["failed"], "in_progress": c["in_progress"],
                     "not_sent": c["not_sent"]} | ({"sent": c["sent"]} if with_sent else {}))
    return rows


def by_language(session, announcement, within=None):
    """Rows per language households listen in (gateway.languages), with the same counts as
    `by_area_and_audience`, and whether the announcement has a recording in it ("recorded"; Vietnamese
    always has its audio). Households of a language with no recording heard the Vietnamese one."""
    from gateway import languages

    recorded = {code for code, row in languages.recordings(session, announcement).items() if row.recording_id}
    counts = defaultdict(Counter)
    for _, flags, state, n in household_counts(session, announcement, within):
        c = counts[flags.get("language") or languages.VI]
        c["targeted"] += n
        c[state] += n
        if state == "confirmed":
            c["reached"] += n  # confirming means it was heard
    spoken = {}
    for area in announcement.areas:
        spoken.update(languages.of_area(area))
    order = list(spoken) + sorted(set(counts) - set(spoken))
    return [{"language": code, "name": languages.name_of(code, spoken),
             "recorded": code == languages.VI or code in recorded,
             **{k: counts[code][k] for k in ("targeted", "reached", "confirmed", "failed", "in_progress", "not_sent")}}
            for code in order if counts[code]["targeted"] or code in spoken]


def failure_reasons(session, announcement, within=None):
    """Failed deliveries grouped by channel and reason, most common first; `within`: only
    deliveries to these area ids (an official's scope)."""
    query = select(Delivery.channel, Delivery.status, Delivery.error_code, Delivery.last_error, func.count()).where(
        Delivery.announcement_id == announcement.id, Delivery.status.in_(FAILED))
    if within is not None:
        query = query.where(among(session, Delivery.area_id, within))
    rows = session.execute(
        query.group_by(Delivery.channel, Delivery.status, Delivery.error_code, Delivery.last_error)
        .order_by(func.count().desc())
    )
    return [{"channel": c, "status": s, "code": code, "reason": (reason or "")[:200], "count": n}
            for c, s, code, reason, n in rows]


def to_csv(rows):
    """Coverage rows as CSV text (UTF-8 with BOM, for Excel), through the exports' shared writer."""
    from gateway.residents import rows_csv

    return rows_csv([list(CSV_COLUMNS)] + [[row.get(c, "") for c in CSV_COLUMNS] for row in rows]).decode("utf-8")
