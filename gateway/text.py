"""Text helpers shared by parsing and matching: NFC, and folding away case and diacritics."""
import re
import unicodedata

_MARKS = re.compile(r"[\u0300-\u036f]")
_SPACES = re.compile(r"\s+")


def nfc(text):
    """`text` in NFC, the form we store residents' words in."""
    return unicodedata.normalize("NFC", text or "")


def strip_diacritics(text):
    """Vietnamese without tone or vowel marks; `đ`/`Đ` mapped explicitly (they do not decompose)."""
    text = _MARKS.sub("", unicodedata.normalize("NFD", text or ""))
    return unicodedata.normalize("NFC", text.replace("đ", "d").replace("Đ", "D"))


def fold(text):
    """Lowercase, no diacritics, punctuation as spaces, spaces collapsed: for matching only."""
    text = strip_diacritics(text).lower()
    text = re.sub(r"[^\w\s]", " ", text).replace("_", " ")
    return _SPACES.sub(" ", text).strip()


_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")
REPLACEMENT = "\ufffd"


def storable(text):
    """(`text` with NUL and lone surrogates as U+FFFD, whether any was replaced): what every database stores."""
    if not isinstance(text, str) or not _UNSTORABLE.search(text):
        return text, False
    return _UNSTORABLE.sub(REPLACEMENT, text), True
