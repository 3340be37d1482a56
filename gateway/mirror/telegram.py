"""Telegram Bot API: sendMessage into a group, and the updates webhook (setWebhook with
secret_token = TELEGRAM_WEBHOOK_SECRET): the bot sees replies to its own posts."""
from gateway import http
from gateway.mirror.base import ChatMigrated, GroupReply, MirrorTarget
from gateway.parse import field, json_object, text_field, whole
from gateway.security import secret_matches
from gateway.transport import TransportError

API = "https://api.telegram.org"


class TelegramTarget(MirrorTarget):
    name = "telegram"
    required_settings = ("TELEGRAM_BOT_TOKEN", "TELEGRAM_WEBHOOK_SECRET")
    max_length = 4096

    @classmethod
    def reply_ok(cls, request, config):
        return secret_matches(config.get("TELEGRAM_WEBHOOK_SECRET"),
                              request.headers.get("X-Telegram-Bot-Api-Secret-Token"))

    @classmethod
    def parse_reply(cls, request):
        message = field(json_object(request.get_data()), "message")
        if not message:
            return None  # an edit, a member joining, a callback: nothing to relay
        return GroupReply(text_field(field(message, "chat"), "id"), text_field(message, "message_id"),
                          text_field(message, "text"), sender=text_field(field(message, "from"), "id"),
                          reply_to=text_field(field(message, "reply_to_message"), "message_id"))

    def post(self, chat_id, text, *, reply_to=None, data=None):
        payload = {"chat_id": chat_id, "text": self.fit(text), "link_preview_options": {"is_disabled": True}}
        if reply_to:
            if whole(reply_to) is not None:  # our own post's id, as Telegram gave it
                payload["reply_parameters"] = {"message_id": whole(reply_to), "allow_sending_without_reply": True}
        resp = http.request("POST", f"{API}/bot{self.config['TELEGRAM_BOT_TOKEN']}/sendMessage", json=payload)
        body = http.json_answer(resp, "telegram")
        if body.get("ok") is True:
            message_id = text_field(field(body, "result"), "message_id")
            if not message_id:
                raise TransportError("telegram: answer without a message id")
            return message_id
        params = field(body, "parameters")
        message = f"telegram: {text_field(body, 'error_code')} {text_field(body, 'description')}"[:300]
        if text_field(params, "migrate_to_chat_id"):
            raise ChatMigrated(message, text_field(params, "migrate_to_chat_id"))
        code = whole(text_field(body, "error_code"), high=999) or resp.status_code
        if code == 429:
            raise TransportError(message, code="429", retry_after=whole(text_field(params, "retry_after"))
                                 or http.retry_after(resp))
        # 400 bad request, 401 bad token, 403 bot removed from the group: retrying cannot help.
        raise TransportError(message, permanent=400 <= code < 500, code=str(code))
