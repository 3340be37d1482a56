"""The default provider: keeps messages in the outbox table, shown in the web UI."""
from gateway.db import get_db
from gateway.models import OutboxMessage
from gateway.sms.providers.base import SMSProvider


class OutboxSMS(SMSProvider):
    name = "outbox"

    def send(self, to, body, status_callback=None):
        db = get_db()
        row = OutboxMessage(channel="sms", recipient=to, body=body, status_callback=status_callback)
        db.add(row)
        db.flush()
        return f"outbox-{row.id}"
