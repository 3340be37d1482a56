"""Voice reports: the recording fetched with the account's credentials, kept, transcribed, mirrored."""
import base64
import subprocess

import pytest
import requests
import responses
from sqlalchemy import select

from gateway.models import Area, GroupPost, OutboxMessage
from gateway.queue import drain
from gateway.ivr.recordings import queue_voice_report
from gateway.reports.records import open_report
from tests.audio_helpers import encode_as, speech_wav

REC = "https://api.twilio.com/2010-04-01/Accounts/AC" + "0" * 32 + "/Recordings/RE" + "1" * 32
SPOKEN = "Tôi muốn phản ánh về việc đổ rác ở khu phố năm"


def voice_report(db, url=REC):
    kp5 = db.scalar(select(Area).where(Area.code == "KP5"))
    report = open_report(db, commune=kp5.commune(), channel="voice", area=kp5, phone="+84987654321",
                         category="environment")
    report.recording_url = url
    queue_voice_report(db, report)
    db.commit()
    return report


def group_text(db):
    return [m.body for m in db.scalars(select(OutboxMessage).where(OutboxMessage.channel == "group"))]


@responses.activate
def test_recording_is_fetched_kept_and_linked_in_the_group(app, db, demo, tmp_path):
    mp3 = encode_as(speech_wav(SPOKEN), "mp3", ["-c:a", "libmp3lame", "-b:a", "32k"], tmp_path)
    responses.add(responses.GET, REC + ".mp3", status=404)  # not ready yet
    responses.add(responses.GET, REC + ".mp3", body=mp3, content_type="audio/mpeg")
    report = voice_report(db)
    drain(app, scheduled=True)
    assert group_text(db) == []  # waiting for the recording, not mirrored without it
    drain(app, scheduled=True)
    db.refresh(report)
    assert report.recording is not None and report.recording.kind == "recording"
    sent = responses.calls[-1].request.headers["Authorization"]
    assert sent == "Basic " + base64.b64encode(f"AC{'0' * 32}:test-auth-token-0123456789".encode()).decode()
    [text] = group_text(db)
    # The group gets the console page (officials log in to hear it), never the file itself.
    assert f"Phản ánh bằng giọng nói: nghe tại https://gw.example.vn/console/reports/{report.id}" in text
    assert report.recording.content_hash not in text
    assert app.test_client().get(f"/audio/{report.recording.content_hash}.mp3").status_code == 404


@responses.activate
def test_silent_recording_is_noted_and_the_report_still_mirrored(app, db, demo, tmp_path):
    silence = subprocess.run(["ffmpeg", "-loglevel", "error", "-f", "lavfi", "-i", "anullsrc=r=8000:cl=mono", "-t", "3",
                              "-f", "mp3", "-"], capture_output=True, check=True).stdout
    responses.add(responses.GET, REC + ".mp3", body=silence, content_type="audio/mpeg")
    report = voice_report(db)
    drain(app)
    db.refresh(report)
    assert report.recording_id is None
    assert any(e.kind == "note" and "Bản ghi âm không dùng được" in e.text for e in report.events)
    [text] = group_text(db)
    assert "Phản ánh bằng giọng nói." in text


@responses.activate
def test_unreachable_recording_gives_up_after_retries_and_mirrors_anyway(app, db, demo):
    responses.add(responses.GET, REC + ".mp3", body=requests.ConnectionError("down"))
    report = voice_report(db)
    for _ in range(6):
        drain(app, scheduled=True)
    db.refresh(report)
    assert len(responses.calls) == 6  # the first try and five retries
    assert any("Không tải được bản ghi âm" in e.text for e in report.events)
    assert len(group_text(db)) == 1


@pytest.mark.parametrize("url, words", [
    ("http://api.twilio.com/rec/RE1", "https"),
    ("ftp://example.org/a.mp3", "https"),
])
def test_unsafe_urls_are_not_fetched(app, db, demo, url, words):
    report = voice_report(db, url=url)
    drain(app)
    db.refresh(report)
    assert any(words in e.text for e in report.events) and len(group_text(db)) == 1


@responses.activate
def test_retried_job_mirrors_once(app, db, demo, tmp_path):
    mp3 = encode_as(speech_wav(SPOKEN), "mp3", ["-c:a", "libmp3lame"], tmp_path)
    responses.add(responses.GET, REC + ".mp3", body=mp3)
    report = voice_report(db)
    queue_voice_report(db, report)  # a duplicate job
    db.commit()
    drain(app)
    assert db.scalar(select(GroupPost.id).where(GroupPost.report_id == report.id)) is not None
    assert len(group_text(db)) == 1


@responses.activate
def test_offline_transcript_reaches_the_group(app, db, demo, tmp_path):
    app.config["TRANSCRIBER"] = "vietasr"
    responses.add(responses.GET, REC + ".mp3", body=encode_as(speech_wav(SPOKEN), "mp3", ["-c:a", "libmp3lame"], tmp_path))
    report = voice_report(db)
    drain(app)
    db.refresh(report)
    heard = set(report.transcript.split())
    # espeak-ng's robotic voice is hard to recognise; enough words must come through to be useful.
    assert len(heard & {"tôi", "muốn", "phản", "ánh", "về", "việc", "đổ", "rác", "ở", "khu", "phố", "năm"}) >= 3, heard
    [text] = group_text(db)
    assert f"Bản ghi tự động: «{report.transcript}»" in text


def test_transcriber_errors_are_clear():
    from audio.transcribe import TranscriberError, transcribe

    with pytest.raises(TranscriberError, match="unknown transcriber"):
        transcribe(b"", engine="whisper")
