"""gammu-smsd: a USB GSM modem (or an old phone on a cable) with a local SIM, driven by Gammu's
SMS daemon with its `files` service, on the machine the gateway runs on.

Sending writes the message into the daemon's outbox as a text file named with our reference
(`OUTC<date>_<time>_00_<number>_<reference>.txt`; UTF-16 with BOM when it needs UCS-2), written
under another name and renamed, so the daemon never reads half a file. The daemon moves it to
`sent/` or `error/`; its RunOnSent / RunOnError hooks (`python -m gateway sms gammu-sent|gammu-error`)
record that. A message is found again by its reference in those folders, so a retry after a
crash never writes a second file. Inbound SMS: RunOnReceive (`python -m gateway sms
gammu-receive`) reads what the daemon puts in the environment. Settings: GAMMU_SPOOL_DIR holds
`outbox/`, `sent/` and `error/` (Debian's /var/spool/gammu).
"""
import datetime as dt
import glob
import os
import re

from gateway.sms.encoding import count_segments
from gateway.sms.providers.base import SMSProvider
from gateway.transport import TransportError

FOLDERS = {"outbox": "queued", "sent": "sent", "error": "failed"}
# The reference at the end of a file name the daemon was given: ..._<reference>.txt
REFERENCE = re.compile(r"_(lx-\d+-[0-9a-f]+)\.txt$")


class GammuSMS(SMSProvider):
    name = "gammu"
    required_settings = ("GAMMU_SPOOL_DIR",)
    STATUSES = {"sent": "sent", "error": "failed", "failed": "failed"}
    accepted_status = "queued"  # in the outbox; the daemon's RunOnSent makes it "sent"
    dedupes_reference = True
    unicode_capable = True

    def _dir(self, folder):
        return os.path.join(self.config["GAMMU_SPOOL_DIR"], folder)

    def find(self, reference):
        """(folder, path) of the message sent with `reference`, or None."""
        for folder in FOLDERS:
            for path in glob.glob(os.path.join(self._dir(folder), f"OUT*_{glob.escape(reference)}.txt")):
                return folder, path
        return None

    def send(self, to, body, status_callback=None, *, reference=None):
        if not reference:
            raise TransportError("gammu: a reference is needed to name the outbox file", permanent=True)
        if not re.fullmatch(r"\+?\d{3,20}", to or ""):
            raise TransportError(f"gammu: '{to}' is not a number the modem can send to", permanent=True,
                                 code="bad_number")
        if self.find(reference) is not None:
            return reference  # given to the daemon before (a retry after a crash): not again
        outbox = self._dir("outbox")
        if not os.path.isdir(outbox):
            raise TransportError(f"gammu: no outbox folder {outbox} (is gammu-smsd set up?)")
        wide = count_segments(body)[0] == "UCS-2"
        data = ("\ufeff" + body).encode("utf-16-le") if wide else body.encode("ascii", errors="replace")
        now = dt.datetime.now(dt.timezone.utc)
        name = f"OUTC{now:%Y%m%d_%H%M%S}_00_{to}_{reference}.txt"
        partial = os.path.join(outbox, f".{reference}.part")  # not OUT*: the daemon ignores it
        try:
            with open(partial, "wb") as f:
                f.write(data)
            os.replace(partial, os.path.join(outbox, name))
        except OSError as exc:
            raise TransportError(f"gammu: cannot write to the outbox: {exc.strerror}") from None
        return reference

    def lookup(self, reference):
        found = self.find(reference)
        return None if found is None else (reference, FOLDERS[found[0]])


def reference_of(path):
    """Our reference in an outbox file name the daemon reports on, or None."""
    found = REFERENCE.search(os.path.basename(path or ""))
    return found.group(1) if found else None


def inbound_from_environment(environ):
    """(sender, text) of the message gammu-smsd's RunOnReceive was started for: the parts
    SMS_1_TEXT … SMS_<SMS_MESSAGES>_TEXT joined in order (a long SMS comes in parts)."""
    count = int(environ.get("SMS_MESSAGES") or "0")
    if count < 1:
        raise ValueError("no SMS_MESSAGES in the environment (run by gammu-smsd's RunOnReceive?)")
    if environ.get("DECODED_PARTS") and environ.get("DECODED_1_TEXT"):
        text = "".join(environ.get(f"DECODED_{i}_TEXT", "") for i in range(1, int(environ["DECODED_PARTS"]) + 1))
    else:
        text = "".join(environ.get(f"SMS_{i}_TEXT", "") for i in range(1, count + 1))
    return environ.get("SMS_1_NUMBER", ""), text
