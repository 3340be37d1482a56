"""A plain JSON webhook for any other group tool, signed with an HMAC header.

The chat id of an area using this target is the URL to POST to. Each request carries
`X-Loaxom-Timestamp` (Unix seconds) and `X-Loaxom-Signature: sha256=<hex>`, the HMAC-SHA256
with GROUP_WEBHOOK_SECRET of `<timestamp>.<raw body>`; receivers should reject stale timestamps.
`Idempotency-Key: loaxom-post-<id>` (also `event.post_id`) is the same for every attempt of one
post: receivers must post a key once, so a post whose answer was lost is safely sent again.
"""
import hashlib
import hmac
import json
import time
import uuid

from gateway import http
from gateway.mirror.base import GroupReply, MirrorTarget
from gateway.parse import json_object, text_field, whole

SIGNATURE_WINDOW = 300  # seconds either side of X-Loaxom-Timestamp


def sign(secret, timestamp, body):
    """The signature header value for `body` (bytes) sent at `timestamp`."""
    mac = hmac.new(secret.encode("utf-8"), f"{timestamp}.".encode("ascii") + body, hashlib.sha256)
    return "sha256=" + mac.hexdigest()


class WebhookTarget(MirrorTarget):
    name = "webhook"
    required_settings = ("GROUP_WEBHOOK_SECRET",)
    max_length = 10000
    dedupes = True  # receivers honour Idempotency-Key (see above)

    @classmethod
    def reply_ok(cls, request, config):
        secret = config.get("GROUP_WEBHOOK_SECRET") or ""
        timestamp = request.headers.get("X-Loaxom-Timestamp", "")
        seconds = whole(timestamp, high=10**10)
        return bool(secret and seconds is not None and abs(time.time() - seconds) <= SIGNATURE_WINDOW
                    and hmac.compare_digest(sign(secret, timestamp, request.get_data()),
                                            request.headers.get("X-Loaxom-Signature", "")))

    @classmethod
    def parse_reply(cls, request):
        body = json_object(request.get_data())
        return GroupReply(text_field(body, "chat_id"), text_field(body, "id"), text_field(body, "text"),
                          official_login=text_field(body, "official"), reply_to=text_field(body, "reply_to"))

    def post(self, chat_id, text, *, reply_to=None, data=None):
        body = json.dumps({"text": self.fit(text), "reply_to": reply_to, "event": data or {}},
                          ensure_ascii=False, separators=(",", ":")).encode("utf-8")
        timestamp = str(int(time.time()))
        resp = http.request("POST", chat_id, data=body, headers={
            "Content-Type": "application/json; charset=utf-8",
            "X-Loaxom-Timestamp": timestamp,
            "X-Loaxom-Signature": sign(self.config["GROUP_WEBHOOK_SECRET"], timestamp, body),
            **({"Idempotency-Key": f"loaxom-post-{data['post_id']}"} if (data or {}).get("post_id") else {}),
        })
        http.check_status(resp, "webhook")
        try:
            answer = resp.json()
        except ValueError:
            answer = None  # the receiver need not answer JSON: the post is made
        return text_field(answer, "message_id")[:100] or uuid.uuid4().hex
