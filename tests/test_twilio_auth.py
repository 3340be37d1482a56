"""X-Twilio-Signature: the public vectors, and the decorator on a live route."""
import json
import os
from urllib.parse import urlsplit

import pytest
from flask import Flask
from twilio.request_validator import RequestValidator
from werkzeug.datastructures import MultiDict

from gateway.twilio_auth import signature_valid, twilio_signed

REFERENCE = os.path.join(os.path.dirname(__file__), "..", "..", "shared", "reference", "twilio_signatures.json")


def vectors():
    with open(REFERENCE, encoding="utf-8") as f:
        return json.load(f)


def params_of(v):
    if v["body"] is not None:
        return v["body"]
    md = MultiDict()
    for key, value in (v["params"] or {}).items():
        for item in value if isinstance(value, list) else [value]:
            md.add(key, item)
    return md


@pytest.mark.parametrize("v", vectors(), ids=lambda v: v["id"])
def test_reference_vectors(v):
    assert signature_valid(v["url"], params_of(v), v["expected_signature"], v["auth_token"]) is v["valid"]


def make_app(base_url, token="12345"):
    app = Flask(__name__)
    app.config.update(TWILIO_AUTH_TOKEN=token, PUBLIC_BASE_URL=base_url)

    @app.route("/<path:anything>", methods=["GET", "POST"])
    @twilio_signed
    def hook(anything):
        app.calls.append(anything)  # the view ran: a refused request must never get here
        return "ok"

    app.calls = []
    return app


@pytest.mark.parametrize("v", [v for v in vectors() if v["body"] is None and v["url"].lower().startswith("http")],
                         ids=lambda v: v["id"])
def test_vectors_through_a_flask_route(v):
    """The vector's URL is what Twilio called; our public base URL is its scheme and host."""
    parts = urlsplit(v["url"])
    scheme = v["url"].split(":", 1)[0]  # as written: urlsplit lowercases it
    app = make_app(f"{scheme}://{parts.netloc}", v["auth_token"])
    path = parts.path + (f"?{parts.query}" if parts.query else "")
    headers = {"X-Twilio-Signature": v["expected_signature"]} if v["expected_signature"] else {}
    resp = app.test_client().post(path, data=v.get("form_body") or params_of(v), headers=headers,
                                  content_type="application/x-www-form-urlencoded")
    assert resp.status_code == (200 if v["valid"] else 403)
    assert len(app.calls) == (1 if v["valid"] else 0)


def test_empty_and_repeated_fields_are_signed():
    token, url = "secret", "https://gw.example.vn/sms/inbound"
    form = MultiDict([("Body", ""), ("MediaUrl0", "b"), ("MediaUrl0", "a"), ("From", "+84912345678")])
    signature = RequestValidator(token).compute_signature(url, form)
    app = make_app("https://gw.example.vn")
    app.config["TWILIO_AUTH_TOKEN"] = token
    client = app.test_client()
    body = "Body=&MediaUrl0=b&MediaUrl0=a&From=%2B84912345678"
    ok = client.post("/sms/inbound", data=body, headers={"X-Twilio-Signature": signature},
                     content_type="application/x-www-form-urlencoded")
    assert ok.status_code == 200
    for tampered in ("MediaUrl0=b&From=%2B84912345678&Body=",           # a repeated field dropped
                     "Body=+&MediaUrl0=b&MediaUrl0=a&From=%2B84912345678",  # an empty field changed
                     "MediaUrl0=b&MediaUrl0=a&From=%2B84912345678"):  # an empty field dropped
        bad = client.post("/sms/inbound", data=tampered, headers={"X-Twilio-Signature": signature},
                          content_type="application/x-www-form-urlencoded")
        assert bad.status_code == 403
    assert app.calls == ["sms/inbound"]  # only the untampered request reached the view


def test_behind_a_proxy_the_public_url_is_signed_not_the_internal_one():
    token = "secret"
    app = make_app("https://gw.example.vn")
    app.config["TWILIO_AUTH_TOKEN"] = token
    form = {"From": "+84912345678", "Body": "TIN"}
    public = RequestValidator(token).compute_signature("https://gw.example.vn/sms/inbound?x=1", form)
    internal = RequestValidator(token).compute_signature("http://localhost/sms/inbound?x=1", form)
    client = app.test_client()
    assert client.post("/sms/inbound?x=1", data=form, headers={"X-Twilio-Signature": public}).status_code == 200
    assert client.post("/sms/inbound?x=1", data=form, headers={"X-Twilio-Signature": internal}).status_code == 403
    assert app.calls == ["sms/inbound"]


@pytest.mark.parametrize("headers", [{}, {"X-Twilio-Signature": ""}, {"X-Twilio-Signature": "garbage"},
                                     {"X-Twilio-Signature": "\u00e9\u00e9"}])
def test_missing_or_garbage_signature_is_403_never_500(headers):
    app = make_app("https://gw.example.vn")
    resp = app.test_client().post("/sms/inbound", data={"Body": "x"}, headers=headers)
    assert resp.status_code == 403
    assert app.calls == []


def test_json_body_without_body_hash_is_403_not_500():
    app = make_app("https://gw.example.vn")
    resp = app.test_client().post("/sms/inbound", data='{"a": 1}', content_type="application/json",
                                  headers={"X-Twilio-Signature": "abc="})
    assert resp.status_code == 403
    assert app.calls == []
