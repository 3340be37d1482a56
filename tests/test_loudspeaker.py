"""Loudspeaker operators: token links, the download page and JSON, the podcast feed (parsed with
feedparser), MP3 downloads with Range and ETag, revocation, and the daily bulletin joined by a
real RQ worker from real espeak-ng renders."""
import datetime as dt
import os

import shutil

import feedparser
import pytest
import redis
from sqlalchemy import select

from audio import codec
from gateway.db import get_db
from gateway.loudspeaker import create_link, revoke
from gateway.loudspeaker.listing import local_day
from gateway.media import request_announcement_audio
from gateway.media.storage import absolute
from gateway.models import Announcement, Area, AudioAsset, Bulletin, OperatorLink, utcnow
from gateway.queue import drain
from tests.audio_helpers import ebur128


@pytest.fixture(scope="module")
def audio_dir(tmp_path_factory):
    """One audio folder for the module: the render cache makes later tests' renders instant."""
    return tmp_path_factory.mktemp("loudspeaker-audio")


@pytest.fixture
def app(make_app, tmp_path, sqlite_template, redis_url, audio_dir):
    db_path = tmp_path / "gateway.sqlite"
    shutil.copy(sqlite_template, db_path)
    redis.Redis.from_url(redis_url).flushdb()
    app = make_app(DATABASE_URL=f"sqlite:///{db_path}", REDIS_URL=redis_url, AUDIO_DIR=str(audio_dir))
    app.testing = True
    return app


def _since_local_midnight(now):
    """How long ago today began in Vietnam (UTC+7, no daylight saving)."""
    local = now + dt.timedelta(hours=7)
    return local - local.replace(hour=0, minute=0, second=0, microsecond=0)


def _announce(db, title, body, areas, *, channels=("loudspeaker", "sms"), ago=dt.timedelta(hours=1), **kw):
    now = utcnow()
    # "Sent `ago` before now", squeezed (order kept) into today's local day when the test runs just
    # after midnight in Vietnam, so every announcement here belongs to today's bulletin.
    ago = ago * min(1.0, _since_local_midnight(now) / dt.timedelta(minutes=61))
    a = Announcement(title=title, body=body, areas=areas, channels=list(channels), status="sent",
                     send_at=now - ago, expires_at=now + dt.timedelta(days=2), **kw)
    db.add(a)
    db.flush()
    request_announcement_audio(db, a)
    return a


@pytest.fixture
def setup(app, demo):
    """Two loudspeaker announcements for KP5 (one for the whole commune), one SMS-only, one for KP6."""
    with app.app_context():
        db = get_db()
        kp5 = db.scalar(select(Area).where(Area.code == "KP5"))
        kp6 = db.scalar(select(Area).where(Area.code == "KP6"))
        commune = kp5.parent
        first = _announce(db, "Tiêm phòng <dại>", "Sáng mai tiêm phòng dại cho chó mèo.", [kp5],
                          ago=dt.timedelta(minutes=50))
        whole = _announce(db, "Cắt điện", "Chiều nay cắt điện từ 14 giờ.", [commune], priority="urgent",
                          ago=dt.timedelta(minutes=20))
        sms_only = _announce(db, "Chỉ tin nhắn", "Không phát loa.", [kp5], channels=("sms",))
        other = _announce(db, "Khu phố 6", "Họp tổ dân phố.", [kp6])
        link, token = create_link(db, area=kp5, label="Ông Ba – loa khu phố 5")
        db.commit()
        ids = {"first": first.id, "whole": whole.id, "sms_only": sms_only.id, "other": other.id, "link": link.id}
    drain(app)
    return token, ids


def test_page_and_json_list_the_areas_loudspeaker_announcements(client, setup):
    token, ids = setup
    page = client.get(f"/loa/{token}/")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "Tiêm phòng &lt;dại&gt;" in html and "<dại>" not in html  # escaped
    assert "Cắt điện" in html and "Chỉ tin nhắn" not in html and "Họp tổ dân phố" not in html
    assert f"/loa/{token}/{ids['first']}.mp3" in html and f"/loa/{token}/feed.xml" in html

    data = client.get(f"/loa/{token}/announcements.json").get_json()
    assert data["area"]["name"] == "Khu phố 5"
    assert [a["id"] for a in data["announcements"]] == [ids["whole"], ids["first"]]  # newest first
    first = data["announcements"][1]
    assert first["mp3_url"] == f"https://gw.example.vn/loa/{token}/{ids['first']}.mp3"
    assert first["current"] is True and first["bytes"] > 1000 and first["duration_ms"] > 1000


def test_feed_is_rss_with_itunes_tags_and_enclosures(client, setup, app):
    token, ids = setup
    response = client.get(f"/loa/{token}/feed.xml")
    assert response.status_code == 200 and response.mimetype == "application/rss+xml"
    parsed = feedparser.parse(response.data)
    assert not parsed.bozo, parsed.bozo_exception
    assert parsed.version == "rss20"
    assert parsed.feed.title.startswith("Loa Xóm – Khu phố 5") and parsed.feed.language == "vi"
    assert parsed.feed.author == parsed.feed.title.split(", ")[-1]  # itunes:author = the commune
    assert parsed.feed.itunes_type == "episodic" and parsed.feed.tags[0].term == "Government"
    assert b"<itunes:explicit>false</itunes:explicit>" in response.data  # feedparser reads only yes/clean
    assert parsed.namespaces["itunes"] == "http://www.itunes.com/dtds/podcast-1.0.dtd"
    assert [e.title for e in parsed.entries] == ["Cắt điện", "Tiêm phòng <dại>"]
    with app.app_context():
        for entry, key in zip(parsed.entries, ("whole", "first")):
            asset = get_db().get(Announcement, ids[key]).audio
            (enclosure,) = entry.enclosures
            assert enclosure.type == "audio/mpeg"
            assert int(enclosure.length) == asset.mp3_bytes == os.path.getsize(absolute(asset.mp3_path))
            assert enclosure.href == f"https://gw.example.vn/loa/{token}/{ids[key]}.mp3"
            seconds = round(asset.duration_ms / 1000)
            assert entry.itunes_duration == f"{seconds // 3600:02d}:{seconds % 3600 // 60:02d}:{seconds % 60:02d}"
            assert entry.published_parsed is not None and entry.id.startswith(f"loaxom:announcement:{ids[key]}:")
    # Conditional GET: podcast apps poll; an unchanged feed costs a 304.
    again = client.get(f"/loa/{token}/feed.xml", headers={"If-None-Match": response.headers["ETag"]})
    assert again.status_code == 304 and again.data == b""


def test_downloads_honour_range_and_etag(client, setup, app):
    token, ids = setup
    url = f"/loa/{token}/{ids['first']}.mp3"
    full = client.get(url)
    assert full.status_code == 200 and full.mimetype == "audio/mpeg" and full.headers["Accept-Ranges"] == "bytes"
    with app.app_context():
        with open(absolute(get_db().get(Announcement, ids["first"]).audio.mp3_path), "rb") as f:
            assert full.data == f.read()
    part = client.get(url, headers={"Range": "bytes=100-299"})
    assert part.status_code == 206 and part.data == full.data[100:300]
    assert part.headers["Content-Range"] == f"bytes 100-299/{len(full.data)}"
    tail = client.get(url, headers={"Range": "bytes=-50"})
    assert tail.status_code == 206 and tail.data == full.data[-50:]
    assert client.get(url, headers={"Range": f"bytes={len(full.data) + 10}-"}).status_code == 416
    assert client.get(url, headers={"If-None-Match": full.headers["ETag"]}).status_code == 304
    attachment = client.get(url + "?download=1")
    assert attachment.headers["Content-Disposition"].startswith("attachment")
    # Announcements of other areas or other channels are not reachable through this link.
    assert client.get(f"/loa/{token}/{ids['other']}.mp3").status_code == 404
    assert client.get(f"/loa/{token}/{ids['sms_only']}.mp3").status_code == 404


def test_revoked_links_close_everything_and_unknown_ones_are_404(client, setup, app, runner):
    token, ids = setup
    assert client.get("/loa/not-a-token/").status_code == 404
    assert client.get("/loa/not-a-token/feed.xml").status_code == 404
    with app.app_context():
        db = get_db()
        revoke(db, db.get(OperatorLink, ids["link"]))
        db.commit()
    for path in ("/", "/feed.xml", "/announcements.json", f"/{ids['first']}.mp3",
                 f"/bulletin/{local_day(utcnow()).isoformat()}.mp3"):
        response = client.get(f"/loa/{token}{path}")
        assert response.status_code == 410, path
        assert "thu hồi" in response.get_data(as_text=True)


def test_link_use_is_recorded(client, setup, app):
    token, ids = setup
    client.get(f"/loa/{token}/")
    with app.app_context():
        assert get_db().get(OperatorLink, ids["link"]).last_used_at is not None


def test_daily_bulletin_joins_the_days_announcements(client, setup, app):
    token, ids = setup
    today = local_day(utcnow()).isoformat()
    url = f"/loa/{token}/bulletin/{today}.mp3"
    first = client.get(url)
    assert first.status_code == 202 and first.headers["Retry-After"] == "30"
    assert client.get(url).status_code == 202  # asked again before the worker ran: still one job
    drain(app)
    response = client.get(url)
    assert response.status_code == 200 and response.mimetype == "audio/mpeg"
    with app.app_context():
        db = get_db()
        bulletin = db.scalar(select(Bulletin))
        assert bulletin.announcement_ids == [ids["first"], ids["whole"]]  # in the order they were sent
        parts = [db.get(Announcement, i).audio for i in bulletin.announcement_ids]
        path = absolute(bulletin.asset.mp3_path)
        assert response.data == open(path, "rb").read()
        assert bulletin.asset.kind == "bulletin" and bulletin.asset.mp3_bytes == len(response.data)
        # Both announcements carry their own chime (AUDIO_CHIME=1), so none is added: the parts and a pause.
        joined = codec.decode(path).duration
        expected = sum(p.duration_ms for p in parts) / 1000 + 1.5
        assert abs(joined - expected) < 1.5, (joined, expected)
        lufs, peak = ebur128(path)
        assert abs(lufs + 16) <= 1 and peak <= -1.5
        # A new announcement the same day makes the bulletin out of date; it is joined again.
        kp5 = db.scalar(select(Area).where(Area.code == "KP5"))
        _announce(db, "Họp dân", "Tối nay họp dân lúc 19 giờ.", [kp5], ago=dt.timedelta(minutes=5))
        db.commit()
    drain(app)
    assert client.get(url).status_code == 202
    drain(app)
    assert client.get(url).status_code == 200
    with app.app_context():
        assert len(get_db().scalar(select(Bulletin)).announcement_ids) == 3


def test_bulletin_for_a_quiet_day_and_bad_days(client, setup):
    token, _ = setup
    day = (local_day(utcnow()) - dt.timedelta(days=3)).isoformat()
    response = client.get(f"/loa/{token}/bulletin/{day}.mp3")
    assert response.status_code == 404 and "không có thông báo" in response.get_data(as_text=True)
    assert client.get(f"/loa/{token}/bulletin/2020-13-45.mp3").status_code == 404
    assert client.get(f"/loa/{token}/bulletin/2001-01-01.mp3").status_code == 404


def test_cli_makes_lists_and_revokes_links(runner, app, demo):
    result = runner.invoke(args=["loudspeaker", "link", "--area", "TANLOI", "--label", "Loa thôn Tân Lợi"])
    assert result.exit_code == 0, result.output
    assert "https://gw.example.vn/loa/" in result.output and "feed.xml" in result.output
    listing = runner.invoke(args=["loudspeaker", "links"])
    assert "Thôn Tân Lợi\tLoa thôn Tân Lợi\tactive" in listing.output
    with app.app_context():
        link_id = get_db().scalar(select(OperatorLink.id))
    assert runner.invoke(args=["loudspeaker", "revoke", str(link_id)]).exit_code == 0
    assert "revoked" in runner.invoke(args=["loudspeaker", "links"]).output
    bad = runner.invoke(args=["loudspeaker", "link", "--area", "NOPE", "--label", "x"])
    assert bad.exit_code != 0 and "Không có khu vực mã 'NOPE'" in bad.output
    empty = runner.invoke(args=["loudspeaker", "link", "--area", "KP1", "--label", " "])
    assert empty.exit_code != 0


def test_bulletin_cli_requests_the_bulletin(runner, app, setup):
    result = runner.invoke(args=["loudspeaker", "bulletin", "--area", "KP5"])
    assert result.exit_code == 0 and "pending, 2 announcements" in result.output
    drain(app)
    with app.app_context():
        assert get_db().scalar(select(Bulletin)).status == "ready"
        assert get_db().scalar(select(AudioAsset).where(AudioAsset.kind == "bulletin")) is not None


def test_page_shows_local_times_and_bulletins_only_for_days_with_announcements(client, setup, app):
    import re
    from zoneinfo import ZoneInfo

    token, ids = setup
    html = client.get(f"/loa/{token}/").get_data(as_text=True)
    with app.app_context():
        first = get_db().get(Announcement, ids["first"])
        local = first.send_at.astimezone(ZoneInfo("Asia/Ho_Chi_Minh"))
        utc = first.send_at.astimezone(dt.timezone.utc)
    assert local.strftime("%H:%M ngày %d/%m/%Y") in html and " UTC" not in html
    assert utc.strftime("%H:%M") not in html  # the UTC clock would be seven hours off
    with app.app_context():
        days = {local_day(get_db().get(Announcement, ids[k]).send_at) for k in ("first", "whole")}
    links = set(re.findall(r"/bulletin/(\d{4}-\d{2}-\d{2})\.mp3", html))
    assert links == {d.isoformat() for d in days}  # the days the announcements went out, no empty ones


def test_page_without_recent_announcements_has_no_bulletin_links(client, app, demo):
    with app.app_context():
        db = get_db()
        kp2 = db.scalar(select(Area).where(Area.code == "KP2"))
        _, token = create_link(db, area=kp2, label="Loa KP2")
        db.commit()
    html = client.get(f"/loa/{token}/").get_data(as_text=True)
    assert "/bulletin/" not in html and "Không có thông báo nào cho loa trong 7 ngày qua" in html
