"""Phone numbers as people write them in Vietnam → E.164, and the masked form for groups.

Three doors, one parser: `normalize` (any number a person or a provider gives: senders,
callers, a test SMS), `household` (a household's own phone: Vietnamese, never a service
number) and `hotline` (a number residents call: also 1800/1900 service numbers).
`mask_text` finds numbers in free text with the same parser, however they are written.
"""
import re
import unicodedata

import phonenumbers

# Mobile prefixes renumbered in 2018 (11 digits → 10): old national prefix → new one.
# Source: Ministry of Information and Communications, Circular 22/2014 amendments, plan
# carried out 15/9–15/11/2018 (Viettel, MobiFone, VinaPhone, Vietnamobile, Gmobile).
PREFIXES_2018 = {
    "0162": "032", "0163": "033", "0164": "034", "0165": "035", "0166": "036",
    "0167": "037", "0168": "038", "0169": "039",                      # Viettel
    "0120": "070", "0121": "079", "0122": "077", "0126": "076", "0128": "078",  # MobiFone
    "0123": "083", "0124": "084", "0125": "085", "0127": "081", "0129": "082",  # VinaPhone
    "0186": "056", "0188": "058",                                      # Vietnamobile
    "0199": "059",                                                     # Gmobile
}

ACCEPTED_TYPES = {
    phonenumbers.PhoneNumberType.MOBILE,
    phonenumbers.PhoneNumberType.FIXED_LINE,
    phonenumbers.PhoneNumberType.FIXED_LINE_OR_MOBILE,
    phonenumbers.PhoneNumberType.VOIP,
}

_SEPARATORS = re.compile(r"[\s.\-()/\u00a0\u2010-\u2015]")
EXAMPLE = "ví dụ 0912 345 678 hoặc +84 912 345 678"
# A label people write before the number: "số 0912…", "SĐT: 0912…", "ĐT 0912…", "tel:+84-912-…".
_LABEL = re.compile(
    r"^(?:(?:số\s*điện\s*thoại|so\s*dien\s*thoai|điện\s*thoại|dien\s*thoai|số\s*đt|so\s*dt|sđt|sdt|đt|dt|"
    r"tổng\s*đài|tong\s*dai|đường\s*dây\s*nóng|duong\s*day\s*nong|hotline|di\s*động|di\s*dong|dđ|dd|"
    r"số|so|phone|mobile|tel)\s*[:.]?\s*)+(?=[+(\d])", re.IGNORECASE)
_TEL_URI = re.compile(r"^tel:\s*", re.IGNORECASE)
# Service numbers (free 1800, paid 1900) with 4 or 6 digits after the prefix.
_SERVICE = re.compile(r"(?:\+84|0084|84)?(1[89]00)(\d{4}|\d{6})")
_SERVICE_TYPES = {phonenumbers.PhoneNumberType.TOLL_FREE, phonenumbers.PhoneNumberType.PREMIUM_RATE,
                  phonenumbers.PhoneNumberType.SHARED_COST}


class PhoneError(ValueError):
    """A number a person typed that we cannot use; the message says what to fix."""

    def __init__(self, code, message):
        super().__init__(message)
        self.code = code


def _national_to_e164(digits):
    """A national form starting with 0 (old 11-digit mobiles converted) → +84…"""
    if len(digits) == 11 and digits[:4] in PREFIXES_2018:
        digits = PREFIXES_2018[digits[:4]] + digits[4:]
    return "+84" + digits[1:]


def _raw(text):
    return unicodedata.normalize("NFC", text if isinstance(text, str) else str(text or "")).strip()


def _compact(raw):
    """The number without its label ("số", "SĐT:", "tel:") and visual separators."""
    if re.fullmatch(r"\d+\.0", raw):  # 912345678.0: a spreadsheet cell stored as a number
        raw = raw[:-2]
    number = _LABEL.sub("", _TEL_URI.sub("", raw))
    return _SEPARATORS.sub("", number)


def normalize(text):
    """What a person typed → E.164 (`+84…`); raises PhoneError (a ValueError) with the fix."""
    return _parse(_raw(text), service=False)


def household(text):
    """A household's own phone → E.164: a Vietnamese mobile or landline, never a service or foreign number."""
    raw = _raw(text)
    e164 = _parse(raw, service=False)
    if not e164.startswith("+84"):
        code = phonenumbers.parse(e164).country_code
        raise PhoneError(
            "foreign", f"Số '{raw}' là số nước ngoài (mã +{code}); hộ dân cần một số điện thoại Việt Nam để nhận "
                       f"tin nhắn và cuộc gọi ({EXAMPLE}).")
    return e164


def hotline(text):
    """A number residents call (a commune's hotline) → E.164: also 1800/1900 service numbers."""
    return _parse(_raw(text), service=True)


def _parse(raw, *, service):
    if not raw:
        raise PhoneError("empty", f"Chưa có số điện thoại ({EXAMPLE}).")
    compact = _compact(raw)
    found = _SERVICE.fullmatch(compact)
    if found and service:
        return "+84" + found.group(1) + found.group(2)
    if found:
        raise PhoneError("type", f"Số '{raw}' là đầu số dịch vụ hoặc tổng đài, không phải số của một hộ dân.")
    if not re.fullmatch(r"\+?\d+", compact):
        raise PhoneError("characters", f"Số điện thoại '{raw}' có ký tự không phải chữ số ({EXAMPLE}).")
    if compact.startswith("+"):
        candidate = compact
    elif compact.startswith("00"):
        candidate = "+" + compact[2:]
    elif compact.startswith("0"):
        candidate = _national_to_e164(compact)
    elif compact.startswith("84") and len(compact) in (11, 12):
        candidate = "+" + compact
    elif len(compact) == 9 or (len(compact) == 10 and ("0" + compact[:3] in PREFIXES_2018 or compact[0] == "2")):
        # The leading 0 lost by a spreadsheet that stored the number as a number (a mobile, an
        # old 11-digit mobile or a landline).
        candidate = _national_to_e164("0" + compact)
    elif len(compact) == 10:
        raise PhoneError(
            "not_vietnamese",
            f"Số '{raw}' có 10 chữ số nhưng không bắt đầu bằng 0, nên không phải số Việt Nam: số Việt Nam viết "
            f"bắt đầu bằng 0 ({EXAMPLE}); số nước ngoài viết kèm mã nước, ví dụ +1 415 555 0123.",
        )
    else:
        raise PhoneError(
            "length",
            f"Số '{raw}' có {len(compact)} chữ số; số di động Việt Nam có 10 chữ số, bắt đầu bằng 0 ({EXAMPLE}).",
        )
    if candidate.startswith("+84") and len(candidate) == 13 and "0" + candidate[3:6] in PREFIXES_2018:
        candidate = _national_to_e164("0" + candidate[3:])  # +84 168 … written with an old prefix
    try:
        number = phonenumbers.parse(candidate, "VN")
    except phonenumbers.NumberParseException:
        raise PhoneError("invalid", f"Không đọc được số '{raw}' ({EXAMPLE}).") from None
    if not phonenumbers.is_valid_number(number):
        national = "0" + candidate[3:] if candidate.startswith("+84") else candidate
        if candidate.startswith("+84"):
            if len(national) < 10:
                reason = f"thiếu chữ số (có {len(national)}, cần 10)"
            elif len(national) > 11:
                reason = f"thừa chữ số (có {len(national)}, cần 10)"
            else:
                reason = f"đầu số {national[:3]} không có ở Việt Nam"
        else:
            reason = "không phải số điện thoại hợp lệ"
        raise PhoneError("invalid", f"Số '{raw}' {reason} ({EXAMPLE}).")
    kind = phonenumbers.number_type(number)
    if service and kind in _SERVICE_TYPES:
        raise PhoneError("service", f"Số tổng đài '{raw}' cần 4 hoặc 6 chữ số sau đầu 1800 hoặc 1900 "
                                    f"(ví dụ 1900 1234 hoặc 1800 599 920).")
    if kind not in ACCEPTED_TYPES:
        raise PhoneError(
            "type", f"Số '{raw}' là đầu số dịch vụ hoặc tổng đài, không phải số của một hộ dân."
        )
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def mask(e164):
    """The form safe to show a whole group: only the last 3 digits, e.g. `09x xxx x678`."""
    digits = re.sub(r"\D", "", e164 or "")
    if not digits:
        return "xxx"
    if e164.startswith("+84"):
        national = "0" + digits[2:]
        prefix, shown = national[:2], national[-3:]
        hidden = "x" * (len(national) - 5)
        masked = prefix + hidden + shown
        groups = (3, 3) if len(national) <= 10 else (3, 4)
    else:
        cc = str(phonenumbers.parse(e164).country_code) if e164.startswith("+") else ""
        national = digits[len(cc):]
        masked = "x" * max(len(national) - 3, 0) + national[-3:]
        groups = (3, 3)
        return ("+" + cc + " " if cc else "") + _group(masked, groups)
    return _group(masked, groups)


def _group(s, groups):
    parts, i = [], 0
    for size in groups:
        parts.append(s[i:i + size])
        i += size
    parts.append(s[i:])
    return " ".join(p for p in parts if p)


def national(e164):
    """The national form officials read, e.g. `0912 345 678`."""
    number = phonenumbers.parse(e164)
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.NATIONAL)


# Digit groups with the separators people put between them: spaces, dots, commas, dashes of any
# kind, underscores, slashes, brackets ("0912,345,678", "0912 - 345 - 678", "(091) 234 5678").
# Only the candidates: whether a span is a number is decided by `normalize`.
_GROUP = re.compile(r"\d+")
_CANDIDATE = re.compile(r"(?:\+|\(\s*\+?(?=[\d\s]+\)[\s.\-]*\d))?\d+(?:[\s.,_/()\-\u2010-\u2015\u2212]{1,5}\d+)*")
# "10.000.000", "1,234,567,890": thousands grouped by threes, an amount of money or a population.
_THOUSANDS = re.compile(r"[1-9]\d{0,2}(?:([.,])\d{3})(?:\1\d{3})+|[1-9]\d{0,2}[.,]\d{3}")


def _number_in(written):
    """The E.164 number `written` (a span of digit groups) is, or None (a date, an amount, a code)."""
    digits = re.sub(r"\D", "", written)
    if not 9 <= len(digits) <= 15 or _THOUSANDS.fullmatch(written.strip()):
        return None
    # One way of separating the groups throughout ("0912.345.678", "0912 - 345 - 678"): a change
    # of separator ("8/2024 0912", "08/2024 - 15/08") joins two different things.
    separators = {re.sub(r"\s+", " ", s.strip("()")) for s in re.findall(r"\D+", written.strip("(+ )"))}
    if len(separators) > 1:
        return None
    try:
        return normalize(("+" if written.lstrip("( ").startswith("+") else "") + digits)
    except PhoneError:
        return None


def _hidden(e164):
    """A number as masked inside a text: x for every digit but the last three (`xxxxxxx678`)."""
    national = "0" + e164[3:] if e164.startswith("+84") else e164[1:]
    return "x" * (len(national) - 3) + national[-3:]


def mask_text(text):
    """`text` with every phone number in it masked to its last 3 digits, however it is written.

    Candidate spans are runs of digit groups; a span (or, failing that, the longest run of its
    groups from each group on) is a number when `normalize` accepts it. Dates, times, amounts
    of money, report numbers and service numbers (1900…) are not phone numbers and stay."""
    text = text or ""
    out, last = [], 0
    for candidate in _CANDIDATE.finditer(text):
        start, end = candidate.span()
        glued = (start > 0 and text[start - 1].isalnum()) or (end < len(text) and text[end].isalnum())
        spans = _spans(text, start, end, whole_only=glued)
        for span_start, span_end, e164 in spans:
            out += [text[last:span_start], _hidden(e164)]
            last = span_end
    return "".join(out) + text[last:]


def _spans(text, start, end, *, whole_only):
    """[(start, end, e164)] of the numbers in the candidate text[start:end]."""
    e164 = _number_in(text[start:end])
    if e164 is not None:
        return [(start, end, e164)]
    if whole_only:
        return []  # glued to letters: a code such as "H26-240815-0001", unless it is one number
    groups = list(_GROUP.finditer(text, start, end))
    found, i = [], 0
    while i < len(groups):
        stop, count = i, 0
        while stop < len(groups) and count + len(groups[stop].group(0)) <= 15:  # no number is longer
            count += len(groups[stop].group(0))
            stop += 1
        for j in range(stop - 1, i - 1, -1):
            span_start = groups[i].start()
            if text[span_start - 1:span_start] == "+":
                span_start -= 1
            if text[span_start - 1:span_start] == "(" and ")" in text[span_start:groups[j].end()]:
                span_start -= 1  # "(0912) 345 678"
            e164 = _number_in(text[span_start:groups[j].end()])
            if e164 is not None:
                found.append((span_start, groups[j].end(), e164))
                i = j
                break
        i += 1
    return found
