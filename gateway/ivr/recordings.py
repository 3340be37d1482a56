"""Voice reports from the hotline: the provider's recording is fetched into our own storage (the
way its dialect says), transcribed when a transcriber is configured, and then the report is
handed to casework (mirrored into the group).

A recording that cannot be fetched or used never holds the report back: after the retries it
is mirrored without one, and the reason is noted in its thread.
"""
import logging
import re
from urllib.parse import urlsplit

from flask import current_app
from rq import Retry
from sqlalchemy import select

from gateway import http
from gateway.db import get_db
from gateway.models import AudioAsset, Report
from gateway.queue import enqueue_on_commit, retries_left
from gateway.reports.casework import report_received
from gateway.reports.records import add_event
from gateway.transport import TransportError

log = logging.getLogger(__name__)
JOB = "gateway.ivr.recordings.process_voice_report"
RETRY = Retry(max=5, interval=[5, 15, 60, 300, 900])
MAX_BYTES = 20 * 1024 * 1024
_OWN_AUDIO = re.compile(r"^/audio/([0-9a-f]{64})\.(?:mp3|wav)$")


def queue_voice_report(session, report):
    """Process a new voice report after the caller commits (instead of `report_received`)."""
    enqueue_on_commit(session, JOB, report.id, queue="high", retry=RETRY)


def fetch(url, config):
    """The recording's bytes, fetched the way its provider wants (gateway.ivr.dialects: Twilio's and a
    Somleng's with the account's Basic auth and `.mp3`, Stringee's with the REST JWT)."""
    from gateway.ivr.dialects.stringee import Stringee
    from gateway.ivr.dialects.twiml import TwiML

    parts = urlsplit(url)
    # A commune's own Somleng may serve plain http on its network: the operator named that host.
    own_server = (config.get("TWILIO_API_BASE_URL") or "").rstrip("/")
    if parts.scheme != "https" and not (own_server and url.startswith(own_server + "/")):
        raise TransportError(f"recording URL must be https, not {parts.scheme or 'empty'}", permanent=True)
    kwargs = {}
    for dialect in (TwiML, Stringee):
        url, kwargs = dialect.recording_request(url, config)
        if kwargs:
            break
    resp = http.request("GET", url, stream=True, **kwargs)
    if resp.status_code == 404:
        # Twilio can take a few seconds to make a recording available.
        raise TransportError("recording not available yet (404)", code="404")
    http.check_status(resp, "recording")
    data = bytearray()
    for chunk in resp.iter_content(64 * 1024):
        data += chunk
        if len(data) > MAX_BYTES:
            raise TransportError("recording is larger than 20 MB", permanent=True)
    return bytes(data)


def own_recording(session, url):
    """The asset behind a URL of our own audio files (`/audio/<hash>.mp3`), or None.

    The phone simulator records into our storage and gives that URL as RecordingUrl: nothing
    to fetch (and the embedded default serves plain http, which `fetch` refuses)."""
    match = _OWN_AUDIO.match(urlsplit(url).path)
    if match is None:
        return None
    asset = session.scalar(select(AudioAsset).where(AudioAsset.content_hash == match.group(1)))
    return asset if asset is not None and asset.kind == "recording" and asset.original_path else None


def process_voice_report(report_id):
    """Fetch, keep and transcribe a voice report's recording, then mirror the report (job)."""
    db = get_db()
    report = db.get(Report, report_id)
    if report is None:
        return "no report"
    if report.recording_id is None and report.recording_url:
        report.recording = own_recording(db, report.recording_url)
        if report.recording is None:
            _fetch_into(db, report)
    if report.recording is not None and not report.transcript and current_app.config.get("TRANSCRIBER"):
        _transcribe(db, report)
    report_received(db, report)
    db.commit()
    log.info("voice report processed report=%s recording=%s transcript=%s", report.id, report.recording_id,
             bool(report.transcript))
    return "mirrored"


def _fetch_into(db, report):
    """Fetch the provider's recording into our storage; a failure is noted, never fatal."""
    from audio.uploads import UploadRejected

    from gateway.media.assets import store_upload

    try:
        data = fetch(report.recording_url, current_app.config)
    except TransportError as exc:
        if not exc.permanent and retries_left():
            raise
        add_event(db, report, "note", text=f"Không tải được bản ghi âm: {exc}")
        return
    try:
        report.recording = store_upload(db, f"phan-anh-{report.number}.mp3", data, kind="recording")
    except UploadRejected as exc:
        add_event(db, report, "note", text=f"Bản ghi âm không dùng được: {exc.message}")


def _transcribe(db, report):
    from audio.transcribe import TranscriberError, transcribe

    from gateway.media import storage

    try:
        report.transcript = transcribe(storage.absolute(report.recording.original_path),
                                       engine=current_app.config["TRANSCRIBER"]) or None
    except TranscriberError as exc:
        log.warning("transcription failed report=%s: %s", report.id, exc)
        add_event(db, report, "note", text=f"Không chuyển được giọng nói thành chữ: {exc}")
