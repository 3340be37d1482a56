"""A list file checked in one request and imported in the next (the confirm step of every
console import): kept in Redis under a random token for an hour, then forgotten."""
import secrets
from dataclasses import dataclass

from flask import request

from gateway import queue
from gateway.console.base import t

TTL = 3600  # seconds a checked file waits for its confirmation


@dataclass
class Upload:
    """The file of this request and whether it is the confirmation."""

    filename: str = ""
    data: bytes | None = None
    token: str = ""
    confirm: bool = False
    error: str | None = None


def _key(kind, token):
    return f"console:{kind}:{token}"


def received(kind):
    """The file uploaded now (to be checked), or the one kept by the check (`confirm=1&token=…`)."""
    token = request.form.get("token", "")
    if request.form.get("confirm") == "1" and token:
        stored = queue.get_connection().hgetall(_key(kind, token)) if token.isalnum() else {}
        if not stored:
            return Upload(token=token, confirm=True, error=t("res.import_expired"))
        return Upload(stored.get(b"name", b"").decode("utf-8"), stored.get(b"data"), token, True)
    file = request.files.get("file")
    if file is None or not file.filename:
        return Upload(error=t("res.import_no_file"))
    return Upload(file.filename, file.read())


def keep(kind, upload):
    """Keep a checked file for its confirmation (sets `upload.token`), or forget an imported one."""
    conn = queue.get_connection()
    if upload.confirm:
        conn.delete(_key(kind, upload.token))
        upload.token = ""
        return
    upload.token = secrets.token_hex(16)
    conn.hset(_key(kind, upload.token), mapping={"name": upload.filename.encode("utf-8"), "data": upload.data})
    conn.expire(_key(kind, upload.token), TTL)
