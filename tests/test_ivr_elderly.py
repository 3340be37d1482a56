"""A hotline made for elderly callers, each point measured on what is rendered and played, per dialect."""
import re

import pytest
from sqlalchemy import select

from gateway.db import get_db
from gateway.ivr import calls, prompts
from gateway.media.assets import ensure_text_asset, link_areas
from gateway.models import Announcement, Area, AudioAsset, Report
from gateway.queue import drain
from tests.ivr_helpers import (  # noqa: F401  (fixtures)
    DIALECTS, KNOWN, UNKNOWN, Call, hotline, hotline_template, shared_audio, walk,
)

HASH = re.compile(r"/audio/([0-9a-f]{64})\.wav$")


def heard(turn):
    """(url or text, inside a gather) for everything the answer plays, in order."""
    if turn.root is not None:
        out = []
        for verb in turn.root:
            inside = verb.tag == "Gather"
            for v in (list(verb) if inside else [verb]):
                if v.tag in ("Play", "Say"):
                    out.append((v.text, inside))
        return out
    return [(a.get("streamUrl") or a.get("text"), a["bargeIn"]) for a in turn.actions
            if a["action"] in ("stream", "talk")]


def asset_of(db, url):
    match = HASH.search(url or "")
    return db.scalar(select(AudioAsset).where(AudioAsset.content_hash == match.group(1))) if match else None


@pytest.mark.parametrize("dialect", DIALECTS)
def test_a_known_caller_hears_the_news_begin_within_six_seconds(hotline, dialect):
    turn = Call(hotline, hotline.names, dialect=dialect).inbound()
    with hotline.app_context():
        db = get_db()
        ann = db.scalar(select(Announcement))
        news_url = [u for u, _ in heard(turn) if asset_of(db, u) is not None and asset_of(db, u).id == ann.audio_id]
        items = heard(turn)
        before = items[:[u for u, _ in items].index(news_url[0])]
        assets = [asset_of(db, u) for u, _ in before]
        assert all(a is not None and a.status == "ready" for a in assets)  # all rendered audio, timed
        seconds = sum(a.duration_ms for a in assets) / 1000
        assert 0 < seconds <= 6, f"{seconds:.1f} s before the news"
        greeting = assets[0]
        commune = db.scalar(select(Area).where(Area.level == "commune"))
        assert commune.name in greeting.text and len(greeting.text.split()) <= 10  # short, names the commune


@pytest.mark.parametrize("dialect", DIALECTS)
def test_any_key_during_the_news_goes_to_the_menu(hotline, dialect):
    call = Call(hotline, hotline.names, dialect=dialect)
    turn = call.inbound()
    assert all(inside for _, inside in heard(turn))  # greeting, news and menu all inside the gather
    assert turn.tokens[0].startswith("gather:1[") and "play:ann:Tiêm phòng dại" in turn.tokens[0]
    # A key pressed while the news plays is the menu's key: 2 is the report's categories.
    assert call.press("2").tokens == ["gather:1[play:category_menu]"]


def test_the_phone_reads_each_message_once_the_loudspeaker_twice(hotline):
    """mp3 (loudspeaker) = lead + msg + 2 s pause + msg + tail; phone = lead + msg + tail: the difference
    is one reading and the pause, and that reading matches the message rendered on its own."""
    with hotline.app_context():
        db = get_db()
        ann = db.scalar(select(Announcement))
        plain = ensure_text_asset(db, ann.body, kind="prompt")  # the message alone, once, no chime
    drain(hotline, ["audio"])
    with hotline.app_context():
        db = get_db()
        ann = db.scalar(select(Announcement))
        plain = db.get(AudioAsset, plain.id)
        loudspeaker = ann.audio.duration_ms / 1000
        phone = calls.phone_seconds(ann.audio)
        message = plain.duration_ms / 1000 - 0.8  # less its 0.3 s lead-in and 0.5 s tail
        from audio.codec import decode
        from gateway.media import storage

        decoded = decode(storage.absolute(ann.audio.phone_path), rate=8000)
        assert abs(len(decoded.samples) / 8000 - phone) < 0.05  # phone_seconds is the file's length
    assert message > 2
    assert abs((loudspeaker - phone - 2.0) - message) < 0.3, (loudspeaker, phone, message)


def test_compose_warns_when_an_announcement_lasts_over_a_minute_on_the_phone(hotline):
    from tests.console_helpers import login

    sentence = "Bà con khu phố năm chú ý, sáng thứ bảy có tiêm phòng dại cho chó mèo tại nhà văn hóa. "
    with hotline.app_context():
        db = get_db()
        short = db.scalar(select(Announcement)).audio
        long = ensure_text_asset(db, sentence * 16, kind="announcement")
        # As compose's preview does: the asset belongs to the commune it is written for.
        link_areas(db, long, [db.scalar(select(Area).where(Area.level == "commune"))])
    drain(hotline, ["audio"])
    with hotline.app_context():
        db = get_db()
        long, short = db.get(AudioAsset, long.id), db.get(AudioAsset, short.id)
        assert calls.phone_seconds(long) > 60 > calls.phone_seconds(short)
        assert "phút" in calls.phone_warning(long) and calls.phone_warning(short) is None
    client = hotline.test_client()
    login(client)
    shown = client.get(f"/console/audio/{long.id}").get_json()
    assert shown["phone_warning"] == calls_warning(hotline, long.id)
    assert client.get(f"/console/audio/{short.id}").get_json()["phone_warning"] is None
    page = client.get("/console/announcements/new")
    assert page.status_code == 200 and b'id="phone-warning"' in page.data


def calls_warning(app, asset_id):
    with app.app_context():
        return calls.phone_warning(get_db().get(AudioAsset, asset_id))


@pytest.mark.parametrize("dialect", DIALECTS)
def test_an_unknown_caller_keys_the_number_then_hash_and_hears_the_list_only_after_a_silence(hotline, dialect):
    call = Call(hotline, hotline.names, caller=UNKNOWN, dialect=dialect)
    turn = call.inbound()
    gather = turn.find("Gather")
    if dialect == "twiml":
        assert (gather.get("finishOnKey"), gather.get("numDigits")) == ("#", "2")
    else:
        assert (gather["submitOnHash"], gather["maxDigits"]) == (True, 2)
    assert "play:areas" not in turn.tokens[0]
    listed = call.silence()
    assert listed.tokens == ["gather:2[play:area_ask, play:areas]"]
    with hotline.app_context():
        text = prompts.area_picker_text(get_db(), get_db().scalar(select(Area).where(Area.level == "commune")))
    assert text.startswith("Khu phố 1, bấm 1.") and "Khu phố 5, bấm 5." in text
    assert call.press("5").tokens[0].startswith("gather:1[play:news_intro, play:ann:")


@pytest.mark.parametrize("dialect", DIALECTS)
def test_after_a_recording_the_caller_chooses_to_send_or_record_again(hotline, dialect):
    call = Call(hotline, hotline.names, dialect=dialect)
    walk(call, [("inbound", None, ["gather:1[play:greeting, play:news_intro, play:ann:Tiêm phòng dại, play:menu]"]),
                ("press", "2", ["gather:1[play:category_menu]"]),
                ("press", "1", ["play:record_instructions", "record"])])
    turn = call.recorded()
    [(url, inside)] = heard(turn)
    with hotline.app_context():
        db = get_db()
        review = asset_of(db, url)
        assert "bấm 1 để gửi, bấm 2 để ghi lại" in review.text.lower() and inside
        assert list(db.scalars(select(Report))) == []  # not filed before the caller chose
