"""The default provider: keeps calls in the outbox table, where the console and simulator show them."""
from gateway.db import get_db
from gateway.ivr.providers.base import VoiceProvider
from gateway.models import OutboxMessage


class OutboxVoice(VoiceProvider):
    name = "outbox"

    def call(self, to, *, url, status_callback, purpose="announcement"):
        db = get_db()
        row = OutboxMessage(channel="voice", recipient=to, body=purpose, media_url=url,
                            status_callback=status_callback, meta={"purpose": purpose})
        db.add(row)
        db.flush()
        return f"outbox-call-{row.id}"
