"""eSMS delivery callbacks replayed from a table of captured requests (nyaruka/courier style),
and what the provider class reads from each (gateway.sms.providers.esms)."""
import pytest
from flask import request

from gateway.models import Delivery
from gateway.sms.outbound import reference
from gateway.sms.providers.base import StatusReport
from gateway.sms.providers.esms import EsmsSMS

def esms_delivery(db):
    d = Delivery(idempotency_key="e:1", channel="sms", phone="+84912345678", body="x", provider="esms",
                 provider_id="f2b7c1d0-smsid", status="queued")
    db.add(d)
    db.commit()
    return d


# name, query, HTTP status, status after
ESMS = [
    ("delivered", "token=cb-secret&SMSID=f2b7c1d0-smsid&RequestId=x&phonenumber=0912345678&SendSuccess=1&SendFailed=0"
                  "&SendStatus=5&TotalPrice=700&TypeId=2&telcoid=1", 200, "delivered"),
    ("sent-to-telco", "token=cb-secret&SMSID=f2b7c1d0-smsid&SendStatus=7&SendSuccess=0&SendFailed=0", 200, "sent"),
    ("rejected", "token=cb-secret&SMSID=f2b7c1d0-smsid&SendStatus=4&SendSuccess=0&SendFailed=1", 200, "failed"),
    ("done-but-failed", "token=cb-secret&SMSID=f2b7c1d0-smsid&SendStatus=5&SendSuccess=0&SendFailed=1", 200,
     "undelivered"),
    ("wrong-token", "token=guess&SMSID=f2b7c1d0-smsid&SendStatus=5&SendSuccess=1&SendFailed=0", 403, "queued"),
    ("no-token", "SMSID=f2b7c1d0-smsid&SendStatus=5&SendSuccess=1&SendFailed=0", 403, "queued"),
    ("unknown-smsid", "token=cb-secret&SMSID=nope&SendStatus=5&SendSuccess=1&SendFailed=0", 200, "queued"),
]


@pytest.mark.parametrize("name, query, status, after", ESMS, ids=[c[0] for c in ESMS])
def test_esms_status_callback(app, db, name, query, status, after):
    app.config.update(ESMS_CALLBACK_TOKEN="cb-secret")
    d = esms_delivery(db)
    assert app.test_client().get(f"/sms/esms/status?{query}").status_code == status
    db.refresh(d)
    assert d.status == after


def test_esms_callback_without_a_configured_token_is_refused(app, db):
    d = esms_delivery(db)
    assert app.test_client().get("/sms/esms/status?token=&SMSID=f2b7c1d0-smsid&SendStatus=5").status_code == 403
    db.refresh(d)
    assert d.status == "queued"


# What EsmsSMS.parse reads from each captured callback query
PARSE = [
    (ESMS[0][1], StatusReport("delivered", provider_id="f2b7c1d0-smsid", reference="x")),
    (ESMS[1][1], StatusReport("sent", provider_id="f2b7c1d0-smsid")),
    (ESMS[2][1], StatusReport("failed", provider_id="f2b7c1d0-smsid", error_code="esms_4")),
    (ESMS[3][1], StatusReport("undelivered", provider_id="f2b7c1d0-smsid", error_code="esms_5")),
    ("token=t&SMSID=s&SendStatus=1", StatusReport("queued", provider_id="s")),
    ("token=t&SMSID=s&SendStatus=99", StatusReport(None, provider_id="s")),
]


@pytest.mark.parametrize("query, expected", PARSE)
def test_the_provider_reads_each_captured_callback(app, query, expected):
    with app.test_request_context("/sms/esms/status?" + query):
        assert EsmsSMS.parse(request, "status") == expected


def test_a_message_sent_again_after_a_crash_is_found_by_our_request_id(app, db):
    """The second send was answered "duplicate RequestId": the callback names the first SMSID."""
    app.config.update(ESMS_CALLBACK_TOKEN="cb-secret")
    d = Delivery(idempotency_key="e:2", channel="sms", phone="+84912345678", body="x", provider="esms",
                 provider_id=None, status="sending")
    db.add(d)
    db.commit()
    ref = reference(d)
    client = app.test_client()
    forged = client.get(f"/sms/esms/status?token=cb-secret&SMSID=x&RequestId=lx-{d.id}-0000000000&SendStatus=5"
                        "&SendSuccess=1&SendFailed=0")
    assert forged.status_code == 200
    db.refresh(d)
    assert (d.status, d.provider_id) == ("sending", None)  # a reference whose digest is not the row's names nothing
    resp = client.get(f"/sms/esms/status?token=cb-secret&SMSID=other&RequestId={ref}&SendStatus=5"
                      "&SendSuccess=1&SendFailed=0")
    assert resp.status_code == 200
    db.refresh(d)
    assert (d.status, d.provider_id) == ("delivered", ref)
