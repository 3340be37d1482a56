"""Uploaded recordings: every format phones send is decoded; bad uploads are refused with a reason."""
import os

import pytest

from audio import UploadRejected, check_upload, codec
from tests.audio_helpers import UPLOAD_FORMATS, encode_as, ffmpeg, speech_wav


@pytest.fixture(scope="module")
def speech():
    wav = speech_wav()
    return wav, codec.decode(wav).duration


@pytest.mark.parametrize("name, ext, args, wheel", UPLOAD_FORMATS, ids=[f[0] for f in UPLOAD_FORMATS])
def test_every_phone_format_is_decoded(name, ext, args, wheel, speech, tmp_path):
    wav, seconds = speech
    data = encode_as(wav, ext, args, tmp_path, wheel=wheel)
    checked = check_upload(f"ghi-am.{ext}", data)
    assert abs(checked.duration - seconds) < 0.25, (checked.duration, seconds)
    assert checked.peak_dbfs > -30
    assert checked.extension == {"opus": "ogg", "aac": "aac"}.get(ext, ext)
    assert checked.size == len(data) and len(checked.sha256) == 64
    # The pip-only install decodes it too (the imageio-ffmpeg binary), to the same length.
    decoded = codec.decode(data, ffmpeg=codec.ffmpeg_path(system=False))
    assert abs(decoded.duration - seconds) < 0.25


def test_m4a_with_its_index_at_the_end_is_decoded(speech, tmp_path):
    """Phones write the m4a index (moov) after the audio; decoding from a pipe would fail."""
    data = encode_as(speech[0], "m4a", ["-c:a", "aac"], tmp_path)
    assert data.find(b"moov") > data.find(b"mdat") > 0
    assert check_upload("a.m4a", data).duration > 1


def refused(data, filename="ghi-am.mp3", **limits):
    with pytest.raises(UploadRejected) as err:
        check_upload(filename, data, **limits)
    return err.value


def test_empty_upload_is_refused():
    err = refused(b"")
    assert err.code == "empty" and "rỗng" in err.message


def test_oversized_upload_is_refused_before_decoding(speech):
    err = refused(speech[0], max_bytes=10_000)
    assert err.code == "too_large"
    assert "quá lớn" in err.message and "MB" in err.message


@pytest.mark.parametrize("data", [
    os.urandom(50_000),
    b"ID3\x03\x00\x00\x00\x00\x00\x00" + b"\x00" * 4000,  # an MP3 tag and nothing after it
    "Đây là một tệp văn bản, không phải ghi âm.".encode() * 100,
    b"\x89PNG\r\n\x1a\n" + os.urandom(2000),
], ids=["random-bytes", "empty-id3", "text", "png"])
def test_corrupt_upload_is_refused(data):
    err = refused(data)
    assert err.code == "undecodable"
    assert "Không đọc được tệp âm thanh" in err.message and "mp3, m4a" in err.message


def test_truncated_recording_is_refused(speech, tmp_path):
    data = encode_as(speech[0], "m4a", ["-c:a", "aac"], tmp_path)
    err = refused(data[: len(data) // 3], filename="cut.m4a")  # the index never arrived
    assert err.code == "undecodable"


def test_too_long_recording_is_refused(speech):
    err = refused(speech[0], max_seconds=2)
    assert err.code == "too_long" and "2 giây" in err.message


def test_too_short_recording_is_refused(tmp_path):
    data = ffmpeg(["-f", "lavfi", "-i", "sine=frequency=440:duration=0.3", "-f", "wav", "pipe:1"])
    err = refused(data, filename="a.wav")
    assert err.code == "too_short" and "quá ngắn (0,3 giây); cần ít nhất 1 giây" in err.message


def test_silent_recording_is_refused():
    data = ffmpeg(["-f", "lavfi", "-i", "anullsrc=r=44100:cl=mono", "-t", "5", "-c:a", "libmp3lame", "-f", "mp3", "pipe:1"])
    err = refused(data)
    assert err.code == "silent" and "im lặng" in err.message


def test_video_without_sound_is_refused():
    data = ffmpeg(["-f", "lavfi", "-i", "testsrc=duration=2:size=64x64:rate=5", "-c:v", "mpeg4", "-f", "avi", "pipe:1"])
    assert refused(data, filename="clip.avi").code == "undecodable"
