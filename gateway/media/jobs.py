"""RQ jobs that render audio (run by workers on the `audio` queue; they import the engines).

Both take ids and are idempotent: an asset already rendered, with its files present, is left
alone, so a duplicated or retried job synthesizes nothing. Permanent failures (configuration,
an unusable recording) are written to the asset; transient ones raise so RQ retries.
"""
import logging

from flask import current_app
from sqlalchemy import select

import audio
from audio.codec import CodecError
from audio.engines.base import EngineError
from gateway.db import get_db
from gateway.media import settings, storage
from gateway.media.assets import announcement_intro, retry_fallback_due, text_spec
from gateway.models import Announcement, AnnouncementLanguage, AudioAsset, utcnow

log = logging.getLogger(__name__)


def render_asset(asset_id, force=False):
    """Render an asset's files (MP3 and the phone WAV) unless they exist (or `force`); returns its status."""
    db = get_db()
    asset = db.get(AudioAsset, asset_id)
    if asset is None:
        log.warning("render_asset: asset=%s is gone", asset_id)
        return "missing"
    _render(db, asset, force)
    return asset.status


def render_announcement(announcement_id):
    """Give an announcement its audio: the official's recording if there is one, else its text spoken."""
    db = get_db()
    ann = db.get(Announcement, announcement_id)
    if ann is None:
        log.warning("render_announcement: announcement=%s is gone", announcement_id)
        return None
    config = current_app.config
    _render_languages(db, ann, config)
    recording = ann.recording
    if recording is not None and recording.original_path:
        spec, new = _recording_rendition(recording, config)
    else:
        if not (ann.body or "").strip():
            log.warning("render_announcement: announcement=%s has neither text nor recording", ann.id)
            return None
        spec = text_spec(config, ann.body, "announcement", announcement_intro(ann.title, ann.body))
        new = AudioAsset(kind="announcement", text=ann.body, engine=spec.engine,
                         voice=spec.voice()[:40],
                         options={"layout": spec.layout.key(), "engine_options": dict(spec.engine_options)},
                         status="pending")
    asset = _rendition_asset(db, spec, new)
    _render(db, asset)
    ann.audio_id = asset.id
    db.commit()
    log.info("announcement=%s audio asset=%s status=%s", ann.id, asset.id, asset.status)
    return asset.id


def _recording_rendition(recording, config):
    """(spec, new asset) of an announcement read in an official's recording."""
    spec = audio.RenderSpec(recording=storage.absolute(recording.original_path),
                            layout=settings.layout(config, "announcement"))
    return spec, AudioAsset(kind="announcement", source_id=recording.id, original_name=recording.original_name,
                            options={"layout": spec.layout.key(), "engine_options": {}}, status="pending")


def _rendition_asset(db, spec, new):
    """The asset of `spec` (found by its content hash), or `new` stored under it."""
    digest = spec.content_hash()
    asset = db.scalar(select(AudioAsset).where(AudioAsset.content_hash == digest))
    if asset is None:
        new.content_hash = digest
        db.add(new)
        db.flush()
        asset = new
    return asset


def _render_languages(db, ann, config):
    """The rendition of each recording the announcement has in an extra language (gateway.languages)."""
    for row in db.scalars(select(AnnouncementLanguage).where(AnnouncementLanguage.announcement_id == ann.id)):
        if row.recording is None or not row.recording.original_path:
            continue
        asset = _rendition_asset(db, *_recording_rendition(row.recording, config))
        _render(db, asset)
        row.audio_id = asset.id
        db.commit()
        log.info("announcement=%s language=%s audio asset=%s status=%s", ann.id, row.language, asset.id, asset.status)


def spec_for(asset, config):
    """The RenderSpec that makes `asset`, from its row alone."""
    options = asset.options or {}
    layout = audio.Layout(**options.get("layout", {}))
    if asset.original_path or asset.source_id:
        original = asset.original_path or (asset.source.original_path if asset.source else None)
        if not original:
            raise FileNotFoundError(f"asset {asset.id}: its source recording is gone")
        return audio.RenderSpec(recording=storage.absolute(original, config), layout=layout)
    engine = asset.engine or config["TTS_ENGINE"]
    engine_options = {**options.get("engine_options", {}), **settings.runtime_options(config, engine)}
    return audio.RenderSpec(text=asset.text, engine=engine, engine_options=engine_options, layout=layout)


def _files_present(asset, config):
    return all(p and _exists(p, config) for p in (asset.mp3_path, asset.phone_path))


def _exists(relative, config):
    import os

    return os.path.isfile(storage.absolute(relative, config))


def apply_rendition(asset, rendition):
    """Record a rendition's files and measurements on its asset, which becomes ready."""
    prefix = storage.RENDERS + "/"
    asset.mp3_path = prefix + rendition.mp3_path
    asset.phone_path = prefix + rendition.phone_path
    asset.duration_ms = rendition.duration_ms
    asset.loudness_lufs = rendition.loudness_lufs
    asset.true_peak_dbtp = rendition.true_peak_dbtp
    asset.phone_loudness_lufs = rendition.phone_loudness_lufs
    asset.phone_true_peak_dbtp = rendition.phone_true_peak_dbtp
    asset.mp3_bytes = rendition.mp3_bytes
    asset.phone_bytes = rendition.phone_bytes
    if rendition.voice:
        asset.voice = rendition.voice  # what spoke; `engine` stays what was asked for (the cache key)
    asset.fallback_used = rendition.fallback_used
    asset.error = f"fell back to espeak: {rendition.fallback_reason}" if rendition.fallback_used else None
    asset.status = "ready"
    asset.rendered_at = utcnow()


def _render(db, asset, force=False):
    config = current_app.config
    if not force and asset.status == "ready" and _files_present(asset, config) and not retry_fallback_due(asset):
        return
    try:
        spec = spec_for(asset, config)
        rendition = audio.render(spec, storage.absolute(storage.RENDERS, config))
    except (EngineError, CodecError, FileNotFoundError, ValueError) as exc:
        if isinstance(exc, EngineError) and not exc.permanent:
            raise  # transient: RQ retries the job
        asset.status = "failed"
        asset.error = f"{exc.__class__.__name__}: {exc}"[:2000]
        db.commit()
        log.error("asset=%s failed: %s", asset.id, asset.error)
        return
    apply_rendition(asset, rendition)
    db.commit()
    log.info("asset=%s ready (%s) %.1f s %.1f LUFS%s", asset.id, "cache" if rendition.cached else "rendered",
             rendition.duration_ms / 1000, rendition.loudness_lufs, " fallback" if rendition.fallback_used else "")
