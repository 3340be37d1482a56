"""What to render, and its content hash: light enough for the web process (no numpy, no engines).

`RenderSpec` names the text or recording, the engine and its options, and the `Layout`
(chime, intro, repetitions, loudness target). `audio.render` (audio.compose) turns it into files.
"""
import dataclasses
from dataclasses import dataclass, field

from audio import cache
from audio.spoken import verbalize

# The files a render makes: the loudspeaker MP3 (44.1 kHz) and the phone WAV (8 kHz µ-law).
RENDITIONS = ("loudspeaker", "phone")
# espeak's voice and speed for each rendition when the options name none, chosen by listening
# tests with an offline recognizer (bench/listening.py; figures in bench/README.md). They are
# part of the content hash: changing them renders every espeak asset again. vi+f3 at 130 wpm
# was best on the loudspeaker MP3 and, within the measurement's spread, on the phone WAV too,
# so both renditions come from one synthesis.
ESPEAK_DEFAULTS = {"loudspeaker": {"voice": "vi+f3", "rate": 130}, "phone": {"voice": "vi+f3", "rate": 130}}

# The engines audio.engines.ENGINES can make (checked against it by the tests), for validating
# settings without importing any engine.
ENGINE_NAMES = ("espeak", "gtts", "piper")


@dataclass(frozen=True)
class Layout:
    """How the parts are put together and how loud the result is."""

    chime: bool = False
    intro: str = ""
    repeat: int = 1  # the loudspeaker convention is 2: the message, a pause, the message again
    pause_ms: int = 2000
    target_lufs: float = -16.0
    ceiling_dbtp: float = -1.5

    def key(self):
        """The layout as a dict, for the cache key."""
        return dataclasses.asdict(self)


# The loudspeaker convention: a chime, the message twice with a pause between.
LOUDSPEAKER = Layout(chime=True, repeat=2)
# A hotline prompt or a recording played as it is: once, no chime.
PLAIN = Layout()


@dataclass
class RenderSpec:
    """What to render: `text`, or an official's `recording` (bytes or a path); how to say it and lay it out."""

    text: str | None = None
    recording: bytes | str | None = None
    engine: str = "espeak"
    engine_options: dict = field(default_factory=dict)
    layout: Layout = PLAIN

    def __post_init__(self):
        if self.recording is None and not (self.text or "").strip():
            raise ValueError("nothing to render: give a text or a recording")
        if self.layout.repeat < 1:
            raise ValueError("layout.repeat must be at least 1")

    def recording_bytes(self):
        if self.recording is None or isinstance(self.recording, (bytes, bytearray)):
            return self.recording
        with open(self.recording, "rb") as f:
            return f.read()

    def voice(self):
        """The voice that speaks: the `voice` option, a piper model's name, espeak's loudspeaker
        default, else Vietnamese ("vi")."""
        if self.engine_options.get("voice"):
            return self.engine_options["voice"]
        model = self.engine_options.get("model")
        if model:
            return str(model).rsplit("/", 1)[-1].removesuffix(".onnx")
        return ESPEAK_DEFAULTS["loudspeaker"]["voice"] if self.engine == "espeak" else "vi"

    def rendition_options(self, rendition):
        """The engine options `rendition` ("loudspeaker" or "phone") is spoken with: espeak's
        defaults for that rendition, overridden by the options given."""
        given = {k: v for k, v in self.engine_options.items() if v not in (None, "")}
        if self.engine != "espeak":
            return given
        return {**ESPEAK_DEFAULTS[rendition], **given}

    def synthesizes(self):
        """True when the engine speaks any part (the text, or the intro)."""
        return self.recording is None or bool(self.layout.intro.strip())

    def _heard_options(self):
        """The options as they change the sound: each rendition's own (soundless ones left out)."""
        if self.engine != "espeak":
            return self.engine_options
        return {"renditions": {r: {k: v for k, v in self.rendition_options(r).items()
                                   if k not in cache.SOUNDLESS_OPTIONS} for r in RENDITIONS}}

    def content_hash(self):
        """The cache key (see audio.cache.content_hash)."""
        recording = self.recording_bytes()
        spoken = verbalize(self.text) if recording is None else None
        layout = self.layout.key()
        layout["intro"] = verbalize(layout["intro"]) if layout["intro"].strip() else ""
        synthesizes = self.synthesizes()
        return cache.content_hash(
            voice=self.voice() if synthesizes else None,
            spoken=spoken,
            recording_sha256=cache.sha256_bytes(recording) if recording is not None else None,
            engine=self.engine if synthesizes else None,
            engine_options=self._heard_options() if synthesizes else None,
            layout=layout,
        )
