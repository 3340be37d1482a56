"""Files under AUDIO_DIR: renditions in `renders/`, uploaded originals in `originals/`.

The database stores paths relative to AUDIO_DIR, so the folder can move (or be shared storage
mounted elsewhere on another worker) without touching rows.
"""
import os

from flask import current_app

RENDERS = "renders"
ORIGINALS = "originals"


def audio_dir(config=None):
    """The absolute AUDIO_DIR."""
    return os.path.abspath((config or current_app.config)["AUDIO_DIR"])


def absolute(relative, config=None):
    """The absolute path of a stored relative path; ValueError for one that leaves AUDIO_DIR."""
    root = audio_dir(config)
    path = os.path.abspath(os.path.join(root, relative))
    if os.path.commonpath([root, path]) != root:
        raise ValueError(f"path outside AUDIO_DIR: {relative!r}")
    return path


def save_original(sha256, extension, data, config=None):
    """Write an uploaded recording once (named by its hash) and return its relative path."""
    relative = f"{ORIGINALS}/{sha256[:2]}/{sha256}.{extension}"
    path = absolute(relative, config)
    if not os.path.exists(path):
        os.makedirs(os.path.dirname(path), exist_ok=True)
        tmp = f"{path}.{os.getpid()}.part"
        with open(tmp, "wb") as f:
            f.write(data)
        os.replace(tmp, path)
    return relative
