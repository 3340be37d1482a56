"""Twilio's SMS webhooks replayed from tables of captured requests (nyaruka/courier style): valid,
bad and missing signatures, with the expected status, reply and rows; and what the provider
class reads from each request (gateway.sms.providers.twilio)."""
import unicodedata

import pytest
from flask import request
from sqlalchemy import func, select

from gateway.models import Delivery, InboundMessage, Report, Resident
from gateway.sms.providers.base import Inbound, StatusReport
from gateway.sms.providers.twilio import TwilioSMS
from tests.sms_helpers import inbound_params, reference, twiml_messages, twilio_post

UNKNOWN = "+84987000111"

# name, params, signature, HTTP status, reply (substring; "" = none), rows: (inbound messages, intent)
INBOUND = [
    ("reference-example", inbound_params("Xin chào, tôi cần hỗ trợ về đăng ký tạm trú.", UNKNOWN), "valid", 200,
     "Da nhan phan anh #1.", (1, "report")),
    ("reference-example-bad-signature", inbound_params("Xin chào", UNKNOWN), "bad", 403, None, (0, None)),
    ("reference-example-no-signature", inbound_params("Xin chào", UNKNOWN), "missing", 403, None, (0, None)),
    ("subscribe", inbound_params("DK KP5", UNKNOWN), "valid", 200, "Da dang ky nhan tin Khu pho 5.",
     (1, "subscribe")),
    ("subscribe-bad-signature", inbound_params("DK KP5", UNKNOWN), "bad", 403, None, (0, None)),
    ("subscribe-no-signature", inbound_params("DK KP5", UNKNOWN), "missing", 403, None, (0, None)),
    ("subscribe-diacritics", inbound_params("ĐK thôn Tân Lợi", UNKNOWN), "valid", 200,
     "Da dang ky nhan tin Thon Tan Loi.", (1, "subscribe")),
    ("ambiguous-area", inbound_params("DK to 1", UNKNOWN), "valid", 200, "\"to 1\" co 14 khu: KP1 To 1, KP2 To 1",
     (1, "subscribe")),
    ("unknown-area-suggested", inbound_params("DK tan loii", UNKNOWN), "valid", 200,
     "Khong tim thay khu \"tan loii\". Co phai: TANLOI (Thon Tan Loi)?", (1, "subscribe")),
    ("news-stranger", inbound_params("TIN", UNKNOWN), "valid", 200, "Ban chua dang ky khu nao.", (1, "news")),
    ("news-for-an-area", inbound_params("TIN KP5", UNKNOWN), "valid", 200, "Chua co thong bao moi cho Khu pho 5.",
     (1, "news")),
    ("stop", inbound_params("STOP", UNKNOWN), "valid", 200, "Ban da ngung nhan tin", (1, "unsubscribe")),
    ("huy", inbound_params("Hủy", UNKNOWN), "valid", 200, "Ban da ngung nhan tin", (1, "unsubscribe")),
    ("help", inbound_params("?", UNKNOWN), "valid", 200, "DK <ma khu> dang ky, TIN xem tin", (1, "help")),
    ("empty-body-mms", dict(reference("twilio_webhooks.json")["inbound_sms"]["examples"][2]["params"], From=UNKNOWN),
     "valid", 200, "Loa Xom: DK", (1, "help")),
    ("confirm-nothing", inbound_params("OK", UNKNOWN), "valid", 200, "Khong co thong bao nao can xac nhan",
     (1, "confirm")),
    ("invalid-sender", inbound_params("TIN", "VIETTEL"), "valid", 200, "", (1, "invalid_sender")),
    ("invalid-sender-no-signature", inbound_params("TIN", "VIETTEL"), "missing", 403, None, (0, None)),
    ("too-long", inbound_params("a" * 1601, UNKNOWN), "valid", 200, "Tin nhan qua dai (toi da 1600 ky tu)",
     (1, "too_long")),
    ("empty-and-repeated-fields", list(inbound_params("TIN", UNKNOWN).items()) + [("MediaUrl0", "b"), ("MediaUrl0", "a"),
                                                                                   ("Extra", "")],
     "valid", 200, "Ban chua dang ky", (1, "news")),
]


@pytest.mark.parametrize("name, params, sign, status, reply, rows", INBOUND, ids=[c[0] for c in INBOUND])
def test_twilio_inbound(client, db, demo, name, params, sign, status, reply, rows):
    resp = twilio_post(client, "/sms/inbound", params, sign=sign)
    assert resp.status_code == status
    messages = list(db.scalars(select(InboundMessage)))
    assert (len(messages), messages[0].intent if messages else None) == rows
    if status != 200:
        return
    assert resp.mimetype == "text/xml"
    texts = twiml_messages(resp)
    if reply:
        [text] = texts
        assert reply in text
        assert text.isascii()
    else:
        assert texts == []
    body = dict(params)["Body"]
    assert messages[0].body == unicodedata.normalize("NFC", body)


def test_text_is_stored_exactly_as_received_in_nfc(client, db, demo):
    nfd = unicodedata.normalize("NFD", "Phản ánh: đèn đường hỏng ở hẻm 12!!  ")
    assert twilio_post(client, "/sms/inbound", inbound_params(nfd, UNKNOWN)).status_code == 200
    message = db.scalar(select(InboundMessage))
    assert message.body == unicodedata.normalize("NFC", nfd)  # spaces and "!!" kept
    report = db.get(Report, message.report_id)
    assert report.text == "đèn đường hỏng ở hẻm 12!!" and report.category == "environment"


def test_subscribing_stranger_becomes_a_resident(client, db, demo):
    twilio_post(client, "/sms/inbound", inbound_params("dang ky khu pho 5", UNKNOWN))
    resident = db.scalar(select(Resident).where(Resident.phone == UNKNOWN))
    assert resident.consent_source == "sms" and resident.area.code == "KP5" and not resident.opted_out


def test_redelivered_webhook_is_handled_once(client, db, demo):
    params = inbound_params("Cây đổ chắn đường", UNKNOWN)
    first = twilio_post(client, "/sms/inbound", params)
    again = twilio_post(client, "/sms/inbound", params)
    # The provider redelivers when our first answer did not reach it: the same receipt again.
    assert "Da nhan phan anh" in twiml_messages(first)[0] and twiml_messages(again) == twiml_messages(first)
    assert db.scalar(select(func.count()).select_from(Report)) == 1
    assert db.scalar(select(func.count()).select_from(InboundMessage)) == 1


def twilio_delivery(db, sid="SM0123456789abcdef0123456789abcde1", status="queued"):
    d = Delivery(idempotency_key=f"t:{sid}", channel="sms", phone="+84912345678", body="x", provider="twilio",
                 provider_id=sid, status=status)
    db.add(d)
    db.commit()
    return d


STATUS_EXAMPLES = reference("twilio_webhooks.json")["message_status_callback"]["examples"]

# name, starting status, callback params, signature, HTTP status, status after, error code after
STATUS = [
    ("sent", "queued", STATUS_EXAMPLES[0]["params"], "valid", 200, "sent", None),
    ("sent-bad-signature", "queued", STATUS_EXAMPLES[0]["params"], "bad", 403, "queued", None),
    ("sent-no-signature", "queued", STATUS_EXAMPLES[0]["params"], "missing", 403, "queued", None),
    ("delivered", "sent", STATUS_EXAMPLES[1]["params"], "valid", 200, "delivered", None),
    ("delivered-before-sent", "queued", STATUS_EXAMPLES[1]["params"], "valid", 200, "delivered", None),
    ("sent-after-delivered", "delivered", STATUS_EXAMPLES[0]["params"], "valid", 200, "delivered", None),
    ("undelivered", "sent", dict(STATUS_EXAMPLES[2]["params"], MessageSid="SM0123456789abcdef0123456789abcde1"),
     "valid", 200, "undelivered", "30003"),
    ("failed", "queued", dict(STATUS_EXAMPLES[3]["params"], MessageSid="SM0123456789abcdef0123456789abcde1"),
     "valid", 200, "failed", "30008"),
    ("queued-after-sent", "sent", dict(STATUS_EXAMPLES[0]["params"], MessageStatus="queued", SmsStatus="queued"),
     "valid", 200, "sent", None),
    ("confirmed-stays", "confirmed", STATUS_EXAMPLES[1]["params"], "valid", 200, "confirmed", None),
    ("unknown-status-word", "sent", dict(STATUS_EXAMPLES[0]["params"], MessageStatus="weird", SmsStatus="weird"),
     "valid", 200, "sent", None),
]


@pytest.mark.parametrize("name, start, params, sign, status, after, error", STATUS, ids=[c[0] for c in STATUS])
def test_twilio_status(client, db, name, start, params, sign, status, after, error):
    d = twilio_delivery(db, status=start)
    resp = twilio_post(client, "/sms/status", params, sign=sign)
    assert resp.status_code == status
    db.refresh(d)
    assert (d.status, d.error_code) == (after, error)
    if after == "delivered" and start != "delivered":
        assert d.delivered_at is not None


def test_status_for_an_unknown_message_is_200(client, db):
    d = twilio_delivery(db)
    resp = twilio_post(client, "/sms/status", dict(STATUS_EXAMPLES[0]["params"], MessageSid="SM" + "f" * 32))
    assert resp.status_code == 200
    db.refresh(d)
    assert d.status == "queued"  # another message's row is left alone
    assert db.scalar(select(func.count()).select_from(Delivery)) == 1  # and none is made up for it


# What TwilioSMS.parse reads from each captured request: kind, params, the neutral event
PARSE = [
    ("inbound", reference("twilio_webhooks.json")["inbound_sms"]["examples"][1]["params"],
     Inbound("+84912345678", "Xin chào, tôi cần hỗ trợ về đăng ký tạm trú.", to=reference("twilio_webhooks.json")
             ["inbound_sms"]["examples"][1]["params"]["To"], message_id="SM0123456789abcdef0123456789abcdef")),
    ("inbound", reference("twilio_webhooks.json")["inbound_sms"]["examples"][2]["params"],
     Inbound("+84912345678", "", to=reference("twilio_webhooks.json")["inbound_sms"]["examples"][2]["params"]["To"],
             message_id="MM0123456789abcdef0123456789abcdef")),
    ("status", STATUS_EXAMPLES[0]["params"], StatusReport("sent", provider_id="SM0123456789abcdef0123456789abcde1")),
    ("status", STATUS_EXAMPLES[1]["params"],
     StatusReport("delivered", provider_id="SM0123456789abcdef0123456789abcde1")),
    ("status", STATUS_EXAMPLES[2]["params"],
     StatusReport("undelivered", provider_id="SM0123456789abcdef0123456789abcde2", error_code="30003")),
    ("status", STATUS_EXAMPLES[3]["params"],
     StatusReport("failed", provider_id="SM0123456789abcdef0123456789abcde3", error_code="30008")),
    ("status", dict(STATUS_EXAMPLES[0]["params"], MessageStatus="weird", SmsStatus="weird"),
     StatusReport(None, provider_id="SM0123456789abcdef0123456789abcde1")),
]


@pytest.mark.parametrize("kind, params, expected", PARSE)
def test_the_provider_reads_each_captured_request(app, kind, params, expected):
    with app.test_request_context("/sms/" + kind, method="POST", data=params):
        assert TwilioSMS.parse(request, kind) == expected


def test_a_request_without_sender_and_text_cannot_be_read(app):
    with app.test_request_context("/sms/inbound", method="POST", data={"MessageSid": "SM1"}):
        with pytest.raises(ValueError, match="From and Body"):
            TwilioSMS.parse(request, "inbound")
