"""Zalo: the Bot Platform's Telegram-shaped API, and an Official Account's group messages."""
from gateway import http
from gateway.mirror.base import GroupReply, MirrorTarget
from gateway.parse import field, json_object, text_field, whole
from gateway.security import secret_matches
from gateway.transport import TransportError

BOT_API = "https://bot-api.zaloplatforms.com"
OA_GROUP_API = "https://openapi.zalo.me/v3.0/oa/group/message"


class ZaloBotTarget(MirrorTarget):
    """Zalo Bot API `sendMessage` (groups are in beta), and its events webhook (setWebhook with
    secret_token = ZALO_WEBHOOK_SECRET). No reply field: posts carry `#number`."""

    name = "zalo"
    required_settings = ("ZALO_BOT_TOKEN", "ZALO_WEBHOOK_SECRET")
    max_length = 2000

    @classmethod
    def reply_ok(cls, request, config):
        return secret_matches(config.get("ZALO_WEBHOOK_SECRET"), request.headers.get("X-Bot-Api-Secret-Token"))

    @classmethod
    def parse_reply(cls, request):
        result = field(json_object(request.get_data()), "result")
        if result.get("event_name") != "message.text.received":
            return None
        message = field(result, "message")
        return GroupReply(text_field(field(message, "chat"), "id"), text_field(message, "message_id"),
                          text_field(message, "text"), sender=text_field(field(message, "from"), "id"))

    def post(self, chat_id, text, *, reply_to=None, data=None):
        resp = http.request("POST", f"{BOT_API}/bot{self.config['ZALO_BOT_TOKEN']}/sendMessage",
                            json={"chat_id": chat_id, "text": self.fit(text)})
        body = http.json_answer(resp, "zalo")
        if body.get("ok") is True and text_field(field(body, "result"), "message_id"):
            return text_field(field(body, "result"), "message_id")
        code = whole(text_field(body, "error_code"), high=999) or resp.status_code
        message = f"zalo: {code} {text_field(body, 'description')}"[:300]
        if code == 429 or resp.status_code == 429:
            raise TransportError(message, code="429", retry_after=http.retry_after(resp))
        raise TransportError(message, permanent=400 <= code < 500 and code != 408, code=str(code))


class ZaloOATarget(MirrorTarget):
    """A verified Zalo Official Account posting to a group it belongs to (GMF)."""

    name = "zalo_oa"
    required_settings = ("ZALO_OA_ACCESS_TOKEN",)
    max_length = 2000

    def post(self, chat_id, text, *, reply_to=None, data=None):
        resp = http.request("POST", OA_GROUP_API, headers={"access_token": self.config["ZALO_OA_ACCESS_TOKEN"]},
                            json={"recipient": {"group_id": chat_id}, "message": {"text": self.fit(text)}})
        if resp.status_code == 429 or resp.status_code >= 500:
            http.check_status(resp, "zalo_oa")
        body = http.json_answer(resp, "zalo_oa")
        if body.get("error") == 0 and text_field(field(body, "data"), "message_id"):
            return text_field(field(body, "data"), "message_id")
        # Zalo answers HTTP 200 with a negative error code; the codes are not documented well
        # enough to tell rate limits from refusals, so retry them a bounded number of times.
        raise TransportError(f"zalo_oa: error {text_field(body, 'error')} {text_field(body, 'message')}"[:300],
                             code=text_field(body, "error")[:40])
