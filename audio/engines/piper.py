"""piper: a neural voice from a local model file an operator supplies (nothing is downloaded).

The model is an `.onnx` file with its `.onnx.json` beside it, named by the PIPER_MODEL
setting. Selecting piper without the `piper-tts` package or without a usable model is a
configuration error whose message says what to do.
"""
import functools
import io
import os
import wave

from audio.engines.base import Engine, EngineConfigError, EngineError, Speech

# Above 1 speaks more slowly: clearer for elderly listeners.
DEFAULT_LENGTH_SCALE = 1.15


class PiperEngine(Engine):
    name = "piper"

    def __init__(self, model=None, length_scale=DEFAULT_LENGTH_SCALE, **options):
        super().__init__(**options)
        if not model:
            raise EngineConfigError(
                "The piper engine needs a voice model: set PIPER_MODEL to the path of a .onnx voice file "
                "(with its .onnx.json beside it), or choose TTS_ENGINE=espeak.")
        model = os.path.abspath(os.fspath(model))
        if not os.path.isfile(model):
            raise EngineConfigError(f"PIPER_MODEL names a file that does not exist: {model}")
        if not os.path.isfile(model + ".json"):
            raise EngineConfigError(f"The piper voice model needs its configuration beside it: {model}.json is missing")
        try:
            import piper  # noqa: F401
        except ImportError:
            raise EngineConfigError(
                "TTS_ENGINE=piper but the piper-tts package is not installed: pip install piper-tts") from None
        self.model = model
        self.length_scale = float(length_scale)

    @property
    def voice(self):
        return os.path.basename(self.model).removesuffix(".onnx")[:40]

    def synthesize(self, text):
        from piper import SynthesisConfig

        voice = _load(self.model)
        buf = io.BytesIO()
        with wave.open(buf, "wb") as wav:
            voice.synthesize_wav(text, wav, syn_config=SynthesisConfig(length_scale=self.length_scale))
        if buf.tell() <= 44:
            raise EngineError("piper produced no audio")
        return Speech(audio=buf.getvalue(), fmt="wav", engine=self.name, voice=self.voice)


@functools.lru_cache(maxsize=4)
def _load(model):
    """The voice, loaded once per process and model path."""
    from piper import PiperVoice

    try:
        return PiperVoice.load(model)
    except Exception as exc:  # onnxruntime and json raise many types for a file that is no model
        raise EngineConfigError(f"{model} is not a usable piper voice model: {exc.__class__.__name__}: {exc}") from exc
