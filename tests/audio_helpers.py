"""Helpers for the audio tests: real speech from espeak-ng, re-encoded by ffmpeg as phones send it,
and an independent loudness meter (ffmpeg's ebur128 filter)."""
import re
import subprocess

from audio import codec

SENTENCE = "Ủy ban nhân dân xã thông báo: sáng mai tiêm phòng dại cho chó mèo tại nhà văn hóa thôn."

# How phones send recordings: (name, file extension, ffmpeg output arguments, needs the wheel's ffmpeg).
UPLOAD_FORMATS = [
    ("mp3", "mp3", ["-c:a", "libmp3lame", "-b:a", "48k"], False),
    ("m4a-aac", "m4a", ["-c:a", "aac", "-b:a", "48k"], False),
    ("aac-adts", "aac", ["-c:a", "aac", "-b:a", "48k", "-f", "adts"], False),
    ("ogg-opus", "ogg", ["-c:a", "libopus", "-b:a", "24k"], False),
    ("opus", "opus", ["-c:a", "libopus", "-b:a", "24k"], False),
    ("wav", "wav", ["-c:a", "pcm_s16le"], False),
    # Debian's ffmpeg decodes AMR but has no encoder; the imageio-ffmpeg binary has one.
    ("amr", "amr", ["-c:a", "libopencore_amrnb", "-ar", "8000", "-ac", "1", "-b:a", "12.2k"], True),
]


def speech_wav(text=SENTENCE):
    """Real Vietnamese speech (espeak-ng program) as WAV bytes."""
    proc = subprocess.run(["espeak-ng", "-v", "vi", "-b", "1", "--stdin", "--stdout"], input=text.encode(),
                          capture_output=True, check=True)
    return proc.stdout


def ffmpeg(args, input_bytes=None, wheel=False):
    """Run ffmpeg (the system's, or the imageio-ffmpeg wheel's) and return stdout."""
    exe = codec.ffmpeg_path(system=not wheel)
    proc = subprocess.run([exe, "-nostdin", "-hide_banner", "-loglevel", "error", *args], input=input_bytes,
                          capture_output=True)
    assert proc.returncode == 0, proc.stderr.decode()
    return proc.stdout


def encode_as(wav, ext, args, tmp_path, wheel=False, name="recording"):
    """`wav` re-encoded into a file `name.ext`; returns its bytes."""
    src = tmp_path / f"{name}-source.wav"
    src.write_bytes(wav)
    out = tmp_path / f"{name}.{ext}"
    ffmpeg(["-y", "-i", str(src), *args, str(out)], wheel=wheel)
    return out.read_bytes()


def ebur128(path):
    """(integrated LUFS, true peak dBTP) of a file, measured by ffmpeg's ebur128 filter."""
    proc = subprocess.run(["ffmpeg", "-nostdin", "-hide_banner", "-nostats", "-i", str(path),
                           "-af", "ebur128=peak=true", "-f", "null", "-"], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    summary = proc.stderr[proc.stderr.rindex("Summary:"):]
    integrated = float(re.search(r"I:\s+(-?[\d.]+) LUFS", summary).group(1))
    peak = float(re.search(r"True peak:\s+Peak:\s+(-?[\d.]+|-inf) dBFS", summary).group(1))
    return integrated, peak


def stream_info(path):
    """ffmpeg's description of the first audio stream, e.g. 'mp3, 44100 Hz, mono, fltp, 64 kb/s'."""
    proc = subprocess.run(["ffmpeg", "-nostdin", "-hide_banner", "-i", str(path)], capture_output=True, text=True)
    return re.search(r"Audio: (.*)", proc.stderr).group(1)
