"""Phone numbers as people write them in Vietnam → E.164, and the masked form for groups."""
import re

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


def normalize(text):
    """What a person typed → E.164 (`+84…`); raises PhoneError (a ValueError) with the fix."""
    raw = (text or "").strip() if isinstance(text, str) else str(text or "").strip()
    if not raw:
        raise PhoneError("empty", f"Chưa có số điện thoại ({EXAMPLE}).")
    if re.fullmatch(r"\d+\.0", raw):  # 912345678.0: a spreadsheet cell stored as a number
        raw = raw[:-2]
    compact = _SEPARATORS.sub("", raw)
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
    elif len(compact) in (9, 10):
        # The leading 0 lost by a spreadsheet that stored the number as a number.
        candidate = _national_to_e164("0" + compact)
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
    if phonenumbers.number_type(number) not in ACCEPTED_TYPES:
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
