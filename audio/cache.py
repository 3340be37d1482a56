"""The render cache: a content hash names every rendition, and a rendition made once is reused.

The hash covers what the listener hears: the spoken form of the text (so a change in the
verbalization rules makes new audio) or the recording's bytes, the engine, the options that
change the voice, the layout (chime, intro, repetitions, loudness) and the pipeline version.
It leaves out what does not change the sound (timeouts, retries, the espeak backend).
Files live under `<directory>/<hash[:2]>/<hash>.*`, written atomically.
"""
import hashlib
import json
import os

# Bump when the composition changes what comes out for the same input.
PIPELINE_VERSION = 1
# Engine options that do not change the sound.
SOUNDLESS_OPTIONS = frozenset({"timeout", "retries", "retry_delay", "backend", "fallback"})


def sha256_bytes(data):
    """The hex SHA-256 of `data`."""
    return hashlib.sha256(data).hexdigest()


def content_hash(*, spoken=None, recording_sha256=None, engine=None, voice=None, engine_options=None, layout=None):
    """The cache key of a rendition: hex SHA-256 of its canonical description."""
    # The voice counts once, as `voice`, however it was given.
    options = {k: v for k, v in sorted((engine_options or {}).items()) if k not in SOUNDLESS_OPTIONS | {"voice"}}
    payload = {
        "pipeline": PIPELINE_VERSION,
        "spoken": spoken,
        "recording": recording_sha256,
        "engine": engine,
        "voice": voice,
        "engine_options": options,
        "layout": layout or {},
    }
    canonical = json.dumps(payload, sort_keys=True, ensure_ascii=False, separators=(",", ":"), default=str)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def relative_paths(digest):
    """(mp3, phone wav, metadata) paths of a rendition, relative to the cache directory."""
    folder = digest[:2]
    return (f"{folder}/{digest}.mp3", f"{folder}/{digest}.phone.wav", f"{folder}/{digest}.json")


def load(directory, digest):
    """The stored metadata of rendition `digest`, or None unless it and both files are there."""
    mp3, phone, meta = (os.path.join(directory, p) for p in relative_paths(digest))
    if not (os.path.isfile(meta) and os.path.isfile(mp3) and os.path.isfile(phone)):
        return None
    try:
        with open(meta, encoding="utf-8") as f:
            return json.load(f)
    except (OSError, ValueError):
        return None  # a damaged record is re-rendered, not trusted


def store(directory, digest, metadata):
    """Write the metadata of rendition `digest` last and atomically: its presence means complete."""
    path = os.path.join(directory, relative_paths(digest)[2])
    os.makedirs(os.path.dirname(path), exist_ok=True)
    tmp = f"{path}.{os.getpid()}.tmp"
    with open(tmp, "w", encoding="utf-8") as f:
        json.dump(metadata, f, ensure_ascii=False, indent=1, sort_keys=True)
    os.replace(tmp, path)
