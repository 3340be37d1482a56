"""Offline speech-to-text for residents' voice reports, so the group can read them.

One engine today, `vietasr` (the `viet-asr` wheel: Apache-2.0 code with an embedded model
whose own licence the wheel does not state, so it is optional and off by default). Nothing is
downloaded at run time.
"""
import numpy as np

from audio.codec import CodecError, decode

TRANSCRIBERS = ("vietasr",)
RATE = 16000  # the model reads 16 kHz mono


class TranscriberError(RuntimeError):
    """The transcriber is missing or failed; the message says which."""


def transcribe(source, engine="vietasr"):
    """The text spoken in `source` (a path or bytes in any format ffmpeg reads)."""
    if engine not in TRANSCRIBERS:
        raise TranscriberError(f"unknown transcriber '{engine}'; choose one of: {', '.join(TRANSCRIBERS)}")
    try:
        import vietasr
    except ImportError:
        raise TranscriberError("TRANSCRIBER=vietasr needs the viet-asr package (pip install viet-asr)") from None
    try:
        audio = decode(source, rate=RATE, max_seconds=600)
    except CodecError as exc:
        raise TranscriberError(f"could not decode the recording: {exc}") from None
    pcm = np.round(np.clip(audio.samples, -1.0, 32767 / 32768) * 32768).astype(np.int16)
    try:
        return vietasr.Pipeline.preset("transcribe").transcribe(pcm, sample_rate=RATE).text.strip()
    except RuntimeError as exc:
        raise TranscriberError(f"transcription failed: {exc}") from None
