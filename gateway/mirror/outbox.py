"""The default group target: posts kept in the outbox table, shown in the web UI."""
from gateway.db import get_db
from gateway.mirror.base import MirrorTarget
from gateway.models import OutboxMessage


class OutboxTarget(MirrorTarget):
    name = "outbox"

    def post(self, chat_id, text, *, reply_to=None, data=None):
        db = get_db()
        row = OutboxMessage(channel="group", recipient=chat_id, body=self.fit(text),
                            meta={"reply_to": reply_to, "data": data or {}})
        db.add(row)
        db.flush()
        return f"outbox-{row.id}"
