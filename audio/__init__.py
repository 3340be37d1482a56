"""Audio: announcement text or an official's recording in, files for phones and loudspeakers out.

A library: no Flask, Twilio or database here. Public names are imported on first use, so
`import audio` costs nothing and the web process never loads the speech engines.
"""
from importlib import import_module

_EXPORTS = {
    "verbalize": "audio.spoken",
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
