"""The speech engine interface and what engines raise."""
from dataclasses import dataclass


class EngineError(Exception):
    """Synthesis failed. `permanent=True`: retrying cannot help (configuration, bad input)."""

    def __init__(self, message, *, permanent=False):
        super().__init__(message)
        self.permanent = permanent


class EngineConfigError(EngineError):
    """The engine is chosen but cannot run as configured; the message says what to set or install."""

    def __init__(self, message):
        super().__init__(message, permanent=True)


@dataclass
class Speech:
    """What an engine produced: an audio file's bytes (`fmt` "wav" or "mp3") and how it was made."""

    audio: bytes
    fmt: str
    engine: str
    voice: str
    fallback_used: bool = False
    fallback_reason: str | None = None


class Engine:
    """Turns spoken-form text (see `audio.verbalize`) into audio. Subclasses set `name` and implement `synthesize`."""

    name = ""

    def __init__(self, **options):
        self.options = options

    @property
    def voice(self):
        """The voice this engine speaks with (part of the cache key)."""
        return ""

    def synthesize(self, text):
        """Speech for `text`; raises EngineError."""
        raise NotImplementedError
