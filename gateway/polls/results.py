"""A poll's results: households asked and answered, and answers per option, per neighbourhood
and audience (rolled up per commune for a province), counted in SQL; and the export.

`within` (an official's `gateway.auth.area_scope`) limits every count to the households of
those areas, as the reports' scope rule does: a leader sees only their own households."""
from collections import Counter, defaultdict

from sqlalchemy import func, select

from gateway.auth import among
from gateway.announcements.targeting import AUDIENCE_COLUMNS, all_areas, commune_of, neighbourhood_of, recipients_query
from gateway.models import PollAnswer, Resident

FLAGS = (Resident.is_elderly, Resident.is_poor, Resident.no_smartphone)


def _flags(row):
    return {"is_elderly": bool(row[0]), "is_poor": bool(row[1]), "no_smartphone": bool(row[2])}


def tally(session, poll, within=None):
    """{"options": [labels], "total": {asked, answered, counts}, "areas": [...], "audiences": [...]}:
    each row {"area" | "audience", "asked", "answered", "counts": [per option]}."""
    n = len(poll.options)
    asked = []
    if poll.announcement is not None:
        query = recipients_query(session, poll.announcement).order_by(None)
        if within is not None:
            query = query.where(among(session, Resident.area_id, within))
        columns = (Resident.area_id, *FLAGS)
        asked = list(session.execute(query.with_only_columns(*columns, func.count()).group_by(*columns)))
    answers = select(PollAnswer.area_id, *FLAGS, PollAnswer.choice, func.count()).join(
        Resident, Resident.id == PollAnswer.resident_id).where(PollAnswer.poll_id == poll.id)
    if within is not None:
        answers = answers.where(among(session, PollAnswer.area_id, within))
    answered = list(session.execute(answers.group_by(PollAnswer.area_id, *FLAGS, PollAnswer.choice)))
    areas = all_areas(session)
    communes = {commune_of(areas, areas.get(a)) for a in {r[0] for r in asked + answered}} - {None}

    def label(area_id):
        """The neighbourhood's name; a province's view rolls them up per commune (as coverage does)."""
        hood = neighbourhood_of(areas, area_id)
        if hood is None:
            return "?"
        commune_id = commune_of(areas, hood)
        return areas[commune_id].name if len(communes) > 1 and commune_id is not None else hood.name

    per_area, per_audience = defaultdict(Counter), defaultdict(Counter)
    for area_id, *flags, count in asked:
        flags = _flags(flags)
        per_area[label(area_id)]["asked"] += count
        for audience, flag in AUDIENCE_COLUMNS:
            if flag is None or flags[flag]:
                per_audience[audience]["asked"] += count
    for area_id, *rest in answered:
        flags, choice, count = _flags(rest[:3]), rest[3], rest[4]
        per_area[label(area_id)]["answered"] += count
        per_area[label(area_id)][choice] += count
        for audience, flag in AUDIENCE_COLUMNS:
            if flag is None or flags[flag]:
                per_audience[audience]["answered"] += count
                per_audience[audience][choice] += count

    def row(c):
        asked_n = max(c["asked"], c["answered"])  # a household that moved away since still counts
        return {"asked": asked_n, "answered": c["answered"], "share": share(c["answered"], asked_n),
                "counts": [c[i] for i in range(1, n + 1)]}

    total = per_audience["all"]
    return {
        "options": [o["label"] for o in poll.options],
        "total": row(total),
        "areas": [{"area": name, **row(c)} for name, c in sorted(per_area.items())],
        "audiences": [{"audience": a, **row(per_audience[a])} for a, _ in AUDIENCE_COLUMNS],
    }


def share(part, whole):
    """Percent, rounded; 0 of 0 is 0."""
    return round(100 * part / whole) if whole else 0
