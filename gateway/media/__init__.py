"""Audio in the gateway: assets in the database, files under AUDIO_DIR, rendering jobs, file serving.

The web process only looks up assets, stores uploads and enqueues; speech synthesis and
composition (audio.engines, audio.compose) run in RQ workers (gateway.media.jobs).

    ensure_text_asset(session, text, kind="prompt") -> AudioAsset
    store_upload(session, filename, data, kind="recording") -> AudioAsset   (UploadRejected)
    request_announcement_audio(session, announcement) -> None
    asset_url(asset, rendition="mp3") -> str
"""
from gateway.media.assets import (  # noqa: F401  (the package's public names)
    asset_url, ensure_text_asset, request_announcement_audio, rerender, store_upload,
)


def init_app(app):
    from gateway.media import cli, settings, views

    settings.check(app.config)
    app.register_blueprint(views.bp)
    app.cli.add_command(cli.audio_cli)
