"""RQ job joining a day's announcements into the bulletin (runs on the `audio` queue)."""
import logging

from flask import current_app
from sqlalchemy import select

import audio
from audio.codec import CodecError
from gateway.db import get_db
from gateway.loudspeaker.listing import playable
from gateway.media import settings, storage
from gateway.media.jobs import apply_rendition
from gateway.models import Announcement, AudioAsset, Bulletin

log = logging.getLogger(__name__)


def render_bulletin(bulletin_id):
    """Join the bulletin's announcements (each led by a chime) into one MP3; returns its status."""
    db = get_db()
    bulletin = db.get(Bulletin, bulletin_id)
    if bulletin is None:
        log.warning("render_bulletin: bulletin=%s is gone", bulletin_id)
        return "missing"
    config = current_app.config
    layout = settings.layout(config, "bulletin")
    parts = []
    for announcement_id in bulletin.announcement_ids:
        announcement = db.get(Announcement, announcement_id)
        asset = playable(announcement) if announcement is not None else None
        if asset is None:
            continue  # withdrawn, or its audio was re-rendered meanwhile: the next request catches up
        # Announcements rendered without a chime get one here, so the bulletin always has them between.
        has_chime = bool((asset.options or {}).get("layout", {}).get("chime"))
        parts.append((storage.absolute(asset.mp3_path, config), layout.chime and not has_chime))
    if not parts:
        bulletin.status, bulletin.asset_id = "empty", None
        db.commit()
        return bulletin.status
    try:
        rendition = audio.join(parts, storage.absolute(storage.RENDERS, config), layout=audio.Layout(
            target_lufs=layout.target_lufs, ceiling_dbtp=layout.ceiling_dbtp))
    except (CodecError, FileNotFoundError) as exc:
        bulletin.status, bulletin.error = "failed", f"{exc.__class__.__name__}: {exc}"[:2000]
        db.commit()
        log.error("bulletin=%s failed: %s", bulletin.id, bulletin.error)
        return bulletin.status
    asset = db.scalar(select(AudioAsset).where(AudioAsset.content_hash == rendition.content_hash))
    if asset is None:
        asset = AudioAsset(kind="bulletin", content_hash=rendition.content_hash,
                           text=f"Bản tin ngày {bulletin.day:%d/%m/%Y}", options={"layout": layout.key()})
        db.add(asset)
    apply_rendition(asset, rendition)
    db.flush()
    bulletin.asset_id, bulletin.status, bulletin.error = asset.id, "ready", None
    db.commit()
    log.info("bulletin=%s area=%s day=%s ready: %d announcements, %.1f s", bulletin.id, bulletin.area_id,
             bulletin.day, len(parts), asset.duration_ms / 1000)
    return bulletin.status
