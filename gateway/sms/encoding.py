"""SMS encoding: Vietnamese text → the GSM-7 alphabet any phone shows, and segment counting.

Segments are counted as carriers bill them (3GPP TS 23.038/23.040): a text entirely in the
GSM-7 alphabet goes as septets, 160 in one SMS or 153 per part once concatenated (the user
data header takes 7 septets); anything else goes as UCS-2 (UTF-16 units), 70 or 67 per part.
Extension characters (`^ { } [ ] ~ \\ | €` and form feed) take two septets and a part never
ends between the escape and the character; a surrogate pair never straddles two parts.
"""
import unicodedata

# The GSM 03.38 default alphabet (ESC, 0x1B, left out: it is not a character).
GSM_BASIC = frozenset(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
GSM_EXTENSION = frozenset("^{}\\[~]|€\f")
SINGLE = {"GSM-7": 160, "UCS-2": 70}
PART = {"GSM-7": 153, "UCS-2": 67}

# What plain text stands for these, before the general rules below. Vietnamese first:
# đ/Đ have no decomposition, so stripping marks would leave them.
_PLAIN = {
    "đ": "d", "Đ": "D", "₫": "d", "ð": "d", "Ð": "D", "ƒ": "f", "\t": " ", "\f": "\n",
    "\u2028": "\n", "\u2029": "\n", "…": "...", "–": "-", "—": "-", "−": "-", "•": "-", "·": ".",
    "×": "x", "°": " do ", "`": "'", "№": "No", "‰": "%o", "©": "(c)", "®": "(R)", "™": "TM",
}
_smart_map = None


def _smart():
    """Twilio's Smart Encoding look-alikes (a copy of its published table), loaded on first use."""
    global _smart_map
    if _smart_map is None:
        from gateway.sms.smart_encoding import MAP

        _smart_map = MAP
    return _smart_map


def is_gsm(text):
    """True when every character of `text` is in the GSM-7 alphabet (basic or extension)."""
    return all(c in GSM_BASIC or c in GSM_EXTENSION for c in text)


def _plain(c):
    """The GSM-7 text standing for one character (possibly empty)."""
    if c in _PLAIN:
        return _PLAIN[c]
    if c.isascii() and (c in GSM_BASIC or c in GSM_EXTENSION):
        return c
    category = unicodedata.category(c)
    if category == "Mn":
        return ""  # a mark that did not compose with its letter: a stray tone mark
    if category.startswith("Z") or c.isspace():
        return " "  # no-break, thin, ideographic spaces
    if category.startswith("C"):
        return ""
    smart = _smart().get(c)
    if smart is not None:
        return smart
    # Letters with marks lose them (ắ → a, É → E); GSM symbols without a decomposition
    # (£, Ø, Δ) stay; what has no plain form (emoji, CJK) is dropped.
    return "".join(p for p in unicodedata.normalize("NFKD", c)
                   if unicodedata.category(p) != "Mn" and (p in GSM_BASIC or p in GSM_EXTENSION))


def to_gsm(text):
    """Vietnamese (or any) text → plain text in the GSM-7 alphabet, without diacritics.

    Tone and vowel marks go (NFD input too), đ/Đ become d/D, ₫ becomes d, curly quotes,
    dashes, the ellipsis and odd spaces become their ASCII look-alikes; what has no plain
    form (emoji, CJK) is dropped."""
    return "".join(_plain(c) for c in unicodedata.normalize("NFC", text or ""))


def encoding_of(text):
    """"GSM-7" when the text fits the GSM-7 alphabet, else "UCS-2"."""
    return "GSM-7" if is_gsm(text) else "UCS-2"


def units(text, encoding=None):
    """Each character's cost in its encoding: septets (1 or 2) or UTF-16 units (1 or 2)."""
    encoding = encoding or encoding_of(text)
    if encoding == "GSM-7":
        return [2 if c in GSM_EXTENSION else 1 for c in text]
    return [2 if ord(c) > 0xFFFF else 1 for c in text]


def count_segments(text):
    """("GSM-7" | "UCS-2", number of SMS parts) as carriers count them; "" is one part."""
    encoding = encoding_of(text)
    costs = units(text, encoding)
    if sum(costs) <= SINGLE[encoding]:
        return encoding, 1
    limit, parts, used = PART[encoding], 1, 0
    for cost in costs:
        if used + cost > limit:  # an escape pair or surrogate pair is never split
            parts, used = parts + 1, 0
        used += cost
    return encoding, parts


def length(text):
    """Septets (GSM-7) or UTF-16 units (UCS-2) the text takes."""
    return sum(units(text))
