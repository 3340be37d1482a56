"""ffmpeg: decode anything a phone sends into PCM, and encode the files we serve.

The ffmpeg binary is the system's (the Debian package) when there is one, else the one in the
imageio-ffmpeg wheel, so a pip-only install works. Only `ffmpeg` is used, never `ffprobe`
(the wheel has none): decoding tells us the format and the duration.
"""
import functools
import os
import re
import shutil
import subprocess
import tempfile

import numpy as np

# A decoder must not hang a worker on a hostile file.
DECODE_TIMEOUT = 120


class CodecError(Exception):
    """ffmpeg could not decode or encode; the message ends with ffmpeg's own reason."""


@functools.lru_cache(maxsize=None)
def ffmpeg_path(system=True):
    """The ffmpeg binary: the system's when `system` and present, else the imageio-ffmpeg wheel's."""
    if system:
        found = shutil.which("ffmpeg")
        if found:
            return found
    try:
        import imageio_ffmpeg
    except ImportError:
        raise CodecError("ffmpeg not found: install the ffmpeg package or `pip install imageio-ffmpeg`") from None
    return imageio_ffmpeg.get_ffmpeg_exe()


def _run(args, *, input_bytes=None, timeout=DECODE_TIMEOUT, ffmpeg=None):
    cmd = [ffmpeg or ffmpeg_path(), "-nostdin", "-hide_banner", *args]
    try:
        proc = subprocess.run(cmd, input=input_bytes, capture_output=True, timeout=timeout,
                              stdin=None if input_bytes is not None else subprocess.DEVNULL)
    except subprocess.TimeoutExpired:
        raise CodecError(f"ffmpeg took longer than {timeout} s") from None
    if proc.returncode != 0:
        raise CodecError("ffmpeg failed: " + _last_error_line(proc.stderr))
    return proc


def _last_error_line(stderr):
    lines = [line.strip() for line in stderr.decode("utf-8", "replace").splitlines() if line.strip()]
    return lines[-1] if lines else "no output"


class Decoded:
    """PCM decoded from a file: float32 mono `samples` in [-1, 1] at `rate`, and the input `format`."""

    def __init__(self, samples, rate, fmt):
        self.samples = samples
        self.rate = rate
        self.format = fmt

    @property
    def duration(self):
        """Seconds of audio."""
        return len(self.samples) / self.rate


_INPUT_FORMAT = re.compile(r"Input #0, ([\w,]+), from")


def decode(source, *, rate=44100, max_seconds=None, ffmpeg=None):
    """Decode `source` (bytes or a path) to mono float32 PCM at `rate`.

    `max_seconds` stops decoding a little past that length, so a hostile file cannot make us
    decode hours of audio. Raises CodecError when there is no decodable audio."""
    if isinstance(source, (bytes, bytearray, memoryview)):
        # A file, not a pipe: phones write m4a with the index at the end, which needs seeking.
        with tempfile.NamedTemporaryFile(suffix=".upload") as tmp:
            tmp.write(source)
            tmp.flush()
            return decode(tmp.name, rate=rate, max_seconds=max_seconds, ffmpeg=ffmpeg)
    args = ["-i", os.fspath(source), "-map", "0:a:0", "-vn", "-ac", "1", "-ar", str(rate)]
    if max_seconds is not None:
        args += ["-t", str(max_seconds + 1)]
    args += ["-f", "s16le", "-acodec", "pcm_s16le", "pipe:1"]
    proc = _run(args, ffmpeg=ffmpeg)
    match = _INPUT_FORMAT.search(proc.stderr.decode("utf-8", "replace"))
    samples = np.frombuffer(proc.stdout, dtype="<i2").astype(np.float32) / 32768.0
    return Decoded(samples, rate, match.group(1) if match else "unknown")


def _pcm_bytes(samples):
    clipped = np.clip(np.asarray(samples, dtype=np.float64), -1.0, 32767 / 32768)
    return (np.round(clipped * 32768.0)).astype("<i2").tobytes()


def encode(samples, rate, path, *, codec_args, timeout=DECODE_TIMEOUT, ffmpeg=None):
    """Encode mono float PCM at `rate` into `path` with ffmpeg `codec_args`; atomically."""
    path = os.fspath(path)
    directory = os.path.dirname(path) or "."
    os.makedirs(directory, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=directory, prefix=".part-", suffix=os.path.splitext(path)[1])
    os.close(fd)
    try:
        _run(["-y", "-f", "s16le", "-ar", str(rate), "-ac", "1", "-i", "pipe:0", *codec_args, tmp],
             input_bytes=_pcm_bytes(samples), timeout=timeout, ffmpeg=ffmpeg)
        os.replace(tmp, path)  # readers never see half a file
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return path


# Loudspeakers and downloads: MP3, 44.1 kHz mono, constant 64 kbit/s (plenty for speech; CBR
# because cheap IP loudspeakers and old players stream it most reliably).
MP3_ARGS = ("-ar", "44100", "-ac", "1", "-c:a", "libmp3lame", "-b:a", "64k", "-f", "mp3")
# Calls: G.711 µ-law in WAV at 8 kHz mono, the telephone network's own codec. Twilio's <Play>
# takes audio/wav; handing it µ-law means no second lossy step on the way to the caller.
PHONE_ARGS = ("-ar", "8000", "-ac", "1", "-c:a", "pcm_mulaw", "-f", "wav")


def wav_bytes(samples, rate):
    """16-bit PCM WAV bytes of mono float `samples` (what engines hand over)."""
    import io
    import wave

    buf = io.BytesIO()
    with wave.open(buf, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(_pcm_bytes(samples))
    return buf.getvalue()
