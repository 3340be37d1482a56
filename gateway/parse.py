"""Outside input into values. Every view reads ids, numbers, dates, coordinates and JSON bodies
from a request through these helpers, which raise 400 (BadRequest) or 404 (NotFound) for what
cannot be read, never anything that ends in a 500.

`str.isdigit()` is not enough: it accepts "²" (which `int()` refuses) and numbers too large for
the database's INTEGER columns (which PostgreSQL refuses), so ids are ASCII digits within MAX_ID.
"""
import datetime as dt
import json
import math
import re

from flask import jsonify
from werkzeug.exceptions import BadRequest, NotFound
from werkzeug.routing import IntegerConverter

MAX_ID = 2**31 - 1  # the largest value of an INTEGER column (PostgreSQL)
_WHOLE = re.compile(r"[0-9]{1,10}")


def whole(text, *, low=0, high=MAX_ID):
    """`text` as an int when it is ASCII digits between `low` and `high`, else None."""
    text = str(text).strip() if text is not None else ""
    if not _WHOLE.fullmatch(text) or not low <= int(text) <= high:
        return None
    return int(text)


def int_arg(args, name, default=None, *, low=0, high=MAX_ID):
    """The whole number `name` of `args` (a request's args or form); `default` when absent; 400 when not one."""
    value = args.get(name)
    if value is None or value == "":
        return default
    number = whole(value, low=low, high=high)
    if number is None:
        raise BadRequest(f"{name} must be a whole number from {low} to {high}")
    return number


def id_or_404(text, what="id"):
    """A path segment as a row id; 404 when it cannot be one (so it cannot name a row either)."""
    number = whole(text, low=1)
    if number is None:
        raise NotFound(f"unknown {what} '{str(text)[:40]}'")
    return number


def iso_moment(text, *, zone=None):
    """An ISO 8601 date-time between the years 1900 and 9000 ("Z" allowed); a naive one gets `zone`
    (stays naive when `zone` is None). ValueError when it is not one."""
    try:
        moment = dt.datetime.fromisoformat(str(text).strip().replace("Z", "+00:00"))
        if moment.tzinfo is None and zone is not None:
            moment = moment.replace(tzinfo=zone)
        if moment.tzinfo is not None:
            moment.astimezone(dt.timezone.utc)  # 0001-01-01 in UTC+7 is before year 1: unstorable
    except (ValueError, OverflowError):
        raise ValueError(f"'{str(text)[:40]}' is not an ISO 8601 date-time") from None
    if not 1900 <= moment.year <= 9000:
        raise ValueError(f"'{str(text)[:40]}' is not between the years 1900 and 9000")
    return moment


def date_arg(args, name, *, zone=dt.timezone.utc):
    """The ISO 8601 date-time `name` of `args`, aware (naive means `zone`); None when absent; 400 when unreadable."""
    value = (args.get(name) or "").strip()
    if not value:
        return None
    try:
        return iso_moment(value, zone=zone)
    except ValueError as exc:
        raise BadRequest(f"{name} must be an ISO 8601 date-time: {exc}") from None


def coordinate(text, name, limit):
    """A latitude (`limit` 90) or longitude (180) in degrees; 400 for words, NaN, infinity or out of range."""
    try:
        value = float(str(text).strip())
    except ValueError:
        value = math.nan
    if not math.isfinite(value) or abs(value) > limit:
        raise BadRequest(f"lat and long must be numbers of degrees: {name} '{str(text)[:40]}' is not one from "
                         f"-{limit} to {limit}")
    return value


def json_value(raw):
    """A request body parsed as JSON; 400 when it is not JSON (NaN and Infinity are not JSON either)."""
    try:
        return json.loads(raw, parse_constant=_refuse_constant)
    except (ValueError, RecursionError):
        raise BadRequest("the body is not JSON: send a JSON object") from None


def json_object(raw):
    """A request body that must be a JSON object (a dict); 400 otherwise."""
    value = json_value(raw)
    if not isinstance(value, dict):
        raise BadRequest("the body must be a JSON object")
    return value


def json_fields(raw):
    """A body's JSON object, or {} when it is not one (forms whose own checks then say, in Vietnamese, what is missing)."""
    try:
        value = json_value(raw)
    except BadRequest:
        return {}
    return value if isinstance(value, dict) else {}


def field(data, *names, kind=dict):
    """data[names[0]][names[1]]… when each step is present and the last is of `kind`, else an empty `kind`."""
    for name in names:
        data = data.get(name) if isinstance(data, dict) else None
    return data if isinstance(data, kind) else kind()


def text_field(data, name):
    """A JSON field read as text: strings as they are, numbers as digits, anything else as ""."""
    value = data.get(name) if isinstance(data, dict) else None
    if isinstance(value, bool) or value is None or isinstance(value, (dict, list)):
        return ""
    if isinstance(value, float) and not math.isfinite(value):
        return ""
    return str(value)


def _refuse_constant(name):
    raise ValueError(f"{name} is not JSON")


class IdConverter(IntegerConverter):
    """`<int:…>` in routes: ASCII digits up to MAX_ID, so a 20-digit id is a 404, not a database error."""

    regex = r"[0-9]{1,10}"

    def __init__(self, map, *args, **kwargs):
        kwargs.setdefault("max", MAX_ID)
        super().__init__(map, *args, **kwargs)


def json_errors(blueprint):
    """Answer this blueprint's 400s and 404s as JSON {"ok": false, "error": "..."} (APIs and webhooks)."""

    def handler(exc):
        return jsonify(ok=False, error=exc.description), exc.code

    blueprint.register_error_handler(BadRequest, handler)
    blueprint.register_error_handler(NotFound, handler)


def init_app(app):
    app.url_map.converters["int"] = IdConverter
