"""Kannel: the open-source SMS gateway (SMPP links to carriers, GSM modems), through smsbox.

Sending is smsbox's `GET /cgi-bin/sendsms` with `dlr-mask=27` (delivered, failed, accepted
and rejected by the SMSC) and a `dlr-url` back to `/sms/kannel/status` carrying our reference
and KANNEL_SECRET; smsbox substitutes `%d` with the report's type. Inbound SMS come from an
`sms-service` whose get-url (or post-url) is `/sms/kannel/inbound?secret=…` (gateway.sms.views;
the README has a sample kannel.conf).

Kannel keeps no reference of ours and refuses no duplicate. A message left "sending" by a
crashed worker is looked up at bearerbox's status page (KANNEL_ADMIN_URL): a message Kannel
took reports back within seconds (type 8 or 16), so when no report came, and bearerbox holds
nothing queued, Kannel never had it and it is sent again; otherwise an operator decides.
"""
import xml.etree.ElementTree as ElementTree
from urllib.parse import parse_qs, urlencode

from gateway import http
from gateway.security import secret_matches
from gateway.sms.encoding import count_segments
from gateway.sms.providers.base import Inbound, SMSProvider, StatusReport
from gateway.transport import TransportError

# dlr-mask bits → ours (courier's mapping): 1 delivered, 2 failed, 4 buffered, 8 SMSC accepted,
# 16 SMSC rejected.
STATUSES = {"1": "delivered", "2": "undelivered", "4": "sent", "8": "sent", "16": "failed"}
DLR_MASK = 1 | 2 | 8 | 16


class KannelSMS(SMSProvider):
    name = "kannel"
    required_settings = ("KANNEL_SENDSMS_URL", "KANNEL_USERNAME", "KANNEL_PASSWORD", "KANNEL_SECRET")
    STATUSES = STATUSES
    accepted_status = "queued"  # smsbox took it; the SMSC's report (8) makes it "sent"
    unicode_capable = True

    @classmethod
    def webhook_ok(cls, request, config):
        request.get_data(cache=True)  # kept undecoded for raw_value; the form is parsed from the copy
        return secret_matches(config.get("KANNEL_SECRET"), request.values.get("secret"))

    @classmethod
    def parse(cls, request, kind):
        values = request.values
        if kind == "status":
            code = values.get("type", "").strip()
            if code not in STATUSES:
                raise ValueError(f"unknown report type '{code[:20]}'")
            status = STATUSES[code]
            return StatusReport(status, reference=values.get("ref") or None,
                                error_code=f"kannel_{code}" if status in ("failed", "undelivered") else None)
        sender = values.get("from", "").strip()
        if not sender:
            raise ValueError("missing 'from' (%p in the get-url)")
        body = decode_text(raw_value(request, "text"), values.get("coding"), values.get("charset"))
        return Inbound(sender, body, to=values.get("to") or None, message_id=(values.get("id") or "")[:100] or None)

    @classmethod
    def answer(cls, outcome):
        if outcome.kind == "inbound":
            return "", 200, {"Content-Type": "text/plain"}  # max-messages = 0: the reply is its own SMS
        return ("ok\n" if outcome.found else "unknown message\n"), 200, {"Content-Type": "text/plain"}

    def dlr_url(self, reference):
        """Where smsbox reports on the message; `%d` is Kannel's, replaced by the report type."""
        base = (self.config.get("KANNEL_CALLBACK_URL") or self.config.get("PUBLIC_BASE_URL") or "").rstrip("/")
        query = urlencode({"secret": self.config["KANNEL_SECRET"], "ref": reference})
        return f"{base}/sms/kannel/status?{query}&type=%d"

    def send(self, to, body, status_callback=None, *, reference=None):
        params = {
            "username": self.config["KANNEL_USERNAME"], "password": self.config["KANNEL_PASSWORD"],
            "to": to, "text": body, "charset": "UTF-8",
            # GSM-7 unless the text needs UCS-2 (a commune that chose diacritics).
            "coding": "2" if count_segments(body)[0] == "UCS-2" else "0",
        }
        if self.config.get("KANNEL_FROM"):
            params["from"] = self.config["KANNEL_FROM"]
        if self.config.get("KANNEL_SMSC"):
            params["smsc"] = self.config["KANNEL_SMSC"]
        if reference:
            params.update({"dlr-mask": str(DLR_MASK), "dlr-url": self.dlr_url(reference)})
        resp = http.request("GET", self.config["KANNEL_SENDSMS_URL"], params=params)
        answer = resp.text.strip()[:200]
        if resp.status_code in (200, 202):
            # "0: Accepted for delivery", or "3: Queued for later delivery" (smsbox will send it
            # when bearerbox is back): either way Kannel has it. It gives no id of its own.
            return reference or answer
        if resp.status_code in (401, 403):
            raise TransportError(f"kannel: {answer} (check KANNEL_USERNAME and KANNEL_PASSWORD)", permanent=True,
                                 code=str(resp.status_code))
        http.check_status(resp, "kannel")
        raise TransportError(f"kannel: unexpected answer HTTP {resp.status_code} {answer}")

    def lookup(self, reference):
        """None when bearerbox holds nothing queued (Kannel never had a message that did not
        report back); TransportError when it cannot be told (no admin URL, messages queued)."""
        url = self.config.get("KANNEL_ADMIN_URL")
        if not url:
            raise TransportError("kannel: KANNEL_ADMIN_URL is not set; cannot tell whether Kannel has it")
        resp = http.request("GET", url.rstrip("/") + "/status.xml",
                            params={"password": self.config.get("KANNEL_ADMIN_PASSWORD") or ""})
        http.check_status(resp, "kannel admin")
        queued = queued_in(resp.text)
        if queued:
            raise TransportError(f"kannel: bearerbox still holds {queued} messages; asking again later")
        return None


def queued_in(status_xml):
    """Messages bearerbox holds (its queues, its store, every SMSC's queue) from status.xml."""
    try:
        root = ElementTree.fromstring(status_xml)
    except ElementTree.ParseError:
        raise TransportError("kannel admin: status.xml unreadable") from None
    paths = ("sms/sent/queued", "sms/received/queued", "sms/storesize", "boxes/box/queue", "smscs/smsc/queued")
    total = 0
    for path in paths:
        for node in root.findall(path):
            text = (node.text or "0").strip()
            total += int(text) if text.lstrip("-").isdigit() and int(text) > 0 else 0
    return total


def raw_value(request, name):
    """A query or form field as bytes, undecoded (smsbox sends UCS-2 texts as raw UTF-16BE)."""
    raw = request.query_string
    if request.method == "POST" and request.mimetype == "application/x-www-form-urlencoded":
        raw = raw + b"&" + request.get_data()
    found = parse_qs(raw.decode("latin-1"), keep_blank_values=True, encoding="latin-1").get(name)
    return found[0].encode("latin-1") if found else b""


def decode_text(raw, coding=None, charset=None):
    """The text of an inbound SMS from smsbox's `%a` (bytes, as sent), `%c` coding and `%C`
    charset: UCS-2 messages come as UTF-16BE, others in `charset` (UTF-8 by default).
    ValueError when the bytes are not text in that charset."""
    charset = str(charset or "").strip() or ("UTF-16BE" if str(coding or "").strip() == "2" else "UTF-8")
    try:
        return raw.decode(charset)
    except LookupError:
        raise ValueError(f"unknown charset '{charset[:30]}'") from None
    except UnicodeDecodeError:
        raise ValueError(f"text is not valid {charset[:30]}") from None
