"""Jobs the queue tests enqueue by dotted name (as the gateway does)."""
import os

from flask import current_app

from gateway.db import get_db
from gateway.models import OutboxMessage


def record(note):
    """Write a row, proving the job ran inside the app with its database."""
    db = get_db()
    db.add(OutboxMessage(channel="test", recipient=note, body=current_app.config["DATABASE_URL"],
                         meta={"pid": os.getpid()}))
    db.commit()
    return note.upper()


def flaky(note, marker_path):
    """Fail on the first run (a transient error), succeed on the retry."""
    if not os.path.exists(marker_path):
        open(marker_path, "w").close()
        raise ConnectionError("provider timed out")
    return record(note)


def slow(note, seconds):
    """Take a while, then record: for shutdown tests."""
    import time

    time.sleep(float(seconds))
    return record(note)
