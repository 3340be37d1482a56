"""gTTS: Google Translate's Vietnamese voice (needs the internet), falling back to espeak-ng.

Every request has a timeout; failures are retried a few times with a short wait, then the
offline engine speaks instead and the result says so (`fallback_used`, `fallback_reason`), so
an announcement is never lost to a network outage.
"""
import io
import logging
import time

from audio.engines.base import Engine, EngineError, Speech

log = logging.getLogger(__name__)


class GTTSEngine(Engine):
    name = "gtts"

    def __init__(self, voice="vi", timeout=10.0, retries=2, retry_delay=1.0, tld="com.vn", fallback=None, **options):
        super().__init__(**options)
        self._voice = voice or "vi"
        self.timeout = float(timeout)
        self.retries = int(retries)
        self.retry_delay = float(retry_delay)
        self.tld = tld
        # Options for the offline engine that speaks when Google cannot (e.g. {"rate": 140}).
        self.fallback = dict(fallback or {})

    @property
    def voice(self):
        return self._voice

    def synthesize(self, text):
        try:
            return Speech(audio=self._request(text), fmt="mp3", engine=self.name, voice=self.voice)
        except EngineError as exc:
            reason = str(exc)
        log.warning("gTTS failed, speaking with espeak-ng instead: %s", reason)
        from audio.engines.espeak import EspeakEngine

        speech = EspeakEngine(**self.fallback).synthesize(text)
        speech.fallback_used = True
        speech.fallback_reason = reason
        return speech

    def _request(self, text):
        """The MP3 from Google, after up to 1 + `retries` attempts; EngineError with the last reason."""
        from gtts import gTTS, gTTSError

        attempts = 1 + max(0, self.retries)
        reason = "no attempt"
        for attempt in range(1, attempts + 1):
            buf = io.BytesIO()
            try:
                gTTS(text, lang=self.voice, tld=self.tld, timeout=self.timeout).write_to_fp(buf)
            except gTTSError as exc:
                reason = f"gTTS attempt {attempt}/{attempts}: {exc}"
            else:
                if buf.tell() > 0:
                    return buf.getvalue()
                reason = f"gTTS attempt {attempt}/{attempts}: empty audio"
            log.info("%s", reason)
            if attempt < attempts and self.retry_delay > 0:
                time.sleep(self.retry_delay * attempt)
        raise EngineError(f"gTTS failed after {attempts} attempts; last: {reason}")
