"""The default group target: posts kept in the outbox table, shown in the web UI."""
from sqlalchemy import select

from gateway.db import get_db
from gateway.mirror.base import MirrorTarget
from gateway.models import OutboxMessage


class OutboxTarget(MirrorTarget):
    name = "outbox"
    can_lookup = True

    def post(self, chat_id, text, *, reply_to=None, data=None):
        db = get_db()
        row = OutboxMessage(channel="group", recipient=chat_id, body=self.fit(text),
                            meta={"reply_to": reply_to, "data": data or {}})
        db.add(row)
        db.flush()
        return f"outbox-{row.id}"

    def lookup(self, post):
        rows = get_db().scalars(select(OutboxMessage).where(OutboxMessage.channel == "group",
                                                            OutboxMessage.recipient == post.chat_id)
                                .order_by(OutboxMessage.id.desc()).limit(500))
        for row in rows:
            if (row.meta or {}).get("data", {}).get("post_id") == post.id:
                return f"outbox-{row.id}"
        return None
