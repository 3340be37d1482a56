"""The languages households listen in: Vietnamese, and the minority languages a commune adds.

Codes are ISO 639-3 (checked against Debian's iso-codes list): Thái Đen `blt` (Tai Dam), Thái
Trắng `twh` (Tai Dón), Mường `mtq`, Bru-Vân Kiều `bru` (Eastern Bru), Chứt `scb`, Tày `tyz`,
Nùng `nut`, Khmer `khm`, Chăm `cjm`, H'Mông `hnj`, Dao `ium`, Gia Rai `jra`, Ê Đê `rad`.
These languages have no speech synthesis: they are heard only in officials' recordings, and
Vietnamese (recorded or synthesized) fills in wherever a recording is missing.

A commune lists its extra languages in `Area.settings["languages"]` (code → Vietnamese name),
in the keypad order of the hotline's choice; Vietnamese is always first (key 1). Its prompt
recordings per extra language are in `Area.settings["language_prompts"]` (code → prompt key →
asset id); the Vietnamese ones stay in "prompt_recordings" (gateway.ivr.prompts).
"""
import re

from sqlalchemy import select

from gateway.models import AnnouncementLanguage
from gateway.text import fold, nfc

VI = "vi"
VI_NAME = "Tiếng Việt"
SETTING = "languages"
PROMPTS_SETTING = "language_prompts"
KNOWN = {
    "blt": "Tiếng Thái (Thái Đen)", "twh": "Tiếng Thái (Thái Trắng)", "mtq": "Tiếng Mường",
    "bru": "Tiếng Bru-Vân Kiều", "scb": "Tiếng Chứt", "tyz": "Tiếng Tày", "nut": "Tiếng Nùng", "khm": "Tiếng Khmer",
    "cjm": "Tiếng Chăm", "hnj": "Tiếng H'Mông", "ium": "Tiếng Dao", "jra": "Tiếng Gia Rai", "rad": "Tiếng Ê Đê",
}
# A keypad choice has one digit, and Vietnamese takes 1.
MAX_EXTRA = 8
_CODE = re.compile(r"[a-z]{2,3}")


def of_area(area):
    """{code: name} of the languages households of `area` listen in (its commune's, else its province's),
    Vietnamese first."""
    extra = (area.inherited(SETTING) if area is not None else None) or {}
    return {VI: VI_NAME, **{code: name for code, name in extra.items() if code != VI}}


def name_of(code, available=None):
    """The Vietnamese name of a language code."""
    return (available or {}).get(code) or (VI_NAME if code == VI else KNOWN.get(code, code))


def _key(text):
    """A language name folded for matching: "Tiếng Thái", "thai" and "THÁI" are one key."""
    key = fold(text)
    return key[len("tieng "):] if key.startswith("tieng ") else key


def find(text, available):
    """The code among `available` ({code: name}) that `text` names: a code, or a name with or without "tiếng"."""
    key = _key(text)
    if not key:
        return None
    for code, name in available.items():
        short = _key(name.split("(")[0])
        if key in (code, _key(name), short) or key == _key(name.split("(")[-1].rstrip(")")):
            return code
    return None


def parse(text, available):
    """What a household list or a form says (a code or a name; empty: Vietnamese) → a code of `available`.

    ValueError with a reason an official can act on."""
    if not (text or "").strip():
        return VI
    code = find(text, available)
    if code is None:
        raise ValueError(f"Ngôn ngữ '{nfc(text).strip()}' chưa có ở xã này; xã đang có: "
                         f"{', '.join(available.values())}. Thêm ngôn ngữ trong Cài đặt của xã.")
    return code


def parse_setting(text):
    """The settings field ("blt, mtq", "Mường; Chứt", "xyz=Tiếng Xinh Mun") → {code: name}; ValueError says why not."""
    out = {}
    for part in [p.strip() for p in re.split(r"[,;\n]", nfc(text or "")) if p.strip()]:
        code, _, name = part.partition("=")
        code, name = code.strip(), name.strip()
        if not name:
            code = find(code, KNOWN) or code.lower()
        code = code.lower()
        if not _CODE.fullmatch(code):
            raise ValueError(f"'{part}' không phải ngôn ngữ đã biết; viết mã ISO 639-3 (ví dụ blt, mtq, bru, scb) "
                             f"hoặc mã=tên (ví dụ xyz=Tiếng Xinh Mun).")
        if code == VI:
            continue  # Vietnamese is always there
        if not name and code not in KNOWN:
            raise ValueError(f"Chưa biết tên của mã '{code}'; viết {code}=Tiếng …")
        out[code] = name or KNOWN[code]
    if len(out) > MAX_EXTRA:
        raise ValueError(f"Nhiều nhất {MAX_EXTRA} ngôn ngữ ngoài tiếng Việt (mỗi tiếng một phím trên tổng đài).")
    return out


def setting_text(mapping):
    """{code: name} as the settings field shows it (what parse_setting reads back)."""
    return ", ".join(code if KNOWN.get(code) == name else f"{code}={name}" for code, name in (mapping or {}).items())


# --- the hotline's choice -------------------------------------------------------------------

def choice_keys(available):
    """{"1": "vi", "2": "blt", …}: the keypad of the hotline's language choice."""
    return {str(i): code for i, code in enumerate(available, start=1)}


def choice_prompt_key(code):
    """The prompt key of one line of the language choice ("Bấm 2 nghe tiếng Thái"), recorded in that language."""
    return f"language_{code}"


def choice_texts(available):
    """{prompt key: "Bấm 2 nghe tiếng Thái (Thái Đen)."}: the Vietnamese text of each line of the choice."""
    out = {}
    for key, code in choice_keys(available).items():
        name = available[code]
        out[choice_prompt_key(code)] = f"Bấm {key} nghe {name[:1].lower()}{name[1:]}."
    return out


def prompt_recordings(commune, code):
    """The commune's prompt recordings in the extra language `code`: prompt key → asset id.

    (The Vietnamese ones are `gateway.ivr.prompts.recordings_of`.)"""
    settings = (commune.settings or {}) if commune is not None else {}
    return dict((settings.get(PROMPTS_SETTING) or {}).get(code) or {})


def set_prompt_recording(session, commune, code, key, asset):
    """Make `asset` the commune's recording of prompt `key` in the extra language `code`."""
    settings = dict(commune.settings or {})
    per_language = {c: dict(m) for c, m in (settings.get(PROMPTS_SETTING) or {}).items()}
    per_language.setdefault(code, {})[key] = asset.id
    settings[PROMPTS_SETTING] = per_language
    commune.settings = settings  # a new dict: the JSON column only notices assignment
    session.commit()


# --- announcements --------------------------------------------------------------------------

def recordings(session, announcement):
    """{code: AnnouncementLanguage} of an announcement's recordings in extra languages."""
    if announcement.id is None:
        return {}
    rows = session.scalars(select(AnnouncementLanguage).where(AnnouncementLanguage.announcement_id == announcement.id))
    return {row.language: row for row in rows}


def set_recording(session, announcement, code, recording):
    """Attach an official's recording in language `code` (not Vietnamese) to an announcement; flushes."""
    if code == VI:
        raise ValueError("Vietnamese is the announcement's own recording (Announcement.recording)")
    row = recordings(session, announcement).get(code)
    if row is None:
        row = AnnouncementLanguage(announcement_id=announcement.id, language=code)
        session.add(row)
    if row.recording_id != recording.id:
        row.recording_id, row.audio_id = recording.id, None
    session.flush()
    return row


def audio(session, announcement, code):
    """(asset, language heard): the announcement's ready rendition in `code`, else its Vietnamese one."""
    if code != VI:
        row = recordings(session, announcement).get(code)
        if row is not None and _ready(row.audio):
            return row.audio, code
    return announcement.audio, VI


def _ready(asset):
    return asset is not None and asset.status == "ready" and bool(asset.phone_path or asset.mp3_path)


def missing(session, announcement_or_codes, available):
    """{code: name} of the extra languages among `available` with no recording yet, in the commune's order.

    Takes an announcement, or the codes that have a recording (compose, before the announcement exists)."""
    if isinstance(announcement_or_codes, (set, frozenset, list, tuple, dict)):
        have = set(announcement_or_codes)
    else:
        have = {code for code, row in recordings(session, announcement_or_codes).items() if row.recording_id}
    return {code: name for code, name in available.items() if code != VI and code not in have}
