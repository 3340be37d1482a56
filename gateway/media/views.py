"""Serving audio files: MP3 for loudspeakers and downloads, the 8 kHz WAV for <Play> in calls.

URLs name the asset by its content hash (`/audio/<hash>.mp3`, `/audio/<hash>.wav`): new
content gets a new URL. Responses carry a strong ETag and Last-Modified, answer conditional
requests with 304 and byte ranges with 206 (416 when unsatisfiable), as podcast clients, smart
loudspeakers and Twilio's media cache expect.
"""
import os
import re

from flask import Blueprint, abort, request, send_file
from sqlalchemy import select

from gateway.db import get_db
from gateway.media import storage
from gateway.models import AudioAsset

bp = Blueprint("media", __name__)

MIMETYPES = {"mp3": "audio/mpeg", "wav": "audio/wav"}
# Re-checked after an hour: a file spoken by the fallback engine can be replaced in place.
MAX_AGE = 3600


@bp.get("/audio/<content_hash>.<ext>")
def audio_file(content_hash, ext):
    """An asset's MP3 (`.mp3`) or telephone rendition (`.wav`); 404 until it is rendered.

    A recording (a resident's voice report, an official's upload) only with a valid, unexpired
    signature (`asset_url(..., external=True)`); officials hear it through the console."""
    from gateway.media.assets import signature_valid

    if ext not in MIMETYPES or not re.fullmatch(r"[0-9a-f]{64}", content_hash):
        abort(404)
    asset = get_db().scalar(select(AudioAsset).where(AudioAsset.content_hash == content_hash))
    if asset is not None and asset.kind == "recording" and not signature_valid(
            content_hash, ext, request.args.get("exp", ""), request.args.get("sig", "")):
        abort(404)  # the same answer as a missing file: nothing to learn from guessing
    return send_asset(asset, ext)


def send_asset(asset, ext):
    """The file of a ready asset as a conditional, range-capable response; 404 when there is none."""
    if ext not in MIMETYPES:
        abort(404)
    relative = None if asset is None or asset.status != "ready" else (
        asset.mp3_path if ext == "mp3" else asset.phone_path)
    if not relative:
        abort(404)
    path = storage.absolute(relative)
    if not os.path.isfile(path):
        abort(404)
    name = f"thong-bao-{asset.id}.{ext}" if request.args.get("download") else None
    return send_file(path, mimetype=MIMETYPES[ext], conditional=True, etag=True, max_age=MAX_AGE,
                     as_attachment=name is not None, download_name=name or os.path.basename(path))
