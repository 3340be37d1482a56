"""eSMS.vn (ViHAT): brandname SMS in Vietnam over its JSON API.

Our reference goes as `RequestId`; eSMS refuses a RequestId it saw in the last 24 hours (code
124), so sending again after a crash cannot send twice. Delivery reports come as an unsigned
GET to the CallbackUrl we give with each message, `/sms/esms/status?token=ESMS_CALLBACK_TOKEN`.
eSMS documents inbound SMS only for short codes, so this provider is one-way.
"""
from gateway import http
from gateway.phone import national
from gateway.security import secret_matches
from gateway.sms.providers.base import SMSProvider, StatusReport
from gateway.transport import TransportError

SEND_URL = "https://rest.esms.vn/MainService.svc/json/SendMultipleMessage_V4_post_json/"
# SendStatus in the delivery callback → ours (5 is final: see `callback_status`).
STATUSES = {"1": "queued", "2": "queued", "4": "failed", "5": "delivered", "7": "sent"}
# CodeResult → retrying cannot help (True) or may (False). 100 is "accepted", 124 a duplicate.
CODES = {
    "99": ("number blocked", True), "101": ("wrong ApiKey or SecretKey", True), "102": ("no price list", True),
    "103": ("balance too low", False), "104": ("brandname not registered", True),
    "107": ("advertising needs 30 numbers", True), "108": ("invalid phone number", True),
    "118": ("message type not supported", True), "140": ("server IP not whitelisted", True),
    "146": ("content does not match a registered template", True), "177": ("network not registered", True),
    "300": ("SmsType missing", True),
}


def callback_status(send_status, success, failed):
    """Our status from a callback: 5 means done, delivered when eSMS counted it a success."""
    status = STATUSES.get(str(send_status or "").strip())
    if status == "delivered" and (str(failed or "0") not in ("", "0") or str(success or "0") in ("", "0")):
        return "undelivered"
    return status


class EsmsSMS(SMSProvider):
    name = "esms"
    required_settings = ("ESMS_API_KEY", "ESMS_SECRET_KEY", "ESMS_BRANDNAME", "ESMS_CALLBACK_TOKEN")
    STATUSES = STATUSES
    accepted_status = "queued"  # 100 means accepted, not delivered
    dedupes_reference = True

    @classmethod
    def webhook_ok(cls, request, config):
        return secret_matches(config.get("ESMS_CALLBACK_TOKEN"), request.args.get("token"))

    @classmethod
    def parse(cls, request, kind):
        args = request.args
        status = callback_status(args.get("SendStatus"), args.get("SendSuccess"), args.get("SendFailed"))
        # RequestId is our reference: a message sent twice after a crash, the second time
        # answered "duplicate RequestId", is found by it.
        return StatusReport(status, provider_id=args.get("SMSID") or None, reference=args.get("RequestId") or None,
                            error_code=f"esms_{args.get('SendStatus')}" if status in ("failed", "undelivered") else None)

    @property
    def status_path(self):
        return f"/sms/esms/status?token={self.config['ESMS_CALLBACK_TOKEN']}"

    def send(self, to, body, status_callback=None, *, reference=None):
        payload = {
            "ApiKey": self.config["ESMS_API_KEY"], "SecretKey": self.config["ESMS_SECRET_KEY"],
            "Phone": national(to).replace(" ", "") if to.startswith("+84") else to.lstrip("+"),
            "Content": body, "SmsType": "2", "Brandname": self.config["ESMS_BRANDNAME"], "IsUnicode": "0",
            "Sandbox": "1" if str(self.config.get("ESMS_SANDBOX") or "0") == "1" else "0",
        }
        if reference:
            payload["RequestId"] = reference[:50]
        if status_callback:
            payload["CallbackUrl"] = status_callback
        resp = http.request("POST", SEND_URL, json=payload)
        http.check_status(resp, "esms")
        try:
            answer = resp.json()
        except ValueError:
            raise TransportError(f"esms: unreadable answer (HTTP {resp.status_code})") from None
        code = str(answer.get("CodeResult", ""))
        if code == "100":
            return str(answer.get("SMSID") or reference)
        if code == "124" and reference:
            return reference  # this RequestId was accepted before: sent once already
        what, permanent = CODES.get(code, (answer.get("ErrorMessage") or "unknown error", False))
        raise TransportError(f"esms: {code} {what}"[:300], permanent=permanent, code=code)
