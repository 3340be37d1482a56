"""Reports: numbering per commune, opening a report and adding to its thread."""
from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from gateway.categories import CODES as REPORT_CATEGORIES
from gateway.models import REPORT_STATUSES, Area, Counter, Report, ReportEvent, utcnow
from gateway.parse import whole


def next_number(session, commune_id, name="report"):
    """The next number of the commune's sequence `name`; safe under concurrent callers."""
    insert = pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
    stmt = insert(Counter).values(commune_id=commune_id, name=name, value=1)
    stmt = stmt.on_conflict_do_update(
        index_elements=[Counter.commune_id, Counter.name], set_={"value": Counter.value + 1}
    ).returning(Counter.value)
    return session.execute(stmt).scalar_one()


def open_report(session, *, commune, channel, text="", area=None, resident=None, phone=None,
                category="other", recording=None):
    """A new report with its number and its first event; flushed, not committed."""
    report = Report(
        commune_id=commune.id, number=next_number(session, commune.id), area_id=area.id if area else None,
        resident_id=resident.id if resident else None, phone=phone, channel=channel, category=category,
        text=text, recording_id=recording.id if recording else None, status="new",
    )
    session.add(report)
    session.flush()
    add_event(session, report, "message_in", text=text)
    return report


def add_event(session, report, kind, *, text="", status=None, official=None):
    """Append to a report's thread (a message in or out, a note, a status change)."""
    event = ReportEvent(report_id=report.id, kind=kind, text=text, status=status,
                        official_id=official.id if official else None)
    session.add(event)
    if kind == "message_in":
        report.last_message_at = utcnow()
    session.flush()
    return event


def find_by_number(session, commune_id, number):
    """The commune's report with that number, or None."""
    return session.scalar(select(Report).where(Report.commune_id == commune_id, Report.number == number))


def visible_to(session, official, report_id):
    """The report if `official` may see it, else None (out of scope looks the same as missing)."""
    from gateway.auth import may_act_on

    report = session.get(Report, report_id)
    if report is None or not may_act_on(session, official, report.area_id or report.commune_id):
        return None
    return report


def _filter_area(session, ref):
    """The area an `area` filter names: an id (a merged area's leads to the one that took it over)
    or a code, old codes and names included; None for an unknown id."""
    from gateway.areas import current, find_by_code

    if whole(ref) is not None:
        return current(session.get(Area, whole(ref)))
    if str(ref).strip().isdigit():  # "²", or past INTEGER: no id, and no code is all digits
        raise ValueError(f"area '{str(ref)[:40]}' is not an area id or a code")
    found = find_by_code(session, str(ref))
    if len(found) != 1:
        raise ValueError(f"area '{ref}' is not an area id or a code" if not found else
                         f"area code '{ref}' is ambiguous; use its id")
    return found[0]


def visible_query(session, official, *, status=None, category=None, area_id=None):
    """A select of the reports `official` may see, filtered; an area includes its teams.

    Raises ValueError naming a filter that is not a status, a category or an area id."""
    from gateway.auth import scoped

    query = scoped(session, official, select(Report), Report.area_id, Report.commune_id)
    if status:
        if status not in REPORT_STATUSES:
            raise ValueError(f"status must be one of {', '.join(REPORT_STATUSES)}")
        query = query.where(Report.status == status)
    if category:
        if category not in REPORT_CATEGORIES:
            raise ValueError(f"category must be one of {', '.join(REPORT_CATEGORIES)}")
        query = query.where(Report.category == category)
    if area_id not in (None, ""):
        area = _filter_area(session, area_id)
        query = query.where(Report.area_id.in_(area.descendant_ids(session) if area else [whole(area_id)]))
    return query
