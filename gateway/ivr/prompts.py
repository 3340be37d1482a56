"""Every prompt the hotline and the calls say, in one catalogue, and how a call finds its audio.

A prompt is an audio asset: an official's recording where one was uploaded for the commune
(`Area.settings["prompt_recordings"]`, prompt key → asset id), otherwise the text rendered
ahead of time (`flask ivr prompts render`). During a call nothing is synthesized: a webhook
looks up ready assets and plays them; a prompt not rendered yet is spoken by the provider's
own speech (`<Say language="vi-VN">`, SCCO `talk`) and its render is queued.

A commune with extra languages (gateway.languages) may have a recording of each prompt in each
of them: a caller who listens in Thái hears the Thái recording, else the Vietnamese recording,
else the Vietnamese text rendered (those languages have no speech synthesis). Its hotline asks
an unknown caller to choose first: one line per language ("Bấm 2 nghe tiếng Thái"), each line
in its own language's recording when there is one.

Some texts belong to a commune (its greeting names it; its list of areas) and a report number
is read as a whole number ("số mười hai", Vietnamese number words from `audio.numbers`): those
prompts are rendered the first time they are needed and played from then on.
"""
import functools
import logging

from flask import current_app
from sqlalchemy import select

from audio.numbers import cardinal
from gateway import areas, categories, languages
from gateway.media.assets import asset_url, ensure_text_asset, text_spec
from gateway.models import Area, AudioAsset
from gateway.text import nfc

log = logging.getLogger(__name__)

# The key under Area.settings (on the commune) mapping prompt keys to uploaded recordings, and
# the one keeping the text each recording was made for (a text changed since is flagged).
RECORDINGS_SETTING = "prompt_recordings"
RECORDED_TEXTS_SETTING = "prompt_recording_texts"

# The main menu: key → (what gateway.ivr.flow.menu_key does, what the menu prompt says for it).
MAIN_MENU = {
    "1": ("replay", "Muốn nghe lại"),
    "2": ("report", "Muốn phản ánh"),
    "3": ("area", "Muốn chọn khu vực khác"),
    "0": ("duty", "Muốn gặp cán bộ trực"),
}


def menu_key_for(action):
    """The main menu's key for `action` ("report" → "2")."""
    return next(key for key, (name, _) in MAIN_MENU.items() if name == action)


PROMPTS = {
    # The commune's own greeting (greeting_text) replaces this one; it is kept short so that a
    # known caller hears the news begin within six seconds.
    "greeting": "Xin chào bà con.",
    "callback_greeting": "Xin chào bà con. Đây là cuộc gọi lại miễn phí từ đường dây thông tin của xã, phường.",
    "news_intro": "Tin mới.",
    "no_news": "Hiện không có thông báo mới.",
    "menu": " ".join(f"{phrase}, bấm {key}." for key, (_, phrase) in MAIN_MENU.items()),
    "menu_again": "Xin bà con bấm một phím.",
    "wrong_key": "Phím vừa bấm không đúng.",
    "area_unknown_caller": "Số điện thoại của bà con chưa có trong danh sách.",
    "area_ask": "Xin bấm số khu vực của bà con, rồi bấm thăng.",
    "category_menu": categories.menu_text(),
    "record_instructions": "Hãy nói sau tiếng bíp. Nói xong, bấm phím thăng.",
    "record_empty": "Chưa nghe thấy bà con nói gì.",
    "record_review": "Bà con bấm 1 để gửi, bấm 2 để ghi lại.",
    "report_number": "Đã nhận phản ánh của bà con. Số phản ánh là",
    "report_thanks": "Cán bộ sẽ xem và trả lời sớm. Cảm ơn bà con.",
    "duty_connecting": "Đang nối máy tới cán bộ trực, xin chờ.",
    "duty_unavailable": f"Hiện chưa có cán bộ trực. Bà con có thể bấm {menu_key_for('report')} để phản ánh.",
    "duty_no_answer": "Cán bộ trực chưa nghe máy.",
    "confirm": "Đã nghe rõ, bấm 1 để xác nhận. Muốn nghe lại, bấm 2.",
    "confirm_thanks": "Cảm ơn bà con đã xác nhận.",
    "goodbye": "Cảm ơn bà con đã nghe. Xin chào và hẹn gặp lại.",
}


def area_choices(session, commune):
    """The commune's neighbourhoods in keypad order: key "1" is the first (by id), and so on."""
    rows = areas.active_children(session, commune)
    return {str(i): area for i, area in enumerate(rows, start=1)}


def area_picker_key(commune):
    """The prompt key of a commune's area list (each commune has its own)."""
    return f"areas_{commune.id}"


def area_picker_text(session, commune):
    """"Khu phố 1, bấm 1. … Thôn Tân Lợi, bấm 11." for the commune's neighbourhoods."""
    return " ".join(f"{areas.spoken_name(area)}, bấm {key}." for key, area in area_choices(session, commune).items())


def greeting_text(commune):
    """The short greeting naming the commune: "Thị trấn Tân Lập xin chào bà con."."""
    return f"{commune.name} xin chào bà con." if commune is not None else PROMPTS["greeting"]


def commune_texts(session, commune, keys=None):
    """The texts of a commune's own prompts (its greeting, its list of areas) among `keys` (all when None)."""
    if commune is None:
        return {}
    texts = {"greeting": greeting_text(commune)}
    spoken = languages.of_area(commune)
    if len(spoken) > 1:
        texts.update(languages.choice_texts(spoken))
    key = area_picker_key(commune)
    if keys is None or key in keys:
        text = area_picker_text(session, commune)
        if text:
            texts[key] = text
    return texts


def number_key(number):
    """The prompt key reading a report number as a whole number."""
    return f"number_{int(number)}"


def number_texts(number):
    """{number_key: "số mười hai."}: the number in Vietnamese words, not digit by digit."""
    return {number_key(number): f"số {cardinal(int(number))}."}


def catalogue(session, commune=None):
    """Every prompt key → text, with the greeting and area list of `commune` (or of every commune).

    For one commune its texts take the plain keys ("greeting"); for all, each commune's greeting
    is listed as greeting_<id> beside the plain one."""
    texts = dict(PROMPTS)
    if commune is not None:
        return {**texts, **commune_texts(session, commune)}
    for c in session.scalars(select(Area).where(Area.level == "commune").order_by(Area.id)):
        own = commune_texts(session, c)
        texts[f"greeting_{c.id}"] = own.pop("greeting")
        texts.update(own)
    return texts


def recordings_of(commune):
    """The commune's uploaded prompt recordings: key → asset id."""
    return dict(((commune.settings or {}) if commune is not None else {}).get(RECORDINGS_SETTING) or {})


def set_recording(session, commune, key, asset):
    """Make `asset` (an uploaded recording) the commune's audio for prompt `key`."""
    mapping = recordings_of(commune)
    mapping[key] = asset.id
    texts = recorded_texts(session, commune, mapping)
    # A new dict: the JSON column only notices assignment.
    commune.settings = {**(commune.settings or {}), RECORDINGS_SETTING: mapping, RECORDED_TEXTS_SETTING: texts}
    session.commit()


def recorded_texts(session, commune, mapping):
    """The text each recording of `mapping` (key → asset id, about to be saved) is for: a recording
    already mapped keeps the text it was made for, a new one is for the prompt's text now. A
    recording mapped before texts were kept has none (it cannot be told whether it is stale)."""
    before = recordings_of(commune)
    kept = dict((commune.settings or {}).get(RECORDED_TEXTS_SETTING) or {})
    now = catalogue(session, commune)
    out = {}
    for key, asset_id in mapping.items():
        if key in before and str(before[key]) == str(asset_id):
            if key in kept:
                out[key] = kept[key]
        elif key in now:
            out[key] = now[key]
    return out


def changed_since_recorded(session, commune):
    """The commune's prompt recordings whose text changed after they were made: key → (the text
    recorded, the text now). The console flags them so an official records them again."""
    kept = (commune.settings or {}).get(RECORDED_TEXTS_SETTING) or {} if commune is not None else {}
    now = catalogue(session, commune) if kept else {}
    return {key: (text, now[key]) for key, text in kept.items()
            if key in recordings_of(commune) and key in now and nfc(now[key]).strip() != nfc(text).strip()}


def _hash(config, text):
    """The content hash of prompt `text` under the current audio settings (memoized: hashing verbalizes)."""
    keys = ("TTS_ENGINE", "PIPER_MODEL", "AUDIO_LOUDNESS", "AUDIO_TRUE_PEAK")
    return _hash_cached(text, tuple((k, config.get(k)) for k in keys))


@functools.lru_cache(maxsize=4096)
def _hash_cached(text, settings):
    return text_spec(dict(settings), nfc(text).strip(), "prompt").content_hash()


class Playlist:
    """What a call says, in order: ("play", url) for ready audio, ("say", text) for the rest."""

    def __init__(self, items, missing):
        self.items = items
        self.missing = missing  # prompt texts with no ready audio: their render is requested


def resolve(session, keys, *, commune=None, texts=None, language=languages.VI):
    """Ready audio for each prompt key; unrendered ones fall back to their text and get queued.

    Each key is heard from the first ready of: the commune's recording in `language`, its
    Vietnamese recording, the text rendered. `texts` gives the text of keys not in the catalogue
    (a commune's area list). A ready asset never changes its URL (content hash), so the URLs
    found are kept per process: a call in steady state costs no query here, and a prompt
    rendered a moment ago is found at once."""
    config = current_app.config
    known = current_app.extensions.setdefault("gateway.ivr.ready_prompts", {})
    texts = {**PROMPTS, **(texts or {})}
    chain = [recordings_of(commune)]
    if language != languages.VI:
        chain.insert(0, languages.prompt_recordings(commune, language))
    candidates = {key: [*(("id", m[key]) for m in chain if key in m), ("hash", _hash(config, texts[key]))]
                  for key in keys}
    unknown = {w for tried in candidates.values() for w in tried if w not in known}
    if unknown:
        hashes = [v for k, v in unknown if k == "hash"]
        ids = [v for k, v in unknown if k == "id"]
        rows = session.scalars(select(AudioAsset).where(
            AudioAsset.status == "ready", AudioAsset.phone_path.is_not(None),
            AudioAsset.content_hash.in_(hashes) | AudioAsset.id.in_(ids)))
        for asset in rows:
            url = asset_url(asset, "phone")
            known[("hash", asset.content_hash)] = known[("id", asset.id)] = url
    items, missing = [], []
    for key in keys:
        url = next((known[w] for w in candidates[key] if w in known), None)
        if url:
            items.append(("play", url))
        else:
            items.append(("say", texts[key]))
            missing.append(texts[key])
    for text in dict.fromkeys(missing):
        # Creates the pending asset and queues its render (a no-op when it is already queued).
        ensure_text_asset(session, text, kind="prompt")
        log.warning("prompt not rendered yet, spoken by the provider: %.40s", text)
    return Playlist(items, missing)


def status(session, commune=None):
    """(key, text, state, asset) for every prompt: state is recorded, ready, pending, failed or missing."""
    config = current_app.config
    out = []
    for key, text in catalogue(session, commune).items():
        recorded = None
        if commune is not None and key in recordings_of(commune):
            recorded = session.get(AudioAsset, recordings_of(commune)[key])
        if recorded is not None:
            out.append((key, text, "recorded" if recorded.status == "ready" else recorded.status, recorded))
            continue
        asset = session.scalar(select(AudioAsset).where(AudioAsset.content_hash == _hash(config, text)))
        out.append((key, text, asset.status if asset else "missing", asset))
    return out


def render_all(session, commune=None):
    """Create (and queue the render of) every prompt not yet an asset; returns the assets."""
    return [ensure_text_asset(session, text, kind="prompt") for text in catalogue(session, commune).values()]

