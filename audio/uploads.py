"""Checks on an official's uploaded recording, with a reason they can act on.

Phones send mp3, m4a/aac, ogg/opus, amr and wav; anything ffmpeg decodes with an audio stream
is accepted. A refusal carries a machine `code` and a Vietnamese `message` for the official.
"""
import math
import os
from dataclasses import dataclass

import numpy as np

from audio import codec
from audio.cache import sha256_bytes

MAX_BYTES = 20 * 1024 * 1024
MAX_SECONDS = 600
MIN_SECONDS = 1.0
# A recording whose loudest moment is this quiet is silence (a muted microphone).
SILENT_PEAK_DBFS = -50.0
RATE = 16000  # enough to judge a recording; rendering decodes again at full rate

# ffmpeg's demuxer name → the extension we keep the original under.
EXTENSIONS = {"mp3": "mp3", "ogg": "ogg", "wav": "wav", "amr": "amr", "flac": "flac", "aac": "aac",
              "matroska,webm": "webm", "mov,mp4,m4a,3gp,3g2,mj2": "m4a", "caf": "caf", "aiff": "aiff"}
SUPPORTED = "mp3, m4a, aac, ogg, opus, amr, wav"


class UploadRejected(ValueError):
    """A recording we will not use: `code` for machines, `message` (Vietnamese) for the official."""

    def __init__(self, code, message):
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass
class CheckedUpload:
    """An accepted recording: its duration, loudest peak, detected format and identity."""

    filename: str
    size: int
    sha256: str
    format: str
    extension: str
    duration: float
    peak_dbfs: float


def _megabytes(n):
    return f"{n / (1024 * 1024):.1f}".replace(".", ",") + " MB"


def _minutes(seconds):
    if seconds < 10:
        return f"{seconds:.1f}".replace(".", ",").replace(",0", "") + " giây"  # "0,4 giây", "2 giây"
    seconds = int(round(seconds))
    minutes, rest = divmod(seconds, 60)
    if minutes and rest:
        return f"{minutes} phút {rest} giây"
    return f"{minutes} phút" if minutes else f"{rest} giây"


def check_upload(filename, data, *, max_bytes=MAX_BYTES, max_seconds=MAX_SECONDS, min_seconds=MIN_SECONDS):
    """The CheckedUpload for `data`, or UploadRejected saying why (empty, too large, undecodable, too short or
    long, silent)."""
    size = len(data or b"")
    if size == 0:
        raise UploadRejected("empty", "Tệp tải lên rỗng, không có âm thanh. Hãy chọn lại tệp ghi âm.")
    if size > max_bytes:
        raise UploadRejected(
            "too_large", f"Tệp quá lớn ({_megabytes(size)}); tối đa {_megabytes(max_bytes)}. "
                         "Hãy ghi âm ngắn hơn hoặc gửi bản nén (mp3, m4a).")
    try:
        decoded = codec.decode(bytes(data), rate=RATE, max_seconds=max_seconds)
    except codec.CodecError as exc:
        raise UploadRejected(
            "undecodable", "Không đọc được tệp âm thanh: tệp bị hỏng hoặc không phải tệp ghi âm. "
                           f"Các định dạng dùng được: {SUPPORTED}.") from exc  # ffmpeg's words stay in the logs
    if decoded.duration > max_seconds:
        raise UploadRejected(
            "too_long", f"Bản ghi dài hơn {_minutes(max_seconds)}, quá giới hạn. Hãy ghi lại ngắn gọn hơn.")
    if decoded.duration < min_seconds:
        raise UploadRejected(
            "too_short", f"Bản ghi quá ngắn ({_minutes(decoded.duration)}); cần ít nhất {_minutes(min_seconds)}.")
    peak = float(np.max(np.abs(decoded.samples))) if len(decoded.samples) else 0.0
    peak_dbfs = 20 * math.log10(peak) if peak > 0 else -math.inf
    if peak_dbfs < SILENT_PEAK_DBFS:
        raise UploadRejected(
            "silent", "Bản ghi không có tiếng (chỉ có im lặng). Hãy kiểm tra micro và ghi lại, nói gần điện thoại hơn.")
    extension = EXTENSIONS.get(decoded.format) or _extension_from_name(filename)
    return CheckedUpload(filename=os.path.basename(filename or "")[:255], size=size, sha256=sha256_bytes(bytes(data)),
                         format=decoded.format, extension=extension, duration=decoded.duration,
                         peak_dbfs=round(peak_dbfs, 2))


def _extension_from_name(filename):
    ext = os.path.splitext(filename or "")[1].lower().lstrip(".")
    return ext if ext.isalnum() and len(ext) <= 5 else "bin"
