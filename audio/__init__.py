"""Audio: announcement text or an official's recording in, files for phones and loudspeakers out.

A library: no Flask, Twilio or database here. Every public name is imported on first use, so
`import audio` does no work and a process that only checks uploads never loads the engines.

    audio.verbalize(text) -> str                     the spoken form of Vietnamese text
    audio.render(RenderSpec(...), directory) -> Rendition   MP3 + telephone WAV, measured, cached
    audio.join([(path, chime_before), ...], directory) -> Rendition   files joined (a daily bulletin)
    audio.check_upload(filename, data) -> CheckedUpload     or UploadRejected(code, message)
    audio.get_engine(name, **options) -> Engine      espeak, gtts, piper
    audio.transcribe(path_or_bytes) -> str           offline speech-to-text (optional viet-asr)
"""
from importlib import import_module

_EXPORTS = {
    "verbalize": "audio.spoken",
    "number_words": "audio.spoken",
    "render": "audio.compose",
    "join": "audio.compose",
    "RenderSpec": "audio.spec",
    "Rendition": "audio.compose",
    "Layout": "audio.spec",
    "LOUDSPEAKER": "audio.spec",
    "PLAIN": "audio.spec",
    "check_upload": "audio.uploads",
    "CheckedUpload": "audio.uploads",
    "UploadRejected": "audio.uploads",
    "content_hash": "audio.cache",
    "ENGINE_NAMES": "audio.spec",
    "get_engine": "audio.engines",
    "ENGINES": "audio.engines",
    "EngineError": "audio.engines.base",
    "EngineConfigError": "audio.engines.base",
    "decode": "audio.codec",
    "CodecError": "audio.codec",
    "measure": "audio.loudness",
    "transcribe": "audio.transcribe",
    "TranscriberError": "audio.transcribe",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name):
    try:
        module = _EXPORTS[name]
    except KeyError:
        raise AttributeError(f"module 'audio' has no attribute {name!r}") from None
    value = getattr(import_module(module), name)
    globals()[name] = value
    return value


def __dir__():
    return __all__
