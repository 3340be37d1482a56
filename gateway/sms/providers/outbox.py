"""The default provider: keeps messages in the outbox table, shown in the web UI."""
from gateway.db import get_db
from gateway.models import OutboxMessage
from gateway.sms.providers.base import SMSProvider


class OutboxSMS(SMSProvider):
    name = "outbox"
    STATUSES = {"sent": "sent", "delivered": "delivered", "failed": "failed"}
    # The outbox row is written in the delivery's own transaction: a worker that dies before
    # committing leaves neither, so sending again cannot show the message twice.
    dedupes_reference = True
    reports_delivery = False  # nothing on the other side tells us a phone got it

    def send(self, to, body, status_callback=None, *, reference=None):
        db = get_db()
        row = OutboxMessage(channel="sms", recipient=to, body=body, status_callback=status_callback,
                            meta={"reference": reference} if reference else {})
        db.add(row)
        db.flush()
        return f"outbox-{row.id}"
