"""Minority languages on the phone, the loudspeakers, coverage and compose (issue 20 point 5).

The demo commune adds Thái Đen (blt, key 2) and Mường (mtq, key 3). Thái has the official's
recordings of a few prompts and of the announcement; Mường has none, so its listeners hear the
Vietnamese audio. Real espeak-ng and ffmpeg render everything through the RQ audio queue."""
import datetime as dt
import io
import shutil
import xml.etree.ElementTree as ET

import pytest
import redis
from sqlalchemy import select

from gateway import languages
from gateway.areas import settings
from gateway.broadcast import coverage
from gateway.db import get_db
from gateway.ivr import calls, prompts
from gateway.ivr.calls import queue_call
from gateway.loudspeaker.links import create_link
from gateway.media.assets import asset_url, request_announcement_audio, store_upload
from gateway.models import Announcement, AudioAsset, Delivery, Resident
from gateway.queue import drain
from tests.audio_helpers import speech_wav
from tests.console_helpers import login, post
from tests.ivr_helpers import (  # noqa: F401  (fixtures)
    DIALECTS, KNOWN, UNKNOWN, Call, Turn, area, build_hotline, hotline, hotline_template, shared_audio, stringee_get, walk,
)

THAI = "+84912345601"  # a Thái household in Khu phố 5
MUONG = "+84912345602"  # a Mường household in Khu phố 5 (no Mường recordings exist)
# The Thái recordings: prompt key → what the official said (any words do: the tests follow the files).
THAI_PROMPTS = {"greeting": "Khửn xa bản Tân Lập.", "area_ask": "Bấm số bản mình rồi bấm thăng.",
                "language_blt": "Bấm hai fang pák Tay."}


def upload(db, text, kind="recording"):
    return store_upload(db, f"{kind}-{abs(hash(text))}.wav", speech_wav(text), kind=kind)


def add_languages(app, db):
    """Thái and Mường for the demo commune, Thái recordings of three prompts and of the announcement,
    a Thái and a Mường household; everything rendered."""
    commune = area(db, "TANLAP")
    settings.apply(db, commune, {"languages": "blt, mtq"})
    db.commit()
    for key, text in THAI_PROMPTS.items():
        languages.set_prompt_recording(db, commune, "blt", key, upload(db, text, kind="prompt"))
    team = area(db, "KP5").children[0]
    db.add_all([Resident(phone=THAI, name="Lò Văn Pọm", area_id=team.id, language="blt", prefers_voice=True,
                         consent_source="test"),
                Resident(phone=MUONG, name="Hà Thị Mai", area_id=team.id, language="mtq", prefers_voice=True,
                         consent_source="test")])
    ann = db.scalar(select(Announcement))
    ann.channels = sorted({*ann.channels, "voice", "loudspeaker"})
    languages.set_recording(db, ann, "blt", upload(db, "Thông báo tiêm phòng dại, đọc bằng tiếng Thái."))
    db.commit()
    prompts.render_all(db)  # the language choice's Vietnamese lines
    request_announcement_audio(db, ann)
    drain(app, ["audio"])


@pytest.fixture(scope="session")
def langs_template(tmp_path_factory, hotline_template, redis_url, shared_audio):
    """The hotline's template with the languages added, built once and copied per test."""
    from gateway import create_app
    from tests.conftest import base_config

    folder = tmp_path_factory.mktemp("langs-template")
    path = folder / "langs.sqlite"
    shutil.copy(hotline_template, path)
    app = create_app(base_config(folder, DATABASE_URL=f"sqlite:///{path}", REDIS_URL=redis_url,
                                 AUDIO_DIR=str(shared_audio)))
    redis.Redis.from_url(redis_url).flushdb()
    with app.app_context():
        add_languages(app, get_db())
    app.extensions["gateway.engine"].dispose()
    return path


@pytest.fixture
def langs(make_app, tmp_path, langs_template, redis_url, shared_audio):
    """The hotline with Thái and Mường (add_languages); `app.names` knows the Thái files as "<key>@blt"."""
    app = build_hotline(make_app, redis_url, shared_audio, db_path=tmp_path / "gateway.sqlite",
                        template=langs_template, filled=True)
    with app.app_context():
        db = get_db()
        for key, asset_id in languages.prompt_recordings(area(db, "TANLAP"), "blt").items():
            app.names.urls[asset_url(db.get(AudioAsset, asset_id), "phone")] = f"{key}@blt"
        ann = db.scalar(select(Announcement))
        row = languages.recordings(db, ann)["blt"]
        assert row.audio is not None and row.audio.status == "ready", row.audio and row.audio.error
        app.names.urls[asset_url(row.audio, "phone")] = f"ann:{ann.title}@blt"
    return app


NEWS = "play:news_intro, play:ann:Tiêm phòng dại"
THAI_NEWS = "play:news_intro, play:ann:Tiêm phòng dại@blt"
CHOICE = "play:language_vi, play:language_blt@blt, play:language_mtq"
PICKER_VI = ["gather:2[play:area_unknown_caller, play:area_ask]"]
PICKER_BLT = ["gather:2[play:area_unknown_caller, play:area_ask@blt]"]

# (name, caller, steps): each step is (action, argument, the tokens expected back).
LANGUAGE_WALKS = [
    ("unknown caller is asked the language first; 2 is Thái", UNKNOWN, [
        ("inbound", None, [f"gather:1[play:greeting, {CHOICE}]"]),
        ("press", "2", PICKER_BLT),
        ("press", "5", [f"gather:1[{THAI_NEWS}, play:menu]"]),
        ("press", "1", [f"gather:1[{THAI_NEWS}, play:menu]"]),  # the language stays with the call
    ]),
    ("unknown caller keys 1: Vietnamese as before", UNKNOWN, [
        ("inbound", None, [f"gather:1[play:greeting, {CHOICE}]"]),
        ("press", "1", PICKER_VI),
        ("press", "5", [f"gather:1[{NEWS}, play:menu]"]),
    ]),
    ("unknown caller keys 3: Mường has no recordings, so Vietnamese audio", UNKNOWN, [
        ("inbound", None, [f"gather:1[play:greeting, {CHOICE}]"]),
        ("press", "3", PICKER_VI),
        ("press", "5", [f"gather:1[{NEWS}, play:menu]"]),
    ]),
    ("silence repeats the choice once, then Vietnamese", UNKNOWN, [
        ("inbound", None, [f"gather:1[play:greeting, {CHOICE}]"]),
        ("silence", None, [f"gather:1[play:menu_again, {CHOICE}]"]),
        ("silence", None, PICKER_VI),
    ]),
    ("a wrong key repeats the choice once", UNKNOWN, [
        ("inbound", None, [f"gather:1[play:greeting, {CHOICE}]"]),
        ("press", "9", [f"gather:1[play:wrong_key, {CHOICE}]"]),
        ("press", "2", PICKER_BLT),
    ]),
    ("a known Thái household hears Thái at once, no choice", THAI, [
        ("inbound", None, [f"gather:1[play:greeting@blt, {THAI_NEWS}, play:menu]"]),
        ("press", "3", ["gather:2[play:area_ask@blt]"]),
        ("press", "5", [f"gather:1[{THAI_NEWS}, play:menu]"]),
    ]),
    ("a known Thái household reporting: Vietnamese prompts where Thái has none", THAI, [
        ("inbound", None, [f"gather:1[play:greeting@blt, {THAI_NEWS}, play:menu]"]),
        ("press", "2", ["gather:1[play:category_menu]"]),
        ("press", "3", ["play:record_instructions", "record"]),
    ]),
    ("a known Mường household: Vietnamese audio, no choice", MUONG, [
        ("inbound", None, [f"gather:1[play:greeting, {NEWS}, play:menu]"]),
    ]),
    ("a known Vietnamese household: as before", KNOWN, [
        ("inbound", None, [f"gather:1[play:greeting, {NEWS}, play:menu]"]),
    ]),
]


@pytest.mark.parametrize("dialect", DIALECTS)
@pytest.mark.parametrize("name, caller, steps", LANGUAGE_WALKS, ids=[w[0] for w in LANGUAGE_WALKS])
def test_hotline_language_walks(langs, name, caller, steps, dialect):
    walk(Call(langs, langs.names, caller=caller, dialect=dialect), steps)


def test_a_commune_with_vietnamese_only_asks_nothing(hotline):
    """The hotline's own walks (tests/test_ivr_hotline.py) cover it in full; here the one difference."""
    turn = Call(hotline, hotline.names, caller=UNKNOWN).inbound()
    assert turn.tokens == ["gather:2[play:greeting, play:area_unknown_caller, play:area_ask]"]


@pytest.mark.parametrize("lang, heard", [("blt", THAI_NEWS), ("xyz", NEWS), ("", NEWS), ("b<l>t", NEWS),
                                         ("vi" * 40, NEWS)])
def test_the_language_in_a_step_url_is_checked(langs, lang, heard):
    """The state comes back in the provider's request: a code the commune never recorded is heard in
    Vietnamese, anything else that is no code is ignored; never a 500."""
    from tests.ivr_helpers import local

    call = Call(langs, langs.names, caller=UNKNOWN)
    call.inbound()
    call.press("2")
    url = local(call.last.next_url("Gather")).replace("lang=blt", f"lang={lang}")
    assert call.post(url, Digits="5").tokens == [f"gather:1[{heard}, play:menu]"]


# (language, prompt key, what is heard): the language's recording, else the Vietnamese recording,
# else the Vietnamese text rendered. "menu" has a Vietnamese recording in this test.
FALLBACK_CASES = [
    ("vi", "greeting", "greeting"),
    ("blt", "greeting", "greeting@blt"),
    ("mtq", "greeting", "greeting"),
    ("vi", "menu", "menu@vi"),
    ("blt", "menu", "menu@vi"),
    ("mtq", "menu", "menu@vi"),
    ("blt", "area_ask", "area_ask@blt"),
    ("blt", "goodbye", "goodbye"),  # its Thái recording is not rendered yet
    ("blt", "news_intro", "news_intro"),
    ("xyz", "greeting", "greeting"),  # not a language of the commune
]


def test_prompt_fallback_per_language(langs):
    with langs.app_context():
        db = get_db()
        commune = area(db, "TANLAP")
        menu = upload(db, "Muốn nghe lại bấm một, đây là giọng chủ tịch xã.", kind="prompt")
        prompts.set_recording(db, commune, "menu", menu)
        drain(langs, ["audio"])
        db.refresh(menu)
        langs.names.urls[asset_url(menu, "phone")] = "menu@vi"
        pending = AudioAsset(kind="prompt", content_hash="pending-thai-goodbye", original_path="x.wav",
                             status="pending")
        db.add(pending)
        db.commit()
        languages.set_prompt_recording(db, commune, "blt", "goodbye", pending)
        heard = []
        for code, key, _ in FALLBACK_CASES:
            kind, value = prompts.resolve(db, [key], commune=area(db, "TANLAP"), language=code).items[0]
            assert kind == "play", (code, key)
            heard.append((code, key, langs.names.urls.get(value, value)))
    assert heard == FALLBACK_CASES


# --- outbound calls -------------------------------------------------------------------------

# (household, what the call plays before "press 1")
OUTBOUND_CASES = [
    (THAI, "play:ann:Tiêm phòng dại@blt"),
    (MUONG, "play:ann:Tiêm phòng dại"),
    (KNOWN, "play:ann:Tiêm phòng dại"),
]


@pytest.mark.parametrize("dialect", DIALECTS)
def test_outbound_calls_play_the_households_language(langs, dialect):
    heard = []
    for phone, _ in OUTBOUND_CASES:
        with langs.app_context():
            db = get_db()
            resident = db.scalar(select(Resident).where(Resident.phone == phone))
            ann = db.scalar(select(Announcement))
            delivery = queue_call(db, phone=phone, key=f"ann:{ann.id}:res:{resident.id}:voice:{dialect}",
                                  announcement_id=ann.id, resident_id=resident.id, area_id=resident.area_id)
            db.commit()
            delivery_id = delivery.id
            assert calls.audio_ready(db, delivery)
        call = Call(langs, langs.names, caller=phone, sid=f"CA{delivery_id:032d}", direction="outbound-api",
                    dialect=dialect)
        if dialect == "twiml":
            turn = call.post(f"/ivr/outbound?delivery={delivery_id}", AnsweredBy="human")
        else:
            params = {"step": "outbound", "delivery": str(delivery_id), "from": "842633822123",
                      "to": phone.lstrip("+"), "uuid": call.sid, "fromInternal": "false"}
            turn = Turn(stringee_get(call.client, "/ivr/stringee/answer", params), langs.names, dialect)
        heard.append((phone, turn.tokens[0].split("[")[1].split(",")[0]))
    assert heard == OUTBOUND_CASES


def test_an_outbound_call_waits_for_the_households_recording_to_render(langs):
    with langs.app_context():
        db = get_db()
        ann = db.scalar(select(Announcement))
        thai = db.scalar(select(Resident).where(Resident.phone == THAI))
        known = db.scalar(select(Resident).where(Resident.phone == KNOWN))
        languages.set_recording(db, ann, "blt", upload(db, "Bản ghi tiếng Thái mới, chưa làm xong."))
        db.commit()
        waiting = queue_call(db, phone=THAI, key="wait-thai", announcement_id=ann.id, resident_id=thai.id,
                             area_id=thai.area_id)
        other = queue_call(db, phone=KNOWN, key="wait-vi", announcement_id=ann.id, resident_id=known.id,
                           area_id=known.area_id)
        db.commit()
        assert (calls.audio_ready(db, waiting), calls.audio_ready(db, other)) == (False, True)
        request_announcement_audio(db, ann)
    drain(langs, ["audio"])
    with langs.app_context():
        db = get_db()
        assert calls.audio_ready(db, db.get(Delivery, waiting.id))


# --- loudspeakers ---------------------------------------------------------------------------

def test_loudspeaker_feed_and_page_per_language(langs):
    with langs.app_context():
        db = get_db()
        _, token = create_link(db, area=area(db, "KP5"), label="Ông Ba – loa khu phố 5")
        db.commit()
        ann = db.scalar(select(Announcement))
        vi_hash = ann.audio.content_hash
        thai_hash = languages.recordings(db, ann)["blt"].audio.content_hash
    client = langs.test_client()
    # (lang, the feed's language element, the item's audio)
    cases = [("", "vi", vi_hash), ("?lang=blt", "blt", thai_hash), ("?lang=mtq", "mtq", vi_hash)]
    for query, code, digest in cases:
        resp = client.get(f"/loa/{token}/feed.xml{query}")
        assert resp.status_code == 200, query
        channel = ET.fromstring(resp.data).find("channel")
        assert channel.findtext("language") == code
        item = channel.find("item")
        assert item.findtext("guid").endswith(digest[:16]), query
        mp3 = client.get(item.find("enclosure").get("url").replace("https://gw.example.vn", ""))
        assert mp3.status_code == 200 and mp3.data[:3] in (b"ID3", b"\xff\xfb", b"\xff\xf3"), query
    assert client.get(f"/loa/{token}/feed.xml?lang=bru").status_code == 404  # not a language of this commune
    assert client.get(f"/loa/{token}/{ann.id}.mp3?lang=xx<").status_code == 404
    listing = client.get(f"/loa/{token}/announcements.json").get_json()
    assert list(listing["announcements"][0]["languages"]) == ["Tiếng Thái (Thái Đen)"]
    page = client.get(f"/loa/{token}/").get_data(as_text=True)
    assert "Tiếng Thái (Thái Đen):" in page and "lang=blt" in page
    assert "Phát bằng Tiếng Mường" in page  # a feed per language, Vietnamese where none was recorded
    thai = client.get(f"/loa/{token}/{ann.id}.mp3?lang=blt&download=1")
    assert thai.status_code == 200 and f"thong-bao-{ann.id}-blt.mp3" in thai.headers["Content-Disposition"]


# --- coverage -------------------------------------------------------------------------------

def test_coverage_per_language(langs):
    """Every household of the announcement's areas counts, with its language; Mường shows as unrecorded."""
    with langs.app_context():
        db = get_db()
        ann = db.scalar(select(Announcement))
        phones = {THAI: "confirmed", MUONG: "no_answer", KNOWN: "answered"}
        for phone, status in phones.items():
            resident = db.scalar(select(Resident).where(Resident.phone == phone))
            db.add(Delivery(idempotency_key=f"cov:{phone}", announcement_id=ann.id, resident_id=resident.id,
                            area_id=resident.area_id, phone=phone, channel="voice", status=status,
                            confirmed_at=dt.datetime.now(dt.timezone.utc) if status == "confirmed" else None))
        db.commit()
        rows = {r["language"]: r for r in coverage.by_language(db, ann)}
        vi_households = sum(1 for r in db.scalars(select(Resident)) if r.language == "vi"
                            and r.area_id in set(area(db, "KP5").descendant_ids(db)) and r.opted_out_at is None)
    assert list(rows) == ["vi", "blt", "mtq"]
    assert [(rows[c]["name"], rows[c]["recorded"]) for c in rows] == [
        ("Tiếng Việt", True), ("Tiếng Thái (Thái Đen)", True), ("Tiếng Mường", False)]
    assert {c: (r["targeted"], r["reached"], r["confirmed"], r["failed"]) for c, r in rows.items()} == {
        "vi": (rows["vi"]["targeted"], 1, 0, 0), "blt": (1, 1, 1, 0), "mtq": (1, 0, 0, 1)}
    assert rows["vi"]["targeted"] == rows["vi"]["reached"] + rows["vi"]["not_sent"] + rows["vi"]["in_progress"]
    assert rows["vi"]["targeted"] >= 1 and rows["vi"]["targeted"] <= vi_households


def test_coverage_per_language_in_the_api_and_the_cli(langs):
    from gateway.auth import issue_token
    from gateway.models import Official

    with langs.app_context():
        db = get_db()
        ann_id = db.scalar(select(Announcement)).id
        token = issue_token(db, db.scalar(select(Official).where(Official.login == "admin")))
        db.commit()
    got = langs.test_client().get(f"/api/announcements/{ann_id}/coverage",
                                  headers={"Authorization": f"Bearer {token}"}).get_json()
    assert [(r["language"], r["recorded"]) for r in got["languages"]] == [("vi", True), ("blt", True), ("mtq", False)]
    out = langs.test_cli_runner().invoke(args=["announcements", "coverage", str(ann_id)]).output
    lines = [line.split()[:2] for line in out.splitlines() if line.startswith("language ")]
    assert lines == [["language", "vi"], ["language", "blt"], ["language", "mtq"]]
    assert "no recording: heard in Vietnamese" in [line for line in out.splitlines() if " mtq " in line][0]


def test_dashboard_shows_coverage_per_language(langs):
    client = langs.test_client()
    login(client)
    with langs.app_context():
        ann_id = get_db().scalar(select(Announcement)).id
    page = client.get(f"/console/?announcement={ann_id}").get_data(as_text=True)
    assert 'id="coverage-languages"' in page
    assert "Tiếng Thái (Thái Đen)" in page and "Chưa có bản ghi: Tiếng Mường" in page


# --- compose --------------------------------------------------------------------------------

def test_compose_lists_the_languages_still_missing_a_recording(langs):
    client = langs.test_client()
    token = login(client)
    page = client.get("/console/announcements/new").get_data(as_text=True)
    assert "Chưa có bản ghi: Tiếng Thái (Thái Đen), Tiếng Mường" in page
    assert 'name="recording_blt"' in page and 'name="recording_mtq"' in page
    upload_resp = post(client, "/console/audio/upload", token,
                       {"file": (io.BytesIO(speech_wav("Thông báo họp bản, tiếng Thái.")), "thai.wav")},
                       content_type="multipart/form-data")
    assert upload_resp.status_code == 200, upload_resp.get_data(as_text=True)
    thai_id = upload_resp.get_json()["id"]
    with langs.app_context():
        kp5 = area(get_db(), "KP5").id
    form = {"title": "Họp bản", "body": "Tối thứ sáu họp bản tại nhà văn hóa.", "areas": str(kp5),
            "audiences": "everyone", "channels": "hotline", "priority": "normal", "send_at": "",
            "recording_blt": str(thai_id), "recording_mtq": "999999"}
    # An unknown recording is refused with the language named; the form keeps the Thái one.
    refused = post(client, "/console/announcements", token, form)
    assert refused.status_code == 400
    text = refused.get_data(as_text=True)
    assert "Bản ghi Tiếng Mường không dùng được" in text
    assert "Chưa có bản ghi: Tiếng Mường" in text and f'value="{thai_id}"' in text
    form["recording_mtq"] = ""
    created = post(client, "/console/announcements", token, form)
    assert created.status_code == 302, created.get_data(as_text=True)
    shown = client.get(created.headers["Location"]).get_data(as_text=True)
    assert "Chưa có bản ghi: Tiếng Mường" in shown
    with langs.app_context():
        db = get_db()
        ann = db.scalar(select(Announcement).where(Announcement.title == "Họp bản"))
        assert {c: r.recording_id for c, r in languages.recordings(db, ann).items()} == {"blt": thai_id}
        assert languages.missing(db, ann, languages.of_area(ann.areas[0])) == {"mtq": "Tiếng Mường"}


def test_cli_records_a_prompt_in_a_language_and_lists_them(langs, tmp_path):
    path = tmp_path / "menu-muong.wav"
    path.write_bytes(speech_wav("Muốn nghe lại bấm một, nói bằng tiếng Mường."))
    runner = langs.test_cli_runner()
    refused = runner.invoke(args=["ivr", "record-prompt", "menu", str(path), "--commune", "TANLAP", "--language", "bru"])
    assert refused.exit_code != 0 and "has no language 'bru'" in refused.output
    done = runner.invoke(args=["ivr", "record-prompt", "menu", str(path), "--commune", "TANLAP", "--language", "Mường"])
    assert done.exit_code == 0, done.output
    with langs.app_context():
        db = get_db()
        assert list(languages.prompt_recordings(area(db, "TANLAP"), "mtq")) == ["menu"]
        assert "menu" not in prompts.recordings_of(area(db, "TANLAP"))
    listing = runner.invoke(args=["ivr", "prompts", "--commune", "TANLAP"]).output
    assert "Tiếng Thái (Thái Đen) (blt): 3 recorded: area_ask, greeting, language_blt" in listing
    assert "Tiếng Mường (mtq): 1 recorded: menu" in listing
    assert any(line.split()[:1] == ["language_mtq"] for line in listing.splitlines())
