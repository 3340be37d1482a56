"""Telegram Bot API: sendMessage into a group (the bot sees replies to its own posts)."""
from gateway import http
from gateway.mirror.base import ChatMigrated, MirrorTarget
from gateway.transport import TransportError

API = "https://api.telegram.org"


class TelegramTarget(MirrorTarget):
    name = "telegram"
    required_settings = ("TELEGRAM_BOT_TOKEN", "TELEGRAM_WEBHOOK_SECRET")
    max_length = 4096

    def post(self, chat_id, text, *, reply_to=None, data=None):
        payload = {"chat_id": chat_id, "text": self.fit(text), "link_preview_options": {"is_disabled": True}}
        if reply_to:
            payload["reply_parameters"] = {"message_id": int(reply_to), "allow_sending_without_reply": True}
        resp = http.request("POST", f"{API}/bot{self.config['TELEGRAM_BOT_TOKEN']}/sendMessage", json=payload)
        try:
            body = resp.json()
        except ValueError:
            http.check_status(resp, "telegram")
            raise TransportError(f"telegram: unreadable answer (HTTP {resp.status_code})") from None
        if body.get("ok"):
            return str(body["result"]["message_id"])
        params = body.get("parameters") or {}
        message = f"telegram: {body.get('error_code')} {body.get('description', '')}"[:300]
        if params.get("migrate_to_chat_id"):
            raise ChatMigrated(message, params["migrate_to_chat_id"])
        code = body.get("error_code") or resp.status_code
        if code == 429:
            raise TransportError(message, code="429", retry_after=params.get("retry_after") or http.retry_after(resp))
        # 400 bad request, 401 bad token, 403 bot removed from the group: retrying cannot help.
        raise TransportError(message, permanent=400 <= int(code) < 500, code=str(code))
