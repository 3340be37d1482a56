"""Open311 GeoReport v2, checked field by field against the specification."""
import datetime as dt
from xml.etree import ElementTree as ET

import pytest
from sqlalchemy import select

from gateway.auth import issue_token
from gateway.models import Official, Report
from tests.test_casework import new_report

# GeoReport v2 (wiki.open311.org/GeoReport_v2): the fields of each response.
SERVICE_FIELDS = {"service_code", "service_name", "description", "metadata", "type", "keywords", "group"}
REQUEST_FIELDS = {"service_request_id", "status", "status_notes", "service_name", "service_code", "description",
                  "agency_responsible", "service_notice", "requested_datetime", "updated_datetime",
                  "expected_datetime", "address", "address_id", "zipcode", "lat", "long", "media_url"}
CREATED_FIELDS = {"service_request_id", "service_notice", "account_id"}


@pytest.fixture
def key(db, demo):
    token = issue_token(db, db.scalar(select(Official).where(Official.login == "admin")))
    db.commit()
    return token


def test_services(client, demo):
    services = client.get("/open311/v2/services.json").get_json()
    assert [s["service_code"] for s in services] == ["security", "environment", "health", "person", "other"]
    for s in services:
        assert set(s) == SERVICE_FIELDS
        assert s["metadata"] is False and s["type"] in ("realtime", "batch", "blackbox")
    assert services[0]["service_name"] == "An ninh, trật tự"
    definition = client.get("/open311/v2/services/health.json").get_json()
    assert definition == [{"service_code": "health", "attributes": []}]
    missing = client.get("/open311/v2/services/fire.json")
    assert missing.status_code == 404 and missing.get_json()[0]["code"] == 404


def test_services_in_xml(client, demo):
    resp = client.get("/open311/v2/services.xml")
    assert resp.mimetype == "text/xml"
    root = ET.fromstring(resp.data)
    assert root.tag == "services" and len(root.findall("service")) == 5
    assert root.find("service/service_code").text == "security"
    assert root.find("service/metadata").text == "false"


def test_requests_hide_phone_numbers_and_show_status(client, db, demo):
    report = new_report(db)
    from gateway.reports.casework import change_status

    change_status(db, report, "resolved", note="Đã xử lý, liên hệ 0987 654 321")
    db.commit()
    [item] = client.get("/open311/v2/requests.json").get_json()
    assert set(item) == REQUEST_FIELDS
    assert item["service_request_id"] == str(report.number) and item["status"] == "closed"
    assert item["service_code"] == "security" and item["service_name"] == "An ninh, trật tự"
    assert "0912 345 678" not in item["description"] and item["description"].endswith("xxxxxxx678")
    assert "0987 654 321" not in item["status_notes"]
    assert item["address"] == "Khu phố 5" and item["address_id"] == "KP5"
    assert item["agency_responsible"] == "UBND Thị trấn Tân Lập"
    assert dt.datetime.fromisoformat(item["requested_datetime"]).utcoffset() == dt.timedelta(hours=7)
    body = client.get("/open311/v2/requests.json").get_data(as_text=True)
    assert "987654321" not in body.replace(" ", "")


def test_request_filters(client, db, demo):
    a = new_report(db, category="security")
    b = new_report(db, category="environment")
    from gateway.reports.casework import change_status

    change_status(db, b, "rejected")
    db.commit()
    get = lambda q: [r["service_request_id"] for r in client.get("/open311/v2/requests.json" + q).get_json()]  # noqa: E731
    assert get("") == [str(b.number), str(a.number)]
    assert get("?status=open") == [str(a.number)]
    assert get("?status=closed") == [str(b.number)]
    assert get("?service_code=environment") == [str(b.number)]
    assert get(f"?service_request_id={a.number},{b.number}&status=open") == [str(b.number), str(a.number)]
    old = db.get(Report, a.id)
    old.created_at = dt.datetime.now(dt.timezone.utc) - dt.timedelta(days=120)
    db.commit()
    assert get("") == [str(b.number)]  # the last 90 days by default
    assert str(a.number) in get("?start_date=2020-01-01T00:00:00Z")
    assert client.get("/open311/v2/requests.json?status=maybe").status_code == 400
    assert client.get("/open311/v2/requests.json?start_date=yesterday").status_code == 400
    [one] = client.get(f"/open311/v2/requests/{b.number}.json").get_json()
    assert one["service_request_id"] == str(b.number)
    assert client.get("/open311/v2/requests/999.json").status_code == 404
    assert client.get(f"/open311/v2/tokens/{b.number}.json").get_json()[0]["service_request_id"] == str(b.number)


def test_jurisdiction(client, demo):
    assert client.get("/open311/v2/services.json?jurisdiction_id=tanlap").status_code == 200
    assert client.get("/open311/v2/requests.json?jurisdiction_id=TANLAP").status_code == 200
    bad = client.get("/open311/v2/requests.json?jurisdiction_id=hanoi")
    assert bad.status_code == 404 and "jurisdiction" in bad.get_json()[0]["description"]


@pytest.mark.parametrize("form, status, words", [
    ({"service_code": "environment", "address_string": "KP3"}, 403, "api_key"),
    ({"api_key": "bad", "service_code": "environment", "address_string": "KP3"}, 403, "api_key"),
    ({"api_key": "KEY", "address_string": "KP3"}, 400, "service_code"),
    ({"api_key": "KEY", "service_code": "fire", "address_string": "KP3"}, 404, "service_code"),
    ({"api_key": "KEY", "service_code": "environment"}, 400, "location"),
    ({"api_key": "KEY", "service_code": "environment", "address_string": "Khu phố 77"}, 400, "unknown address"),
    ({"api_key": "KEY", "service_code": "environment", "lat": "x", "long": "y"}, 400, "numbers"),
    ({"api_key": "KEY", "service_code": "environment", "address_id": "KP3", "description": "x" * 4001}, 400, "4000"),
])
def test_bad_posts_are_refused_with_open311_errors(client, key, form, status, words):
    form = {k: (key if v == "KEY" else v) for k, v in form.items()}
    resp = client.post("/open311/v2/requests.json", data=form)
    assert resp.status_code == status
    [error] = resp.get_json()
    assert error["code"] == status and words in error["description"]


def test_filing_a_request(app, client, db, key):
    resp = client.post("/open311/v2/requests.json", data={
        "api_key": key, "service_code": "environment", "address_string": "khu pho 3", "lat": "11.94", "long": "108.44",
        "description": "Cống bị tắc, nước tràn ra đường."})
    assert resp.status_code == 201
    [created] = resp.get_json()
    assert set(created) == CREATED_FIELDS
    report = db.scalar(select(Report).where(Report.number == int(created["service_request_id"])))
    assert (report.channel, report.category, report.area.name, report.lat, report.lon) == (
        "open311", "environment", "Khu phố 3", 11.94, 108.44)
    assert report.text == "Cống bị tắc, nước tràn ra đường."
    from gateway.models import GroupPost

    assert db.scalar(select(GroupPost).where(GroupPost.report_id == report.id)) is not None  # mirrored too
    xml = client.post("/open311/v2/requests.xml", data={"api_key": key, "service_code": "other", "address_id": "KP4"})
    assert xml.status_code == 201 and ET.fromstring(xml.data).find("request/service_request_id").text


def test_leader_key_only_files_for_their_areas(client, db, demo):
    token = issue_token(db, db.scalar(select(Official).where(Official.login == "truongkp1")))
    db.commit()
    refused = client.post("/open311/v2/requests.json", data={"api_key": token, "service_code": "other",
                                                              "address_id": "KP9"})
    assert refused.status_code == 403
    assert db.scalar(select(Report.id)) is None  # nothing was filed
    ok = client.post("/open311/v2/requests.json", data={"api_key": token, "service_code": "other", "address_id": "KP2"})
    assert ok.status_code == 201


def test_unknown_format(client, demo):
    assert client.get("/open311/v2/services.yaml").status_code == 404
