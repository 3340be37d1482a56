"""Quiet hours: no calls or non-urgent SMS at night (per commune, default 21:00–06:30 local)."""
import datetime as dt
import re
from zoneinfo import ZoneInfo

DEFAULT_QUIET = "21:00-06:30"
DEFAULT_ZONE = "Asia/Ho_Chi_Minh"
_SPAN = re.compile(r"^\s*(\d{1,2}):(\d{2})\s*-\s*(\d{1,2}):(\d{2})\s*$")


def parse_span(text):
    """"21:00-06:30" → (time(21, 0), time(6, 30)); ValueError with the expected form."""
    match = _SPAN.match(text or "")
    if not match:
        raise ValueError(f"quiet hours '{text}' should look like 21:00-06:30")
    h1, m1, h2, m2 = map(int, match.groups())
    if h1 > 23 or h2 > 23 or m1 > 59 or m2 > 59:
        raise ValueError(f"quiet hours '{text}' has an impossible time")
    return dt.time(h1, m1), dt.time(h2, m2)


def quiet_settings(area):
    """(start, end, zone) for `area`, inherited from its commune."""
    start, end = parse_span(area.inherited("quiet_hours", DEFAULT_QUIET))
    return start, end, ZoneInfo(area.inherited("timezone", DEFAULT_ZONE))


def is_quiet(area, moment):
    """True when `moment` (aware) falls in the area's quiet hours."""
    start, end, zone = quiet_settings(area)
    local = moment.astimezone(zone).time()
    if start == end:
        return False
    if start < end:
        return start <= local < end
    return local >= start or local < end


def next_allowed(area, moment):
    """`moment` itself when not quiet, else the end of the quiet hours (aware UTC)."""
    if not is_quiet(area, moment):
        return moment
    start, end, zone = quiet_settings(area)
    local = moment.astimezone(zone)
    candidate = local.replace(hour=end.hour, minute=end.minute, second=0, microsecond=0)
    if candidate <= local:
        candidate += dt.timedelta(days=1)
    return candidate.astimezone(dt.timezone.utc)


def held_back(priority, channel):
    """Whether quiet hours apply: calls and SMS wait unless the announcement is an emergency;
    urgent SMS may go at night, urgent calls wait (people are asleep)."""
    if priority == "emergency":
        return False
    if channel == "sms":
        return priority != "urgent"
    return channel == "voice"
