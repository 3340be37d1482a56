"""Open311 GeoReport v2: services are report categories, requests are reports.

Reading is public, so requests show no phone number and descriptions are scrubbed of numbers.
Filing (POST requests) needs an `api_key`: an official's API token. Each path answers in JSON
or XML by its extension. Errors are `[{"code", "description"}]` with the same HTTP status.
"""
import datetime as dt
from xml.etree import ElementTree as ET

from flask import Blueprint, Response, jsonify, request
from sqlalchemy import select
from werkzeug.exceptions import BadRequest, NotFound

from gateway.areas import match_area
from gateway.auth import may_act_on, official_for_token
from gateway.reports.casework import report_received
from gateway.db import get_db
from gateway.mirror.messages import VIETNAM
from gateway.categories import BY_CODE, CODES as REPORT_CATEGORIES, label
from gateway.models import Area, Report
from gateway.parse import coordinate, date_arg, id_or_404, whole
from gateway.phone import mask_text
from gateway.reports.records import open_report
from gateway.text import nfc

bp = Blueprint("open311", __name__, url_prefix="/open311/v2")
OPEN = ("new", "acknowledged", "in_progress")
MAX_DESCRIPTION = 4000
MAX_RESULTS = 1000


class Open311Error(Exception):
    def __init__(self, status, description):
        super().__init__(description)
        self.status, self.description = status, description


@bp.errorhandler(Open311Error)
@bp.errorhandler(BadRequest)
@bp.errorhandler(NotFound)
def _error(exc):
    status = getattr(exc, "status", None) or exc.code  # ours, or a gateway.parse helper's 400/404
    fmt = (request.view_args or {}).get("fmt")
    return _render([{"code": status, "description": exc.description}], "errors", "error",
                   fmt=fmt if fmt in ("json", "xml") else "json"), status


def _render(items, root, item_tag, fmt):
    if fmt == "xml":
        top = ET.Element(root)
        for item in items:
            node = ET.SubElement(top, item_tag)
            for key, value in item.items():
                if isinstance(value, list):
                    sub = ET.SubElement(node, key)
                    for v in value:
                        ET.SubElement(sub, key[:-1]).text = str(v)  # attributes → attribute
                elif value is not None:
                    ET.SubElement(node, key).text = str(value).lower() if isinstance(value, bool) else str(value)
        xml = b'<?xml version="1.0" encoding="utf-8"?>' + ET.tostring(top, encoding="utf-8")
        return Response(xml, mimetype="text/xml")
    if fmt != "json":
        raise Open311Error(404, f"format '{fmt}' is not served; use .json or .xml")
    return jsonify(items)


def _jurisdiction(db):
    """The commune named by `jurisdiction_id` (its code), or the only one."""
    communes = list(db.scalars(select(Area).where(Area.level == "commune")))
    code = request.values.get("jurisdiction_id")
    if code:
        for c in communes:
            if c.code.lower() == code.lower():
                return c
        raise Open311Error(404, f"unknown jurisdiction_id '{code}'")
    if len(communes) != 1:
        raise Open311Error(400, "jurisdiction_id is required: " + ", ".join(c.code for c in communes))
    return communes[0]


def _iso(moment):
    return moment.astimezone(VIETNAM).isoformat(timespec="seconds") if moment else None


def service_json(code):
    return {"service_code": code, "service_name": label(code), "description": BY_CODE[code].description,
            "metadata": False, "type": "realtime", "keywords": code, "group": "phản ánh"}


def request_json(report, agency):
    notes = [e.text for e in report.events if e.kind == "status" and e.text]
    return {
        "service_request_id": str(report.number), "status": "open" if report.status in OPEN else "closed",
        "status_notes": mask_text(notes[-1]) if notes else None,
        "service_name": label(report.category), "service_code": report.category,
        "description": mask_text(report.text) or ("Phản ánh bằng giọng nói" if report.recording_id else ""),
        "agency_responsible": agency, "service_notice": None,
        "requested_datetime": _iso(report.created_at), "updated_datetime": _iso(report.updated_at),
        "expected_datetime": None, "address": report.address or (report.area.name if report.area else None),
        "address_id": report.area.code if report.area else None, "zipcode": None,
        "lat": report.lat, "long": report.lon, "media_url": None,
    }


@bp.get("/services.<fmt>")
def services(fmt):
    return _render([service_json(c) for c in REPORT_CATEGORIES], "services", "service", fmt)


@bp.get("/services/<code>.<fmt>")
def service_definition(code, fmt):
    if code not in REPORT_CATEGORIES:
        raise Open311Error(404, f"unknown service_code '{code}'")
    return _render([{"service_code": code, "attributes": []}], "service_definitions", "service_definition", fmt)


@bp.get("/requests.<fmt>")
def list_requests(fmt):
    db = get_db()
    commune = _jurisdiction(db)
    query = select(Report).where(Report.commune_id == commune.id)
    ids = request.args.get("service_request_id")
    if ids:
        numbers = [n for n in (whole(x) for x in ids.split(",")) if n is not None]
        query = query.where(Report.number.in_(numbers))
    else:
        if request.args.get("service_code"):
            query = query.where(Report.category.in_(request.args["service_code"].split(",")))
        start, end = date_arg(request.args, "start_date", zone=VIETNAM), date_arg(request.args, "end_date", zone=VIETNAM)
        if start is None and end is None:
            start = dt.datetime.now(dt.timezone.utc) - dt.timedelta(days=90)
        if start is not None:
            query = query.where(Report.created_at >= start)
        if end is not None:
            query = query.where(Report.created_at <= end)
        status = request.args.get("status")
        if status:
            if status not in ("open", "closed"):
                raise Open311Error(400, "status must be open or closed")
            query = query.where(Report.status.in_(OPEN) if status == "open" else Report.status.not_in(OPEN))
    rows = db.scalars(query.order_by(Report.created_at.desc()).limit(MAX_RESULTS))
    return _render([_with_agency(commune, r) for r in rows], "service_requests", "request", fmt)


@bp.get("/requests/<request_id>.<fmt>")
def get_request(request_id, fmt):
    db = get_db()
    commune = _jurisdiction(db)
    number = id_or_404(request_id, "service_request_id")
    report = db.scalar(select(Report).where(Report.commune_id == commune.id, Report.number == number))
    if report is None:
        raise Open311Error(404, f"unknown service_request_id '{request_id}'")
    return _render([_with_agency(commune, report)], "service_requests", "request", fmt)


@bp.get("/tokens/<token>.<fmt>")
def get_token(token, fmt):
    # Requests are created at once, so a token is just the request id it was given as.
    return get_request(token, fmt)


@bp.post("/requests.<fmt>")
def create_request(fmt):
    db = get_db()
    official = official_for_token(db, request.form.get("api_key", ""))
    if official is None:
        raise Open311Error(403, "api_key is missing or invalid")
    commune = _jurisdiction(db)
    code = request.form.get("service_code", "")
    if code not in REPORT_CATEGORIES:
        raise Open311Error(404 if code else 400, f"unknown service_code '{code}'" if code else "service_code is required")
    lat, lon = request.form.get("lat"), request.form.get("long")
    address, address_id = request.form.get("address_string"), request.form.get("address_id")
    if not (address or address_id or (lat and lon)):
        raise Open311Error(400, "a location is required: lat and long, address_string or address_id")
    area = None
    for place in (address_id, address):
        if place:
            match = match_area(db, place, within=commune)
            if match.area is None:
                raise Open311Error(400, f"unknown address '{place}'" + (
                    "; did you mean: " + ", ".join(a.name for a in match.candidates) if match.candidates else ""))
            area = match.area
            break
    if not may_act_on(db, official, (area or commune).id):
        raise Open311Error(403, "this api_key may not file reports for that area")
    description = nfc(request.form.get("description", "")).strip()
    if len(description) > MAX_DESCRIPTION:
        raise Open311Error(400, f"description is longer than {MAX_DESCRIPTION} characters")
    coords = (coordinate(lat, "lat", 90), coordinate(lon, "long", 180)) if lat and lon else (None, None)
    report = open_report(db, commune=commune, channel="open311", text=description, area=area, category=code)
    report.lat, report.lon, report.address = coords[0], coords[1], address
    report_received(db, report)
    db.commit()
    token = str(report.number)
    return _render([{"service_request_id": token, "service_notice": "Đã nhận phản ánh.", "account_id": None}],
                   "service_requests", "request", fmt), 201


def _with_agency(commune, report):
    return request_json(report, f"UBND {commune.name}")


def init_app(app):
    app.register_blueprint(bp)
