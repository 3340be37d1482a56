"""What a resident's text asks for: `parse(text) -> Command(intent, args)`.

Commands are matched on the folded text (no case, diacritics, punctuation or extra spaces)
and forgive the slips of people typing on a keypad: a letter from the same key (multi-tap:
"ek" for "dk"), i for y, and in longer words one letter missing, doubled or swapped.
A command word only counts as a command when the message is the command: "TIN" is the news,
"Tin bao co trom" is a report. Opt-outs and confirmations are also recognized as the short
sentences people write ("ngừng nhận tin", "không nhận nữa ạ", "đã nhận được rồi, cảm ơn"): the
sentence without its courtesy words ("ạ", "nhé", "rồi", "cảm ơn …") must be the whole phrase,
so "không nhận được tiền hỗ trợ" and "ok nhưng đường bị ngập" stay reports.
Anything that is not a command is a report.

Intents and args:
    subscribe    {"area": text after the keyword, as written ("" when none)}
    news         {"area": an area named after TIN, or ""}
    report       {"text": the report as written (after "PA"/"phản ánh" when given), "keyword": bool}
    unsubscribe  {"word": the keyword, "area": an area named after it ("HUY DK KP5"), or ""}
    help         {"empty": True when the message was empty}
    confirm      {}
"""
import re
from dataclasses import dataclass, field

from gateway.categories import BY_CODE, DEFAULT, GUESS_ORDER
from gateway.text import fold, nfc

INTENTS = ("subscribe", "news", "report", "unsubscribe", "help", "confirm")

# Each keyword written without spaces, folded.
SUBSCRIBE = ("dk", "dky", "dangky", "dangki", "start", "unstop", "batdau", "dangkylai")
NEWS = ("tin", "tinmoi", "tinmoinhat", "tintuc", "xemtin", "xemtinmoi", "xemtinmoinhat", "thongbao",
        "thongbaomoi", "thongbaomoinhat", "news")
REPORT = ("pa", "phananh", "baocao", "baotin", "report")
# Vietnamese words and the opt-out words carriers require (Twilio's default list).
UNSUBSCRIBE = ("huy", "huydk", "huydangky", "huytin", "dung", "dungnhan", "tuchoi", "ngung", "ngungnhan",
               "stop", "stopall", "unsubscribe", "cancel", "end", "quit", "revoke", "optout")
# Opt-outs people write as a sentence (folded, without spaces); matched exactly, never as slips.
UNSUBSCRIBE_PHRASES = (
    "ngungnhantin", "ngungnhanthongbao", "ngungnhantinnhan", "dungnhantin", "dungnhanthongbao", "huynhantin",
    "tuchoinhantin", "khongnhannua", "khongnhantinnua", "khongnhanthongbaonua", "khongmuonnhantin",
    "khongmuonnhannua", "khongmuonnhantinnua", "thoinhantin", "thoikhongnhan", "thoikhongnhannua",
    "thoikhongnhantinnua", "dungguitin", "dungguitinnhan", "dungguinua", "dungguitinnua", "ngungguitin",
    "khongguitinnua", "khongguinua", "huydangkynhantin", "huydangkinhantin",
)
HELP = ("hd", "huongdan", "trogiup", "help", "info", "menu")
CONFIRM = ("ok", "oke", "okay", "1", "danhan", "nhanroi", "danghe", "xacnhan", "co")
# Confirmations people write as a sentence (folded, without spaces, courtesy words removed).
CONFIRM_PHRASES = (
    "oki", "okie", "okey", "oce", "okela", "danhanduoc", "nhanduoc", "danhanthongbao", "danhanduocthongbao",
    "nhanduocthongbao", "nhanduoctin", "danhanduoctin", "danhantin", "danghethongbao", "daghe", "dabiet", "biet",
    "dabietthongbao", "vang", "vangdabiet", "vangbietroi", "vangdanhan", "dadanhan", "dadanhanduoc", "dadabiet",
    "daro", "ro", "camon",
)
# Courtesy words around a short answer: dropped before matching the phrases above.
_TAIL_WORDS = {"a", "nhe", "nha", "nhen", "nhi", "ha", "roi", "luon", "day", "nhieu", "nhe", "oi"}
_LEAD_WORDS = {"toi", "em", "chau", "xin", "cho"}
# Who is thanked, after "cảm ơn": "cảm ơn anh", "cảm ơn ủy ban xã nhiều ạ".
_THANKED = _TAIL_WORDS | {"anh", "chi", "em", "ban", "cac", "co", "chu", "bac", "ong", "ba", "uy", "xa", "thon",
                          "truong", "can", "bo", "rat", "moi", "nguoi", "to", "khu", "pho", "ca"}
_THANKS = (("cam", "on"), ("thank",), ("thanks",), ("tks",), ("thankyou",))

# Words that start an area name: after "TIN" they make it "news for that area", not a report.
# "ban" (also "you"), "to" (also "big") and "xa" (also "far") count only before a number.
_AREA_WORDS = ("kp", "khu", "tdp", "thon", "ap", "xom", "phuong")
_AREA_WORDS_BEFORE_NUMBER = ("ban", "to", "xa")
_KEYPAD = {c: d for d, letters in {"2": "abc", "3": "def", "4": "ghi", "5": "jkl", "6": "mno",
                                   "7": "pqrs", "8": "tuv", "9": "wxyz"}.items() for c in letters}
_WORD = re.compile(r"\w+")
MAX_AREA_WORDS = 5
_Y_AS_I = str.maketrans("y", "i")


@dataclass(frozen=True)
class Command:
    intent: str
    args: dict = field(default_factory=dict)


def _keypad(word):
    return "".join(_KEYPAD.get(c, c) for c in word)


def _one_edit(a, b):
    """True when `b` is `a` with one letter missing, added or two neighbours swapped."""
    if abs(len(a) - len(b)) > 1 or a == b:
        return False
    if len(a) == len(b):
        diff = [i for i in range(len(a)) if a[i] != b[i]]
        return len(diff) == 2 and diff[1] == diff[0] + 1 and a[diff[0]] == b[diff[1]] and a[diff[1]] == b[diff[0]]
    short, long_ = (a, b) if len(a) < len(b) else (b, a)
    return any(long_[:i] + long_[i + 1:] == short for i in range(len(long_)))


def similar(typed, keyword):
    """True when `typed` (folded, no spaces) is `keyword` or a keypad slip of it."""
    if typed == keyword:
        return True
    a, b = typed.translate(_Y_AS_I), keyword.translate(_Y_AS_I)
    if a == b:
        return True
    if not keyword.isalpha() or len(keyword) < 2:
        return False
    if len(typed) == len(keyword) and _keypad(typed) == _keypad(keyword) \
            and sum(x != y for x, y in zip(typed, keyword)) == 1:
        return True  # multi-tap: one letter from the same key
    return len(keyword) >= 5 and _one_edit(a, b)


def _leading(words, keywords, *, exact=False):
    """How many leading words spell one of `keywords` (longest wins); 0 when none."""
    for n in range(min(3, len(words)), 0, -1):
        joined = "".join(words[:n])
        for keyword in keywords:
            if joined == keyword or (not exact and similar(joined, keyword)):
                return n
    return 0


def _rest(original, n):
    """The original text after its first `n` words, as written (keyword and separators gone)."""
    matches = list(_WORD.finditer(original))
    if n == 0:
        return original.strip()
    if n > len(matches):
        return ""
    return original[matches[n - 1].end():].lstrip(" \t\r\n:.,;-–—!/").rstrip()


def _looks_like_area(words):
    """True when `words` read as an area's name or code: "kp5", "5", "thon tan loi", "to 2"."""
    if not 0 < len(words) <= 4:
        return False
    first = words[0]
    if any(c.isdigit() for c in first) or first in _AREA_WORDS:
        return True
    return first in _AREA_WORDS_BEFORE_NUMBER and len(words) > 1 and words[1].isdigit()


def _core(words):
    """The words of a short answer without its courtesy words: "da nhan duoc roi, cam on anh" → da nhan duoc."""
    for i in range(len(words)):
        thanks = next((t for t in _THANKS if tuple(words[i:i + len(t)]) == t), None)
        if thanks and all(w in _THANKED for w in words[i + len(thanks):]):
            words = words[:i] or list(thanks)  # "cảm ơn" alone is an answer too
            break
    for _ in range(2):  # "đã nhận được rồi nhé"; more is a sentence, not a short answer
        if len(words) > 1 and words[-1] in _TAIL_WORDS:
            words = words[:-1]
    while len(words) > 1 and words[0] in _LEAD_WORDS:
        words = words[1:]
    return "".join(words)


def _is_confirm(whole):
    return whole in CONFIRM or any(similar(whole, k) for k in CONFIRM if len(k) >= 5)


def _unsubscribe(words, original):
    """The unsubscribe command when `words` opt out ("HUY", "huy dang ky KP5", "ngung nhan tin"), else None."""
    whole = "".join(words)
    if any(similar(whole, k) for k in UNSUBSCRIBE):
        return Command("unsubscribe", {"word": whole, "area": ""})
    if _core(words) in UNSUBSCRIBE_PHRASES:
        return Command("unsubscribe", {"word": _core(words), "area": ""})
    if not words or not similar(words[0], "huy"):
        return None
    n = _leading(words[1:], SUBSCRIBE)  # "HUY DK KP5": the subscribe keyword, then the area
    if n:
        area = _rest(original, n + 1)
        if len(fold(area).split()) <= MAX_AREA_WORDS:
            return Command("unsubscribe", {"word": "".join(words[:n + 1]), "area": area})
    n = _leading(words[1:], ("tin", "nhantin"), exact=True)  # "HUY TIN KP5", "huy KP5"
    if _looks_like_area(words[n + 1:]):
        return Command("unsubscribe", {"word": "".join(words[:n + 1]), "area": _rest(original, n + 1)})
    return None


def parse(text):
    """The command a text carries; anything that is not a command is a report."""
    original = nfc(text).strip()
    folded = fold(original)
    words = [fold(m.group(0)) for m in _WORD.finditer(original)]
    words = [w for w in " ".join(words).split(" ") if w]
    whole = folded.replace(" ", "")
    if not whole:
        return Command("help", {"empty": not original})  # "" or "?" or only punctuation
    if any(similar(whole, k) for k in HELP):
        return Command("help", {"empty": False})
    core = _core(words)
    if _is_confirm(whole) or (core and (_is_confirm(core) or core in CONFIRM_PHRASES)):
        return Command("confirm", {})
    unsubscribe = _unsubscribe(words, original)
    if unsubscribe is not None:
        return unsubscribe
    if any(similar(whole, k) for k in NEWS):
        return Command("news", {"area": ""})
    n = _leading(words, SUBSCRIBE)
    if n:
        area = _rest(original, n)
        if len(fold(area).split()) <= MAX_AREA_WORDS:
            return Command("subscribe", {"area": area})
    glued = re.match(r"^(dk|dangky)((?:kp|tdp|to)?\d+\w*)$", whole)
    if glued:  # "DKKP5": the keyword run into the area code
        return Command("subscribe", {"area": glued.group(2)})
    n = _leading(words, NEWS, exact=True)
    if n and _looks_like_area(words[n:]):
        return Command("news", {"area": _rest(original, n)})
    n = _leading(words, REPORT, exact=True)
    if n:
        return Command("report", {"text": _rest(original, n), "keyword": True})
    return Command("report", {"text": original, "keyword": False})


def category_of(text):
    """A category guessed from the report's words: the one with most hits ("other" when none)."""
    folded = f" {fold(text)} "
    hits = {code: sum(f" {p} " in folded for p in BY_CODE[code].keywords) for code in GUESS_ORDER}
    best = max(hits, key=hits.get)
    return best if hits[best] else DEFAULT
