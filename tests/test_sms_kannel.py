"""Kannel's requests to the gateway (sms-service get-url/post-url, dlr-url) replayed from a
table of cases, what the provider sends to smsbox (recorded with `responses`), and the start-up
check. The end-to-end tests against a real Kannel are in test_kannel.py."""
from urllib.parse import parse_qs, urlsplit

import pytest
import responses
from flask import request
from sqlalchemy import func, select

from gateway import create_app
from gateway.config import ConfigError
from gateway.models import Delivery, InboundMessage
from gateway.sms.outbound import reference
from gateway.sms.providers import get_provider
from gateway.sms.providers.base import Inbound, StatusReport
from gateway.sms.providers.kannel import DLR_MASK, KannelSMS, queued_in
from gateway.transport import TransportError

SECRET = "kannel-secret"
KANNEL = {"KANNEL_SENDSMS_URL": "http://kannel.lan:13013/cgi-bin/sendsms", "KANNEL_USERNAME": "gw",
          "KANNEL_PASSWORD": "pw", "KANNEL_SECRET": SECRET, "KANNEL_FROM": "8079"}
UCS2_TEXT = "Đường ngập ở thôn Tân Lợi"
UCS2_RAW = "".join(f"%{b:02X}" for b in UCS2_TEXT.encode("utf-16-be"))

INBOUND = [
    # (case, method, query or form, expected status, stored text)
    ("get-url", "GET", f"secret={SECRET}&from=0912345678&to=8079&text=Xin+chao&id=u-1&coding=0&charset=UTF-8",
     200, "Xin chao"),
    ("post-url", "POST", f"secret={SECRET}&from=%2B84912345678&to=8079&text=Xin+chao&id=u-2", 200, "Xin chao"),
    ("ucs2 as UTF-16BE", "GET", f"secret={SECRET}&from=0912345678&to=8079&text={UCS2_RAW}&id=u-3&coding=2"
     "&charset=UTF-16BE", 200, UCS2_TEXT),
    ("utf-8 diacritics", "GET", f"secret={SECRET}&from=0912345678&text=%C4%90%C6%B0%E1%BB%9Dng&id=u-4", 200, "Đường"),
    ("wrong secret", "GET", "secret=guess&from=0912345678&text=x&id=u-5", 403, None),
    ("missing secret", "GET", "from=0912345678&text=x&id=u-6", 403, None),
    ("missing sender", "GET", f"secret={SECRET}&text=x&id=u-7", 400, None),
    ("bad UTF-16", "GET", f"secret={SECRET}&from=0912345678&text=%00&id=u-8&coding=2&charset=UTF-16BE", 400, None),
    ("unknown charset", "GET", f"secret={SECRET}&from=0912345678&text=x&id=u-9&charset=klingon", 400, None),
]


@pytest.fixture
def kannel_app(app, demo):
    app.config.update(KANNEL, SMS_PROVIDER="kannel")
    return app


@pytest.mark.parametrize("case, method, data, status, stored", INBOUND, ids=[c[0] for c in INBOUND])
def test_kannel_inbound(kannel_app, db, case, method, data, status, stored):
    client = kannel_app.test_client()
    if method == "GET":
        resp = client.get("/sms/kannel/inbound?" + data)
    else:
        resp = client.post("/sms/kannel/inbound", data=data, content_type="application/x-www-form-urlencoded")
    assert resp.status_code == status
    messages = list(db.scalars(select(InboundMessage)))
    if stored is None:
        assert messages == []
        return
    [m] = messages
    assert (m.provider, m.phone, m.body) == ("kannel", "+84912345678", stored)
    assert resp.data == b""  # smsbox must not answer from the body; the reply is its own SMS
    reply = db.scalar(select(Delivery).where(Delivery.idempotency_key == f"sms:in:{m.id}:reply"))
    assert reply is not None and reply.phone == "+84912345678"


def test_kannel_inbound_is_refused_when_no_secret_is_configured(app, db):
    app.config.update(KANNEL_SECRET="")
    assert app.test_client().get("/sms/kannel/inbound?secret=&from=0912345678&text=DK+KP5&id=n-1").status_code == 403
    assert db.scalar(select(func.count()).select_from(InboundMessage)) == 0
    assert db.scalar(select(func.count()).select_from(Delivery)) == 0  # no reply queued either


def test_the_same_kannel_message_twice_is_stored_once(kannel_app, db):
    client = kannel_app.test_client()
    for _ in range(2):
        resp = client.get(f"/sms/kannel/inbound?secret={SECRET}&from=0912345678&text=Xin+chao&id=same")
        assert resp.status_code == 200
    assert db.scalar(select(func.count()).select_from(InboundMessage)) == 1
    assert db.scalar(select(func.count()).select_from(Delivery)) == 1


def kannel_delivery(db, status="queued"):
    d = Delivery(idempotency_key="k:1", phone="+84912345678", channel="sms", body="x", status=status,
                 provider="kannel", attempts=1)
    db.add(d)
    db.flush()
    d.provider_id = reference(d)
    db.commit()
    return d


STATUS = [
    # (case, type, secret, ref ok, HTTP status, status after)
    ("smsc accepted", "8", SECRET, True, 200, "sent"),
    ("delivered", "1", SECRET, True, 200, "delivered"),
    ("failed at the phone", "2", SECRET, True, 200, "undelivered"),
    ("smsc rejected", "16", SECRET, True, 200, "failed"),
    ("buffered", "4", SECRET, True, 200, "sent"),
    ("unknown type", "99", SECRET, True, 400, "queued"),
    ("unknown message", "1", SECRET, False, 200, "queued"),
    ("wrong secret", "1", "guess", True, 403, "queued"),
    ("missing secret", "1", None, True, 403, "queued"),
]


@pytest.mark.parametrize("case, kind, secret, ref_ok, http, after", STATUS, ids=[c[0] for c in STATUS])
def test_kannel_delivery_report(kannel_app, db, case, kind, secret, ref_ok, http, after):
    d = kannel_delivery(db)
    query = {"type": kind, "ref": d.provider_id if ref_ok else "lx-999-0000000000"}
    if secret is not None:
        query["secret"] = secret
    assert kannel_app.test_client().get("/sms/kannel/status", query_string=query).status_code == http
    db.refresh(d)
    assert d.status == after


def test_kannel_reports_never_move_a_delivery_back(kannel_app, db):
    d = kannel_delivery(db)
    client = kannel_app.test_client()
    for kind, expected in (("1", "delivered"), ("8", "delivered"), ("16", "delivered")):
        client.get("/sms/kannel/status", query_string={"secret": SECRET, "ref": d.provider_id, "type": kind})
        db.refresh(d)
        assert d.status == expected


def test_a_report_for_a_row_its_worker_left_sending_records_that_kannel_has_it(kannel_app, db):
    d = kannel_delivery(db, status="sending")
    ref = d.provider_id
    d.provider_id = None  # the worker died before it could write down what smsbox answered
    db.commit()
    kannel_app.test_client().get("/sms/kannel/status", query_string={"secret": SECRET, "ref": ref, "type": "8"})
    db.refresh(d)
    assert (d.status, d.provider_id) == ("sent", ref)  # and the claim (provider_id IS NULL) cannot take it again


@responses.activate
def test_send_goes_to_sendsms_with_a_dlr_url_and_gsm7_or_ucs2():
    responses.get(KANNEL["KANNEL_SENDSMS_URL"], body="0: Accepted for delivery", status=202)
    provider = get_provider({**KANNEL, "PUBLIC_BASE_URL": "https://gw.example.vn", "KANNEL_SMSC": "viettel"},
                            "kannel")
    assert provider.send("+84912345678", "Hop to luc 19h", reference="lx-7-abc") == "lx-7-abc"
    assert provider.send("+84912345678", "Họp tổ lúc 19h", reference="lx-8-abc") == "lx-8-abc"
    plain, wide = (parse_qs(urlsplit(c.request.url).query) for c in responses.calls)
    assert plain["coding"] == ["0"] and wide["coding"] == ["2"] and wide["text"] == ["Họp tổ lúc 19h"]
    assert plain["charset"] == ["UTF-8"] and plain["from"] == ["8079"] and plain["smsc"] == ["viettel"]
    assert plain["dlr-mask"] == [str(DLR_MASK)] == ["27"]
    assert plain["dlr-url"] == [f"https://gw.example.vn/sms/kannel/status?secret={SECRET}&ref=lx-7-abc&type=%d"]
    assert plain["username"] == ["gw"] and plain["password"] == ["pw"]


@pytest.mark.parametrize("status, body, permanent", [
    (403, "Authorization failed for sendsms", True),
    (400, "Missing receiver number, rejected", True),
    (503, "Temporal failure, try again later.", False),
])
@responses.activate
def test_smsbox_refusals(status, body, permanent):
    responses.get(KANNEL["KANNEL_SENDSMS_URL"], body=body, status=status)
    with pytest.raises(TransportError) as err:
        get_provider(KANNEL, "kannel").send("+84912345678", "x", reference="lx-1-a")
    assert err.value.permanent is permanent


def test_status_xml_counts_what_bearerbox_holds():
    xml = ("<gateway><sms><received><queued>0</queued></received><sent><queued>2</queued></sent>"
           "<storesize>-1</storesize></sms><boxes><box><queue>1</queue></box></boxes>"
           "<smscs><smsc><queued>3</queued></smsc></smscs></gateway>")
    assert queued_in(xml) == 6
    with pytest.raises(TransportError):
        queued_in("<html>not kannel</html")


@pytest.mark.parametrize("missing", ["KANNEL_SENDSMS_URL", "KANNEL_USERNAME", "KANNEL_PASSWORD", "KANNEL_SECRET"])
def test_production_refuses_to_start_with_kannel_without(missing, tmp_path):
    config = {"GATEWAY_ENV": "production", "SECRET_KEY": "s" * 32, "DATABASE_URL": "sqlite:///:memory:",
              "REDIS_URL": "redis://127.0.0.1:6379/15", "PUBLIC_BASE_URL": "https://gw.example.vn",
              "TWILIO_AUTH_TOKEN": "t" * 32, "INSTANCE_PATH": str(tmp_path), "SMS_PROVIDER": "kannel",
              **KANNEL, missing: ""}
    with pytest.raises(ConfigError, match=missing):
        create_app(config)


def test_an_earlier_report_handled_at_the_same_time_never_overwrites_a_later_one(any_app):
    from gateway.db import get_db
    from gateway.sms.outbound import apply_status

    with any_app.app_context():
        db = get_db()
        d = kannel_delivery(db, status="sending")
        first = db.get(Delivery, d.id)  # request A ("accepted by the SMSC") has read the row
        with any_app.app_context():
            other = get_db()  # request B ("delivered") runs and commits meanwhile
            assert apply_status(other, other.get(Delivery, d.id), "delivered")
            other.commit()
        assert first.status == "sending"  # A's copy is stale
        assert apply_status(db, first, "sent") is False
        db.commit()
        assert (first.status, db.scalar(select(Delivery.status).where(Delivery.id == d.id))) == ("delivered",) * 2


# What KannelSMS.parse reads from each request smsbox makes: kind, method, query or form, the event
PARSE = [
    ("inbound", "GET", INBOUND[0][2], Inbound("0912345678", "Xin chao", to="8079", message_id="u-1")),
    ("inbound", "POST", INBOUND[1][2], Inbound("+84912345678", "Xin chao", to="8079", message_id="u-2")),
    ("inbound", "GET", INBOUND[2][2], Inbound("0912345678", UCS2_TEXT, to="8079", message_id="u-3")),
    ("inbound", "GET", f"secret={SECRET}&from=0912345678&text=&id=u-10", Inbound("0912345678", "", message_id="u-10")),
    ("status", "GET", f"secret={SECRET}&ref=lx-1-abc&type=8", StatusReport("sent", reference="lx-1-abc")),
    ("status", "GET", f"secret={SECRET}&ref=lx-1-abc&type=16",
     StatusReport("failed", reference="lx-1-abc", error_code="kannel_16")),
    ("status", "GET", f"secret={SECRET}&ref=lx-1-abc&type=2",
     StatusReport("undelivered", reference="lx-1-abc", error_code="kannel_2")),
]


@pytest.mark.parametrize("kind, method, data, expected", PARSE)
def test_the_provider_reads_each_request(kannel_app, kind, method, data, expected):
    if method == "GET":
        context = kannel_app.test_request_context("/sms/kannel/x?" + data)
    else:
        context = kannel_app.test_request_context("/sms/kannel/x", method="POST", data=data,
                                                  content_type="application/x-www-form-urlencoded")
    with context:
        assert KannelSMS.webhook_ok(request, kannel_app.config)
        assert KannelSMS.parse(request, kind) == expected
