"""Composition: chime, intro, the message (spoken twice for loudspeakers), loudness, exports.

`render(spec, directory)` makes the two files every channel plays:
- `<hash>.mp3`: 44.1 kHz mono MP3 for loudspeakers and downloads;
- `<hash>.phone.wav`: 8 kHz mono G.711 µ-law WAV for `<Play>` in calls (band-limited to the
  telephone's 300–3400 Hz first, and normalized on its own), with the message read once: a
  caller presses a key to hear it again, and a long call loses elderly listeners.
Both are normalized to the layout's loudness (default −16 LUFS integrated, true peak at most
−1.5 dBTP) and measured again after export; the measurements are in the returned Rendition.
A rendition already in `directory` (same content hash) is returned without synthesizing.
"""
import dataclasses
import logging
import math
import os
import time
from dataclasses import dataclass

import numpy as np
from pydub import AudioSegment
from pydub.silence import detect_leading_silence

from audio import cache, codec, loudness
from audio.spec import LOUDSPEAKER, PLAIN, Layout, RenderSpec  # noqa: F401  (re-exported)
from audio.spoken import verbalize

log = logging.getLogger(__name__)

RATE = 44100
PHONE_RATE = 8000
# Each spoken part is brought to this level before mixing, so a quiet phone recording and a
# synthesized intro sound alike; the chime sits a little under the voice.
PART_LUFS = -20.0
CHIME_LUFS = -24.0
# Below the ceiling inside the pipeline: MP3 encoding adds a few tenths of a dB of overshoot.
HEADROOM_DB = 0.5
EXPORT_ROUNDS = 4
PEAK_ROUNDS = 3  # gain-only rounds after those, for the ceiling alone
# How far from the target the exported file may measure before it is corrected and re-encoded.
LOUDNESS_TOLERANCE = 0.3


@dataclass
class Rendition:
    """The files made (paths relative to the render directory) and what was measured on them."""

    content_hash: str
    mp3_path: str
    phone_path: str
    duration_ms: int
    loudness_lufs: float
    true_peak_dbtp: float
    phone_loudness_lufs: float
    phone_true_peak_dbtp: float
    mp3_bytes: int
    phone_bytes: int
    engine: str | None
    voice: str | None
    fallback_used: bool = False
    fallback_reason: str | None = None
    synthesis_seconds: float = 0.0
    cached: bool = False


def render(spec, directory):
    """Render `spec` into `directory` (or find it there already) and return the Rendition."""
    digest = spec.content_hash()
    stored = cache.load(directory, digest)
    if stored is not None:
        fields = {f.name for f in dataclasses.fields(Rendition)}
        return Rendition(**{k: v for k, v in stored.items() if k in fields}, cached=True)

    parts = _Parts(spec, spec.rendition_options("loudspeaker"))
    mix = parts.assemble()
    phone_options = spec.rendition_options("phone")
    phone_parts = parts
    if spec.synthesizes() and phone_options != parts.options:
        phone_parts = _Parts(spec, phone_options)  # the phone line has its own voice or speed
    # A caller can press a key to hear it again: the phone rendition reads the message once.
    if phone_parts is parts and spec.layout.repeat <= 1:
        phone_mix = mix
    else:
        phone_mix = phone_parts.assemble(repeat=1)
    mp3_rel, phone_rel, _ = cache.relative_paths(digest)
    mp3 = _export(mix, RATE, os.path.join(directory, mp3_rel), codec.MP3_ARGS, spec.layout)
    phone = _export(_telephone(phone_mix), PHONE_RATE, os.path.join(directory, phone_rel), codec.PHONE_ARGS,
                    spec.layout)
    fallback = parts if parts.fallback_used else phone_parts
    rendition = Rendition(
        content_hash=digest, mp3_path=mp3_rel, phone_path=phone_rel,
        duration_ms=int(round(mp3["duration"] * 1000)),
        loudness_lufs=mp3["lufs"], true_peak_dbtp=mp3["dbtp"],
        phone_loudness_lufs=phone["lufs"], phone_true_peak_dbtp=phone["dbtp"],
        mp3_bytes=mp3["bytes"], phone_bytes=phone["bytes"],
        engine=parts.engine_name, voice=parts.voice,
        fallback_used=fallback.fallback_used, fallback_reason=fallback.fallback_reason,
        synthesis_seconds=round(parts.synthesis_seconds + (phone_parts.synthesis_seconds if phone_parts is not parts
                                                           else 0), 4),
    )
    if not rendition.fallback_used:
        # A fallback is not what was asked for: the next render of this spec tries the engine again.
        metadata = dataclasses.asdict(rendition)
        metadata.pop("cached")
        cache.store(directory, digest, metadata)
    log.info("rendered %s: %.1f s, %.1f LUFS, %.1f dBTP", digest[:12], rendition.duration_ms / 1000,
             rendition.loudness_lufs, rendition.true_peak_dbtp)
    return rendition


def join(parts, directory, *, layout=PLAIN, pause_ms=1500):
    """Join rendered files into one (a daily bulletin): `parts` is a list of (path, chime_before).

    Each part keeps its own level relative to the others (they were normalized when rendered);
    the whole is normalized to the layout's target and exported like `render`'s output. The
    content hash covers the parts' bytes, the chimes, the pause and the layout."""
    if not parts:
        raise ValueError("nothing to join")
    hashes = []
    for path, chime_before in parts:
        with open(path, "rb") as f:
            hashes.append([cache.sha256_bytes(f.read()), bool(chime_before)])
    digest = cache.content_hash(recording_sha256=hashes, layout={**layout.key(), "join_pause_ms": pause_ms})
    stored = cache.load(directory, digest)
    if stored is not None:
        fields = {f.name for f in dataclasses.fields(Rendition)}
        return Rendition(**{k: v for k, v in stored.items() if k in fields}, cached=True)

    pause = AudioSegment.silent(duration=pause_ms, frame_rate=RATE)
    out = AudioSegment.silent(duration=300, frame_rate=RATE)
    for i, (path, chime_before) in enumerate(parts):
        if i:
            out += pause
        if chime_before:
            out += _level(chime(), CHIME_LUFS) + AudioSegment.silent(duration=500, frame_rate=RATE)
        out += _segment(codec.decode(path, rate=RATE).samples)
    out += AudioSegment.silent(duration=500, frame_rate=RATE)
    mix = _samples(out)
    mp3_rel, phone_rel, _ = cache.relative_paths(digest)
    mp3 = _export(mix, RATE, os.path.join(directory, mp3_rel), codec.MP3_ARGS, layout)
    phone = _export(_telephone(mix), PHONE_RATE, os.path.join(directory, phone_rel), codec.PHONE_ARGS, layout)
    rendition = Rendition(
        content_hash=digest, mp3_path=mp3_rel, phone_path=phone_rel, duration_ms=int(round(mp3["duration"] * 1000)),
        loudness_lufs=mp3["lufs"], true_peak_dbtp=mp3["dbtp"], phone_loudness_lufs=phone["lufs"],
        phone_true_peak_dbtp=phone["dbtp"], mp3_bytes=mp3["bytes"], phone_bytes=phone["bytes"], engine=None, voice=None)
    metadata = dataclasses.asdict(rendition)
    metadata.pop("cached")
    cache.store(directory, digest, metadata)
    log.info("joined %d parts into %s: %.1f s", len(parts), digest[:12], rendition.duration_ms / 1000)
    return rendition


class _Parts:
    """The spoken parts of one rendition, synthesized or decoded once each."""

    def __init__(self, spec, options):
        self.spec = spec
        self.options = options
        self.engine = None
        self.engine_name = None
        self.voice = None
        self.fallback_used = False
        self.fallback_reason = None
        self.synthesis_seconds = 0.0
        self.spoken = {}

    def speak(self, text):
        if text in self.spoken:  # the phone's single reading reuses what the loudspeaker's took
            return self.spoken[text]
        self.spoken[text] = self._synthesize(text)
        return self.spoken[text]

    def _synthesize(self, text):
        from audio.engines import get_engine

        if self.engine is None:
            self.engine = get_engine(self.spec.engine, **self.options)
        started = time.perf_counter()
        speech = self.engine.synthesize(verbalize(text))
        self.synthesis_seconds += time.perf_counter() - started
        self.engine_name = speech.engine
        self.voice = speech.voice
        if speech.fallback_used:
            self.fallback_used = True
            self.fallback_reason = speech.fallback_reason
        return _segment(codec.decode(speech.audio, rate=RATE).samples)

    def assemble(self, repeat=None):
        """The whole mix as float samples at RATE (the message `repeat` times, by default the layout's)."""
        layout = self.spec.layout
        repeat = layout.repeat if repeat is None else repeat
        intro = _level(_trim(self.speak(layout.intro)), PART_LUFS) if layout.intro.strip() else None
        recording = self.spec.recording_bytes()
        if recording is not None:
            message = _segment(codec.decode(recording, rate=RATE).samples)
        else:
            message = self.speak(self.spec.text)
        message = _level(_trim(message), PART_LUFS)
        if len(message) < 100:
            from audio.engines.base import EngineError

            raise EngineError("nothing audible to render: the speech or recording is silent", permanent=True)
        out = AudioSegment.silent(duration=300, frame_rate=RATE)  # players clip the first instant
        if layout.chime:
            out += _level(chime(), CHIME_LUFS) + AudioSegment.silent(duration=500, frame_rate=RATE)
        if intro is not None:
            out += intro + AudioSegment.silent(duration=800, frame_rate=RATE)
        out += message
        for _ in range(repeat - 1):
            out += AudioSegment.silent(duration=layout.pause_ms, frame_rate=RATE) + message
        out += AudioSegment.silent(duration=500, frame_rate=RATE)
        return _samples(out)


def _segment(samples, rate=RATE):
    pcm = (np.clip(samples, -1.0, 32767 / 32768) * 32768).astype("<i2").tobytes()
    return AudioSegment(data=pcm, sample_width=2, frame_rate=rate, channels=1)


def _samples(segment):
    return np.array(segment.get_array_of_samples(), dtype=np.float64) / 32768.0


def _trim(segment, margin_ms=150):
    """Leading and trailing silence cut, relative to the part's own peak (room noise counts as silence)."""
    if len(segment) == 0 or segment.max_dBFS == -math.inf:
        return segment[:0]
    threshold = max(segment.max_dBFS - 40, -60)
    start = detect_leading_silence(segment, silence_threshold=threshold, chunk_size=10)
    end = detect_leading_silence(segment.reverse(), silence_threshold=threshold, chunk_size=10)
    if start >= len(segment) - end:
        return segment[:0]
    return segment[max(0, start - margin_ms): len(segment) - max(0, end - margin_ms)]


def _level(segment, target_lufs):
    """`segment` brought to `target_lufs` by a plain gain (the final normalization limits peaks)."""
    samples = _samples(segment)
    measured = loudness.integrated_loudness(samples, segment.frame_rate)
    if measured <= loudness.SILENCE:
        return segment
    return _segment(np.clip(samples * 10 ** ((target_lufs - measured) / 20), -1, 1), segment.frame_rate)


def chime(rate=RATE):
    """A three-note public-address chime (G5, E5, C5), synthesized: no asset file to ship."""
    notes = []
    for freq in (783.99, 659.25, 523.25):
        t = np.arange(int(rate * 0.55)) / rate
        envelope = np.exp(-t * 5.0) * np.minimum(1.0, t / 0.005)
        tone = np.sin(2 * np.pi * freq * t) + 0.35 * np.sin(2 * np.pi * 2 * freq * t) * np.exp(-t * 3.0)
        notes.append(0.4 * envelope * tone)
    return _segment(np.concatenate(notes), rate)


def _telephone(samples):
    """The mix band-limited to 300–3400 Hz and resampled to 8 kHz."""
    from scipy.signal import butter, resample_poly, sosfiltfilt

    sos = butter(4, [300, 3400], btype="bandpass", fs=RATE, output="sos")
    return resample_poly(sosfiltfilt(sos, samples), 80, 441)


def _export(samples, rate, path, codec_args, layout):
    """Normalize, encode, then decode and measure what was written; correct and encode again when
    the encoder moved the loudness off target (MP3 drops the highest frequencies) or pushed a
    true peak over the ceiling."""
    headroom = HEADROOM_DB
    samples = loudness.normalize(samples, rate, target_lufs=layout.target_lufs,
                                 ceiling_dbtp=layout.ceiling_dbtp - headroom)
    for _ in range(EXPORT_ROUNDS):
        codec.encode(samples, rate, path, codec_args=codec_args)
        decoded = codec.decode(path, rate=rate)
        lufs, dbtp = loudness.measure(decoded.samples, rate)
        if dbtp <= layout.ceiling_dbtp and abs(lufs - layout.target_lufs) <= LOUDNESS_TOLERANCE:
            break
        if dbtp > layout.ceiling_dbtp:
            headroom += dbtp - layout.ceiling_dbtp + 0.1
        log.info("%s measured %.2f LUFS, %.2f dBTP after encoding; correcting", os.path.basename(path), lufs, dbtp)
        samples = loudness.limit(samples * 10 ** ((layout.target_lufs - lufs) / 20), rate,
                                 layout.ceiling_dbtp - headroom)
    # The ceiling is a limit and the loudness a target: when the rounds above could not meet both,
    # plain gain brings the peak under (the encoder scales with it), at a fraction of a dB of loudness.
    for _ in range(PEAK_ROUNDS):
        if dbtp <= layout.ceiling_dbtp:
            break
        # The samples' own peak counts too: the encoder clips what is over full scale.
        over = max(dbtp, loudness.true_peak(samples)) - layout.ceiling_dbtp
        samples = samples * 10 ** (-(over + 0.1) / 20)
        codec.encode(samples, rate, path, codec_args=codec_args)
        decoded = codec.decode(path, rate=rate)
        lufs, dbtp = loudness.measure(decoded.samples, rate)
    return {"lufs": round(lufs, 2), "dbtp": round(dbtp, 2), "duration": decoded.duration,
            "bytes": os.path.getsize(path)}
