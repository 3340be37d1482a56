"""Getting audio for the rest of the gateway: assets found by content hash, or created and queued.

Nothing here synthesizes: a new asset is stored as `pending` and a render job is enqueued on
the `audio` queue; the hotline and the broadcast code play it once it is `ready` (and may
fall back to `<Say>` or text until then).
"""
import datetime as dt
import logging

from flask import current_app, has_request_context, url_for
from rq.exceptions import NoSuchJobError
from rq.job import Job
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from audio.spec import RenderSpec
from gateway import queue
from gateway.media import settings, storage
from gateway.models import AudioAsset, utcnow
from gateway.text import nfc

log = logging.getLogger(__name__)

KINDS = ("recording", "announcement", "prompt", "bulletin")
RENDER_JOB = "gateway.media.jobs.render_asset"
ANNOUNCEMENT_JOB = "gateway.media.jobs.render_announcement"
# A rendering job still unfinished after this long is presumed lost (e.g. Redis restarted).
STALE_AFTER = dt.timedelta(minutes=10)
# An asset the offline engine spoke because gTTS failed is tried with gTTS again after this long.
FALLBACK_RETRY_AFTER = dt.timedelta(hours=1)
# About six minutes of speech, twice over on a loudspeaker: longer belongs in a recording.
MAX_TEXT_CHARS = 5000
# Seconds a render job may run: the longest text, spoken by gTTS in 100-character requests.
JOB_TIMEOUT = 900


def text_spec(config, text, kind, intro=""):
    """The RenderSpec of `text` as an asset of `kind` under the current settings."""
    engine = config["TTS_ENGINE"]
    return RenderSpec(text=text, engine=engine, engine_options=settings.engine_options(config, engine),
                      layout=settings.layout(config, kind, intro))


def ensure_text_asset(session, text, kind="prompt", *, intro="", areas=()):
    """The asset speaking `text` (kind: prompt, announcement, bulletin); created pending and queued if new.

    Commits when it creates the asset. Same text, engine and layout → the same asset, so asking
    again costs one query and synthesizes nothing."""
    if kind not in KINDS or kind == "recording":
        raise ValueError(f"kind must be one of prompt, announcement, bulletin, not {kind!r}")
    text = nfc(text).strip()
    if not text:
        raise ValueError("no text to speak")
    if len(text) > MAX_TEXT_CHARS:
        raise ValueError(f"text too long to speak: {len(text)} characters, at most {MAX_TEXT_CHARS}")
    config = current_app.config
    spec = text_spec(config, text, kind, nfc(intro).strip())
    asset = _get_or_create(session, spec, AudioAsset(
        kind=kind, text=text, engine=spec.engine, voice=spec.voice()[:40],
        options=_options(spec), status="pending",
    ))
    link_areas(session, asset, areas)
    return asset


def announcement_intro(title, body):
    """What is said before the message: "Thông báo: <title>", unless the title says it or the body starts with it."""
    title = (title or "").strip().rstrip(".:")
    if not title or (body or "").strip().lower().startswith(title.lower()):
        return ""
    return title if title.lower().startswith("thông báo") else f"Thông báo: {title}"


def store_upload(session, filename, data, kind="recording", *, areas=()):
    """Check an uploaded recording, keep the original and queue its renditions; UploadRejected says why not.

    The same bytes uploaded twice give the same asset; `areas` (the uploader's) may hear it."""
    from audio.uploads import check_upload

    if kind not in ("recording", "prompt"):
        raise ValueError(f"kind must be recording or prompt, not {kind!r}")
    config = current_app.config
    checked = check_upload(filename, data, **settings.upload_limits(config))
    spec = RenderSpec(recording=data, layout=settings.layout(config, "recording"))
    original = storage.save_original(checked.sha256, checked.extension, data, config)
    asset = _get_or_create(session, spec, AudioAsset(
        kind=kind, original_path=original, original_name=checked.filename, status="pending",
        duration_ms=int(checked.duration * 1000), options=_options(spec),
    ))
    link_areas(session, asset, areas)
    log.info("upload stored asset=%s format=%s seconds=%.1f", asset.id, checked.format, checked.duration)
    return asset


def link_areas(session, asset, areas):
    """Record that `asset` belongs to `areas` too (idempotent); commits when it adds a link."""
    from gateway.models import audio_asset_areas

    have = set(session.scalars(select(audio_asset_areas.c.area_id).where(audio_asset_areas.c.asset_id == asset.id)))
    new = [{"asset_id": asset.id, "area_id": a.id} for a in areas if a.id not in have]
    if new:
        session.execute(audio_asset_areas.insert(), new)
        session.commit()


def request_announcement_audio(session, announcement):
    """Queue the rendering of an announcement's audio (its recording if it has one, else its text)."""
    session.commit()  # the worker must see the announcement as it is now
    # Duplicates are harmless: the job finds the rendition by its content hash.
    queue.enqueue(ANNOUNCEMENT_JOB, announcement.id, queue="audio", retry=_retry(), job_timeout=JOB_TIMEOUT)


def rerender(session, asset):
    """Render an asset again: a failed one (after the configuration was fixed), or one the fallback
    engine spoke (it stays playable meanwhile)."""
    if asset.status == "failed":
        asset.status, asset.error = "pending", None
        session.commit()
    _enqueue(asset, force=True)


def asset_url(asset, rendition="mp3", external=True):
    """The URL of an asset's file: `mp3` (loudspeakers, downloads) or `phone` (8 kHz WAV for <Play>).

    Announcement, prompt and bulletin audio is public behind its unguessable URL. A recording (an
    official's upload, a resident's voice report) is private: inside the console it is served to
    officials in scope; for a provider (`external`) the URL is signed and expires."""
    ext = {"mp3": "mp3", "phone": "wav"}[rendition]
    if asset.kind == "recording" and not external:
        return url_for("console.audio_file", asset_id=asset.id, ext=ext)
    path = f"/audio/{asset.content_hash}.{ext}"
    if asset.kind == "recording":
        path += "?" + signed_query(asset.content_hash, ext)
    base = current_app.config.get("PUBLIC_BASE_URL")
    if external and base:
        return base.rstrip("/") + path  # what providers reach, also from a job with no request
    if external and has_request_context():
        return url_for("media.audio_file", content_hash=asset.content_hash, ext=ext, _external=True)
    if external:  # a job in development: the address officials last reached the gateway at
        seen = queue.get_connection().get(SEEN_BASE_KEY)
        if seen:
            return seen.decode().rstrip("/") + path
    return path


# A provider fetches a recording it must play within minutes of being given its URL.
SIGNED_URL_SECONDS = 600


def _signature(content_hash, ext, expires, config=None):
    import hashlib
    import hmac

    key = str((config or current_app.config)["SECRET_KEY"]).encode()
    return hmac.new(key, f"audio:{content_hash}.{ext}:{expires}".encode(), hashlib.sha256).hexdigest()


def signed_query(content_hash, ext, seconds=SIGNED_URL_SECONDS, now=None):
    """`exp=…&sig=…` letting whoever holds it fetch one private file until it expires."""
    expires = int((now or utcnow()).timestamp()) + seconds
    return f"exp={expires}&sig={_signature(content_hash, ext, expires)}"


def signature_valid(content_hash, ext, expires, signature, now=None):
    """True when `signature` was made by `signed_query` for this file and has not expired."""
    import hmac

    if not str(expires).isdigit() or len(str(expires)) > 12 or not signature:
        return False
    if int(expires) < int((now or utcnow()).timestamp()):
        return False
    return hmac.compare_digest(_signature(content_hash, ext, int(expires)), str(signature))


SEEN_BASE_KEY = "gateway:seen-base-url"


def remember_base_url():
    """Without PUBLIC_BASE_URL, keep this request's address for jobs' links (group posts) to use."""
    if not current_app.config.get("PUBLIC_BASE_URL") and has_request_context():
        from flask import request

        queue.get_connection().set(SEEN_BASE_KEY, request.host_url)


def _options(spec):
    return {"layout": spec.layout.key(), "engine_options": dict(spec.engine_options)}


def _get_or_create(session, spec, new):
    digest = spec.content_hash()
    asset = session.scalar(select(AudioAsset).where(AudioAsset.content_hash == digest))
    if asset is None:
        new.content_hash = digest
        try:
            with session.begin_nested():
                session.add(new)
        except IntegrityError:
            # Another request created it between our query and our insert.
            asset = session.scalar(select(AudioAsset).where(AudioAsset.content_hash == digest))
        else:
            session.commit()
            log.info("audio asset created asset=%s kind=%s", new.id, new.kind)
            _enqueue(new)
            return new
    if (asset.status == "pending" and _lost(asset)) or (retry_fallback_due(asset) and _lost(asset, fresh=True)):
        _enqueue(asset)
    return asset


def retry_fallback_due(asset):
    """True when a ready asset spoken by the fallback engine should be tried with its own engine again."""
    return (asset.status == "ready" and asset.fallback_used and asset.rendered_at is not None
            and utcnow() - asset.rendered_at > FALLBACK_RETRY_AFTER)


def job_id(asset_id):
    """The render job's id for an asset (one at a time: a live one is not enqueued again)."""
    return f"audio-render-{asset_id}"


def _job_id(asset):
    return job_id(asset.id)


def _lost(asset, fresh=False):
    """True when an asset has no render job waiting or running for it (a young one is given time, unless `fresh`)."""
    if not fresh and utcnow() - asset.created_at < STALE_AFTER:
        return False
    try:
        job = Job.fetch(_job_id(asset), connection=queue.get_connection())
    except NoSuchJobError:
        return True
    return job.get_status() not in ("queued", "started", "scheduled", "deferred")


def _retry():
    from rq import Retry

    return Retry(max=3, interval=[10, 60, 300])


def _enqueue(asset, force=False):
    args = (asset.id, True) if force else (asset.id,)
    queue.enqueue(RENDER_JOB, *args, queue="audio", job_id=_job_id(asset), retry=_retry(), job_timeout=JOB_TIMEOUT)
