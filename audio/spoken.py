"""The spoken form of Vietnamese announcement text, so no speech engine misreads it.

`verbalize(text)` runs a fixed sequence of passes; each turns one kind of written token into
words and leaves everything else as it was:

1. clean-up: NFC, one kind of dash, no emoji or bullets, each line ends as a sentence;
2. abbreviations (UBND, HĐND, TP., Q.1, KP5, Đ/c, v/v …) and shouted headlines in lower case;
   letter+digit codes letter by letter (F2 → "ép hai", H5N1 → "hát năm en một");
3. phone and hotline numbers, digit by digit in their groups;
4. house numbers and fractions by their context (số nhà 25/7 → "hai mươi lăm trên bảy",
   3/4 diện tích → "ba phần tư"), then dates (14/8, 14/8/2024, 2024-08-14, 8/2024, 2025-09,
   14-16/8) and times (8h30, 8:30, 8 giờ 30);
5. per-unit rates (400.000đ/tháng → "… mỗi tháng");
6. version numbers (công nghiệp 4.0 → "bốn chấm không"), then quantities: money, percentages,
   units and ranges (50% - 80% → "… đến …");
7. ordinals and months (thứ 4 → "thứ tư", tháng 4 → "tháng tư", quý IV → "quý bốn",
   thế kỷ XXI → "thế kỷ hai mươi mốt");
8. every other number, and what is left of the symbols.

No pass drops words: quoted titles and repeated phrases ("Khẩn! Khẩn!") are read as written.

Number words follow the Vietnamese rules in `audio.numbers`. The test table in
tests/test_verbalize.py is the specification; docs/verbalization.md explains the choices.
"""
import re
import unicodedata

from audio import numbers as num

# Government and announcement abbreviations, written as officials write them.
ABBREVIATIONS = {
    "UBMTTQ": "Ủy ban Mặt trận Tổ quốc",
    "UBND": "Ủy ban nhân dân",
    "HĐND": "Hội đồng nhân dân",
    "MTTQ": "Mặt trận Tổ quốc",
    "NHCSXH": "Ngân hàng Chính sách xã hội",
    "CSXH": "chính sách xã hội",
    "ANTT": "an ninh trật tự",
    "ATGT": "an toàn giao thông",
    "TTATGT": "trật tự an toàn giao thông",
    "VSATTP": "vệ sinh an toàn thực phẩm",
    "ATTP": "an toàn thực phẩm",
    "BHYT": "bảo hiểm y tế",
    "BHXH": "bảo hiểm xã hội",
    "CCCD": "căn cước công dân",
    "CMND": "chứng minh nhân dân",
    "PCCC": "phòng cháy chữa cháy",
    "CNCH": "cứu nạn cứu hộ",
    "PCTT": "phòng chống thiên tai",
    "TKCN": "tìm kiếm cứu nạn",
    "THCS": "trung học cơ sở",
    "THPT": "trung học phổ thông",
    "TTYT": "Trung tâm Y tế",
    "TYT": "Trạm Y tế",
    "LHPN": "Liên hiệp Phụ nữ",
    "HLHPN": "Hội Liên hiệp Phụ nữ",
    "HND": "Hội Nông dân",
    "HCCB": "Hội Cựu chiến binh",
    "CCB": "cựu chiến binh",
    "ĐTN": "Đoàn Thanh niên",
    "NCT": "người cao tuổi",
    "HTX": "hợp tác xã",
    "BQL": "Ban quản lý",
    "BCH": "Ban chỉ huy",
    "CLB": "câu lạc bộ",
    "CSGT": "cảnh sát giao thông",
    "CAX": "Công an xã",
    "CA": "Công an",
    "KP": "khu phố",
    "TDP": "tổ dân phố",
    "TP": "thành phố",
    "HCM": "Hồ Chí Minh",
    "SĐT": "số điện thoại",
    "ĐT": "điện thoại",
    "STK": "số tài khoản",
    "DTLCP": "dịch tả lợn châu Phi",
    "LMLM": "lở mồm long móng",
    "CN": "chủ nhật",
    "VNĐ": "đồng",
    "VND": "đồng",
    "USD": "đô la Mỹ",
}
# Written with a slash or in mixed case; matched exactly.
SLASHED = {
    "Đ/c": "đồng chí", "đ/c": "địa chỉ", "v/v": "về việc", "V/v": "về việc", "K/g": "kính gửi",
    "TK&VV": "tiết kiệm và vay vốn",
    "TP.HCM": "Thành phố Hồ Chí Minh", "TPHCM": "Thành phố Hồ Chí Minh", "Tp.HCM": "Thành phố Hồ Chí Minh",
}
# A letter and a dot before a place name or number: "Q.1", "P. Tân Định", "TP. Huế".
DOTTED = {"TP": "thành phố", "Tp": "thành phố", "TX": "thị xã", "TT": "thị trấn", "Q": "quận",
          "P": "phường", "H": "huyện", "X": "xã"}
# Loan words an engine would spell or read in English.
WORDS = {"covid": "Cô vít", "vaccine": "vắc xin", "vacxin": "vắc xin", "vắcxin": "vắc xin",
         "hotline": "đường dây nóng", "online": "trực tuyến", "zalo": "Da lô"}

# The Vietnamese names of letters, for codes read letter by letter ("F0", "H5N1", "quốc lộ 1A").
LETTER_NAMES = {"A": "a", "B": "bê", "C": "xê", "D": "dê", "Đ": "đê", "E": "e", "F": "ép", "G": "gờ", "H": "hát",
                "I": "i", "J": "giây", "K": "ca", "L": "lờ", "M": "mờ", "N": "en", "O": "o", "P": "pê", "Q": "quy",
                "R": "rờ", "S": "ét", "T": "tê", "U": "u", "V": "vê", "W": "vê kép", "X": "ích", "Y": "i dài",
                "Z": "dét"}

UNITS = {
    "kg": "ki lô gam", "g": "gam", "mg": "mi li gam", "km": "ki lô mét", "m": "mét",
    "cm": "xen ti mét", "mm": "mi li mét", "m2": "mét vuông", "m²": "mét vuông", "m3": "mét khối",
    "m³": "mét khối", "ha": "héc ta", "l": "lít", "ml": "mi li lít", "°C": "độ xê", "độ C": "độ xê",
    "km/h": "ki lô mét một giờ", "kW": "ki lô oát", "kWh": "ki lô oát giờ",
}
# Units that must touch the number ("100g", "2l"); written apart they are other words.
ATTACHED_ONLY = {"g", "l"}
CURRENCY = {"đ": "đồng", "đồng": "đồng", "VNĐ": "đồng", "VND": "đồng", "vnđ": "đồng", "vnd": "đồng",
            "USD": "đô la Mỹ"}
# Words a rate can follow: "2 lần/ngày", "5 kg/con", "400.000đ/tháng".
MEASURE_WORDS = {"lần", "liều", "người", "hộ", "con", "suất", "buổi", "ngày", "giờ", "tháng", "năm", "cái",
                 "chiếc", "bao", "túi", "lít", "tấn", "cân", "triệu", "nghìn", "ngàn", "tỷ", "đồng", "đ",
                 "phút", "lượt", "xuất", "sào", "mẫu", "viên", "bữa", "ca", "tuần", "kỳ"}

# Words after which a number is a phone, hotline or account number (read digit by digit).
PHONE_KEYWORDS = ("số điện thoại", "điện thoại", "đường dây nóng", "tổng đài", "số tài khoản", "gọi",
                  "liên hệ", "fax", "nhắn tin")

_NUM = r"\d{1,3}(?:\.\d{3})+(?:,\d+)?(?![\d.]\d)|\d+[,.]\d{1,2}(?![\d.]\d)|\d+,\d+|\d+"
_UNIT_ALT = "|".join(re.escape(u) for u in sorted(UNITS, key=len, reverse=True))
_CURRENCY_ALT = "|".join(re.escape(u) for u in sorted(CURRENCY, key=len, reverse=True))
_LETTER = r"[^\W\d_]"


def verbalize(text):
    """The spoken form of Vietnamese text: numbers, dates, times, money and abbreviations in words."""
    text = _clean(text)
    for step in _PASSES:
        text = step(text)
    return _tidy(text)


# 1. Clean-up ---------------------------------------------------------------------------------

_DASHES = str.maketrans({"–": "-", "—": "-", "−": "-", "‐": "-", "‑": "-", "“": '"', "”": '"',
                         "‘": "'", "’": "'", "…": "...", "\u00a0": " ", "\u202f": " "})
_BULLET = re.compile(r"^\s*(?:[-+*•·●▪►✓✔]+|\d{1,2}[.)](?=\s))\s*")
_KEEP_SYMBOLS = set(".,;:!?()\"'/%-+&°²³@")


def _clean(text):
    text = unicodedata.normalize("NFC", text or "").translate(_DASHES)
    kept = []
    for ch in text:
        if ch.isalnum() or ch.isspace() or ch in _KEEP_SYMBOLS:
            kept.append(ch)
        elif unicodedata.category(ch).startswith("M"):
            kept.append(ch)
        else:
            kept.append(" ")  # emoji, stars, hashes: an engine would name them or stumble
    sentences = []
    for line in "".join(kept).splitlines():
        line = _BULLET.sub("", line).strip()
        if not line:
            continue
        if line[-1] not in ".!?:;,":
            line += "."  # a line break is a pause for a listener
        sentences.append(line)
    return re.sub(r"[ \t]+", " ", " ".join(sentences))


# 2. Abbreviations and shouted headlines -------------------------------------------------------

_SLASHED_RE = re.compile(r"(?<![\w/])(" + "|".join(re.escape(k) for k in sorted(SLASHED, key=len, reverse=True))
                         + r")(?![^\W\d_])")
_DOTTED_RE = re.compile(r"(?<![\w.])(" + "|".join(sorted(DOTTED, key=len, reverse=True)) + r")\.\s*(?=\w)")
_ABBR_RE = re.compile(r"(?<![\w.])(" + "|".join(sorted(ABBREVIATIONS, key=len, reverse=True))
                      + r")(?![^\W\d_])(\d*)")
_WORDS_RE = re.compile(r"(?<![\w-])(" + "|".join(sorted(WORDS, key=len, reverse=True)) + r")(?![^\W\d_])",
                       re.IGNORECASE)


def _abbreviations(text):
    text = _SLASHED_RE.sub(lambda m: SLASHED[m.group(1)], text)
    text = _WORDS_RE.sub(lambda m: WORDS[m.group(1).lower()], text)

    def dotted(m):
        rest = m.string[m.end():]
        # "Q.1", "P. Tân Định": a number or a capitalised name follows; else leave the letter.
        if rest[:1].isdigit() or rest[:1].isupper():
            return DOTTED[m.group(1)] + " "
        return m.group(0)

    text = _DOTTED_RE.sub(dotted, text)

    def abbreviation(m):
        word, digits = m.group(1), m.group(2)
        return ABBREVIATIONS[word] + (" " + digits if digits else "")

    text = _ABBR_RE.sub(abbreviation, text)
    return _codes(_lower_headlines(text))


# Capitals and digits in one word: F0, F2, H5N1, A1, CT3, 1A, 8B (not 8H30, a time).
_CODE_RE = re.compile(r"(?<![\w.,/])(?=[A-ZĐ0-9]*[A-ZĐ])(?=[A-ZĐ0-9]*\d)(?!\d{1,2}H\d{2}(?!\w))"
                      r"((?:[A-ZĐ]{1,3}\d+)+[A-ZĐ]?|\d{1,3}[A-ZĐ]{1,2})(?![\w])")


def _codes(text):
    def code(m):
        parts = re.findall(r"[A-ZĐ]|\d+", m.group(1))
        return " ".join(LETTER_NAMES[p] if p in LETTER_NAMES else num.cardinal(int(p)) for p in parts)

    return _CODE_RE.sub(lambda m: _padded(m, code(m)), text)


_VI_MARKED = re.compile(r"[À-ỹĐđ]")


def _has_vowel(word):
    return any(c in "AEIOUY" for c in unicodedata.normalize("NFD", word.upper()))


def _lower_headlines(text):
    """Lower-case words in capitals that are Vietnamese words, so no engine spells them out.

    Capitalised words next to each other (spaces or commas between) form a run; a run in which
    one word carries Vietnamese marks ("THÔNG BÁO KHẨN") is a shouted headline and is lowered.
    A lone acronym without marks ("HIV") stays as it is."""
    words = [m for m in re.finditer(r"[^\W\d_]+", text)]
    lowered = set()
    run = []

    def close(run):
        # "QĐ", "NĐ-CP", "HĐ": Đ without a vowel is an acronym (quyết định, nghị định), not a word.
        if any(_VI_MARKED.search(m.group(0)) and _has_vowel(m.group(0)) for m in run):
            lowered.update(m.start() for m in run)

    for m in words:
        caps = m.group(0).isupper() and (len(m.group(0)) > 1 or _VI_MARKED.search(m.group(0)))
        if caps and run and re.fullmatch(r"[ ,]+", text[run[-1].end():m.start()]):
            run.append(m)
            continue
        close(run)
        run = [m] if caps else []
    close(run)
    out, last = [], 0
    for m in words:
        if m.start() in lowered:
            out += [text[last:m.start()], m.group(0).lower()]
            last = m.end()
    return "".join(out) + text[last:]


# 3. Phone and hotline numbers ----------------------------------------------------------------

_PHONE_PATTERNS = (
    # +84 912 345 678, 0084…, 84912345678
    re.compile(r"(?<![\w.,+])(?:\+84|0084)[\s.-]?\d{2,3}(?:[\s.-]?\d{3,4}){2}(?!\d)"),
    re.compile(r"(?<![\w.,+])84\d{9}(?!\d)"),
    # 0912 345 678, 0912.345.678, 024 3825 1234, 0912345678
    re.compile(r"(?<![\w.,])0\d{2,3}(?:[\s.-]?\d{3,4}){2}(?!\d)"),
    re.compile(r"(?<![\w.,])0\d{8,10}(?!\d)"),
    # 1900 1234, 1800.599.920, 19001234
    re.compile(r"(?<![\w.,])1[89]00[\s.]?\d{2,4}(?:[\s.]?\d{2,4})?(?!\d)"),
)
_KEYWORD_NUMBER = re.compile(
    r"(?P<lead>(?<![^\W\d_])(?<!kêu\s)(?:" + "|".join(PHONE_KEYWORDS) + r")(?:\s+(?:ngay|cho|tới|đến|số|lên|về|qua))*"
    r"\s*:?\s*(?:\(\s*)?)(?P<number>\+?\d[\d .]*\d{2}|\d{3,})(?![\d,]\d)",
    re.IGNORECASE,
)
# The emergency numbers (111 child protection, 113 police, 114 fire, 115 ambulance) after "báo".
_EMERGENCY = re.compile(r"(?P<lead>(?<![^\W\d_])báo(?:\s+(?:ngay|cho|tới|đến|qua|số))*\s*:?\s*)"
                        r"(?P<number>11[1-5])(?![\d.,]\d|\d)", re.IGNORECASE)


def _read_phone(written):
    """Digits in the groups the writer used (or the usual ones), a comma between groups."""
    written = written.strip()
    if written.startswith("+"):
        written = written[1:]
        lead = "cộng "
    else:
        lead = ""
    groups = [g for g in re.split(r"[\s.-]+", written) if g]
    if len(groups) == 1:
        groups = _usual_groups(groups[0])
    return lead + ", ".join(num.digits(g) for g in groups)


def _usual_groups(d):
    if len(d) == 10 and d.startswith("0"):
        return [d[:4], d[4:7], d[7:]]  # 0912 345 678
    if len(d) == 11 and d.startswith("0"):
        return [d[:3], d[3:7], d[7:]]  # 024 3825 1234
    if len(d) == 11 and d.startswith("84"):
        return [d[:2], d[2:5], d[5:8], d[8:]]
    if len(d) == 8 and d[:4] in ("1900", "1800"):
        return [d[:4], d[4:]]
    if len(d) > 6:
        return [d[i:i + 3] for i in range(0, len(d), 3)]
    return [d]


def _phones(text):
    for pattern in (_KEYWORD_NUMBER, _EMERGENCY):
        text = pattern.sub(lambda m: m.group("lead") + _read_phone(m.group("number")), text)
    for pattern in _PHONE_PATTERNS:
        text = pattern.sub(lambda m: _read_phone(m.group(0)), text)
    return text


# 4. Dates and times --------------------------------------------------------------------------

def _valid(day, month, year=None):
    return 1 <= day <= 31 and 1 <= month <= 12 and (year is None or 1000 <= year <= 2999)


def _before(m, words):
    """True when the text just before the match ends with one of `words`."""
    head = m.string[:m.start()].rstrip().lower()
    return any(head.endswith(w) and (len(head) == len(w) or not head[-len(w) - 1].isalpha()) for w in words)


def _date_words(day, month, year=None, with_day_word=True):
    words = (["ngày"] if with_day_word else []) + [num.cardinal(day), "tháng", num.month(month)]
    if year is not None:
        words += ["năm", num.cardinal(year)]
    return " ".join(words)


_ISO_DATE = re.compile(r"(?<![\d/.-])(\d{4})-(\d{2})-(\d{2})(?![\d/-])")
_DAY_RANGE = re.compile(r"(?<![\d/.,])(\d{1,2})\s*-\s*(\d{1,2})/(\d{1,2})(?:/(\d{4}))?(?![\d/])")
_DMY = r"(\d{1,2})([/.-])(\d{1,2})\2(\d{4})"
_DM = r"(\d{1,2})/(\d{1,2})(?:/(\d{4}))?"
_DATE = re.compile(r"(?<![\d/.,])(?:" + _DMY + r"|" + _DM + r")(?![\d/])"
                   r"(?:\s*-\s*(?:ngày\s+)?(?:" + _DMY + r"|" + _DM + r")(?![\d/]))?")
_MONTH_YEAR = re.compile(r"(?<![\d/.,])(\d{1,2})/(\d{4})(?![\d/])")
_ISO_MONTH = re.compile(r"(?<![\d/.,-])(\d{4})-(\d{2})(?![\d/]|-\d)")


# Before x/y: words that make it a house number ("số nhà 25/7", "hẻm 120/15", "kiệt 47/9").
_HOUSE_WORDS = ("số nhà", "nhà số", "nhà", "số", "địa chỉ", "ngõ", "ngách", "hẻm", "kiệt", "kiệt số", "hẻm số",
                "ngõ số", "căn hộ", "căn", "lô")
# Before x/y: words of a date; with them "25/7 Trần Phú" stays a date.
_DATE_WORDS = ("ngày", "từ", "đến", "tới", "hôm", "trước", "sau", "hạn", "vào", "lúc", "chiều", "sáng", "tối", "trưa",
               "mùng", "mồng", "hết", "đầu", "cuối")
# Around x/y: words that make it a fraction ("3/4 diện tích", "chiếm 2/3").
_FRACTION_BEFORE = ("tỷ lệ", "tỉ lệ", "chiếm", "khoảng", "gần", "hơn", "trên", "đạt", "bằng", "còn", "mất", "được",
                    "tới", "giảm", "tăng", "hỗ trợ")
_FRACTION_AFTER = ("diện tích", "dân số", "số hộ", "số dân", "số người", "tổng số", "số lượng", "kinh phí",
                   "khối lượng",
                   "sản lượng", "quãng đường", "chiều dài", "thời gian", "đàn", "lượng", "phần", "số", "cử tri",
                   "đại biểu", "học sinh", "hộ", "người", "dân", "lúa", "ruộng", "diện", "giá trị", "tổng")
_SLASHED_NUMBER = re.compile(r"(?<![\d/.,\-])(\d{1,4})/(\d{1,4})((?:/\d{1,4})*)([A-ZĐ](?![^\W\d_]))?"
                             r"(?![\d/]|[.,]\d)")
# A street name after a house number: two capitalised words ("Trần Phú", "Hùng Vương").
_STREET_AFTER = re.compile(r"\s+[A-ZĐÀ-Ỹ][^\W\d_]*\s+[A-ZĐÀ-Ỹ][^\W\d_]*")


def _after(m, words):
    """True when the text just after the match starts with one of `words`."""
    tail = m.string[m.end():].lstrip().lower()
    return any(tail.startswith(w) and not tail[len(w):len(w) + 1].isalpha() for w in words)


def _house_and_fractions(text):
    """x/y by its context: a house number (read with "trên"), a fraction ("ba phần tư"), else left for dates."""
    def slashed(m):
        first, second = int(m.group(1)), int(m.group(2))
        if _before(m, _HOUSE_WORDS) or (not _before(m, _DATE_WORDS) and _STREET_AFTER.match(m.string, m.end())):
            words = " trên ".join(num.cardinal(int(n)) for n in re.findall(r"\d+", m.group(0)))
            return words + (" " + LETTER_NAMES[m.group(4)] if m.group(4) else "")  # "12/3A"
        if m.group(4):
            return m.group(0)
        if not m.group(3) and 0 < first < second <= 100 and not _before(m, _DATE_WORDS) \
                and (_after(m, _FRACTION_AFTER) or _before(m, _FRACTION_BEFORE)):
            return f"{num.cardinal(first)} phần {'tư' if second == 4 else num.cardinal(second)}"
        return m.group(0)

    return _SLASHED_NUMBER.sub(slashed, text)


def _dates(text):
    text = _house_and_fractions(text)

    def iso(m):
        year, month, day = int(m.group(1)), int(m.group(2)), int(m.group(3))
        if not _valid(day, month, year):
            return m.group(0)
        return _date_words(day, month, year, not _before(m, ("ngày",)))

    def day_range(m):
        first, last, month = int(m.group(1)), int(m.group(2)), int(m.group(3))
        year = int(m.group(4)) if m.group(4) else None
        if not (_valid(first, month, year) and _valid(last, month) and first < last):
            return m.group(0)
        lead = "" if _before(m, ("ngày",)) else "ngày "
        return f"{lead}{num.cardinal(first)} đến ngày {_date_words(last, month, year, False)}"

    def one(groups):
        """(day, month, year) from the six groups of one date alternative, or None."""
        if groups[0] is not None:
            day, month, year = int(groups[0]), int(groups[2]), int(groups[3])
        else:
            day, month = int(groups[4]), int(groups[5])
            year = int(groups[6]) if groups[6] else None
        return (day, month, year) if _valid(day, month, year) else None

    def date(m):
        g = m.groups()
        first = one(g[0:4] + g[4:7])
        second = one(g[7:11] + g[11:14]) if (g[7] or g[11]) else None
        if first is None or ((g[7] or g[11]) and second is None):
            return m.group(0)
        words = _date_words(*first, with_day_word=not _before(m, ("ngày",)))
        if second:
            words += " đến " + _date_words(*second)
        return _padded(m, words)

    def month_year(m):
        month, year = int(m.group(1)), int(m.group(2))
        if not _valid(1, month, year):
            return m.group(0)
        lead = "" if _before(m, ("tháng",)) else "tháng "
        return f"{lead}{num.month(month)} năm {num.cardinal(year)}"

    def iso_month(m):  # 2025-09
        year, month = int(m.group(1)), int(m.group(2))
        if not _valid(1, month, year):
            return m.group(0)
        lead = "" if _before(m, ("tháng",)) else "tháng "
        return f"{lead}{num.month(month)} năm {num.cardinal(year)}"

    text = _ISO_DATE.sub(iso, text)
    text = _ISO_MONTH.sub(iso_month, text)
    text = _DAY_RANGE.sub(day_range, text)
    text = _MONTH_YEAR.sub(month_year, text)
    text = re.sub(r"(?<![\d/])24/7(?![\d/])", "hai mươi tư trên bảy", text)
    text = re.sub(r"(?<![\d/])24/24(?![\d/])", "hai mươi tư trên hai mươi tư", text)
    return _DATE.sub(date, text)


_TIME = (r"(\d{1,2})\s*(?:(giờ|h|g)(?![^\W\d_])(?:\s*(\d{2}))?|:(\d{2}))"
         r"(?:\s*(phút|p|')(?![^\W\d_]))?")
_TIME_RE = re.compile(r"(?<![\d:.,])" + _TIME + r"(?![\d])(?:\s*-\s*" + _TIME + r"(?![\d]))?")


def _time_words(hour, h_word, minutes, colon_minutes, minute_word):
    hour = int(hour)
    minutes = minutes or colon_minutes
    if hour > 24 or (minutes and int(minutes) > 59):
        return None
    if h_word is None and not colon_minutes:
        return None
    words = f"{num.cardinal(hour)} giờ"
    if minutes and int(minutes):
        words += " " + num.cardinal(int(minutes))
        if minute_word or int(minutes) < 10:
            words += " phút"  # "tám giờ năm phút", never "tám giờ không năm"
    return words


def _times(text):
    def time(m):
        g = m.groups()
        # "8 giờ" alone is already words; only digits with h/g/:/giờ+minutes need us.
        first = _time_words(*g[0:5])
        if first is None or (g[1] == "giờ" and not g[2] and not g[5]):
            return m.group(0)
        if g[5] is None:
            return first
        second = _time_words(*g[5:10])
        if second is None:
            return m.group(0)
        return f"{first} đến {second}"

    return _TIME_RE.sub(time, text)


# 5. Rates ------------------------------------------------------------------------------------

_RATE = re.compile(r"(?<=\S)\s*/\s*(\d[\d.,]*\s*)?(" + _UNIT_ALT + r"|" + _LETTER + r"+)(?![^\W\d_])")
# Per-unit nouns: after a slash in a clause with a number they make a rate ("10 kg gạo/người").
PER_UNITS = {"người", "hộ", "khẩu", "tháng", "năm", "ngày", "tuần", "giờ", "phút", "con", "lần", "buổi", "suất",
             "sào", "mẫu", "lít", "tấn", "tạ", "liều", "lượt", "xe", "ca", "kỳ", "học kỳ", "đợt"}


def _rates(text):
    def rate(m):
        before = m.string[:m.start()].rstrip()
        last = re.split(r"\s+", before)[-1] if before else ""
        last_word = re.sub(r"^[\d.,]+", "", last)
        count, unit = m.group(1), m.group(2)
        clause = re.split(r"[.;:!?,]", before)[-1]
        is_rate = (last[-1:].isdigit() or last.endswith("%") or last_word in CURRENCY or last_word in UNITS
                   or last_word in ("k", "K", "tr") or last_word.lower() in MEASURE_WORDS
                   or (unit in PER_UNITS | set(UNITS) and re.search(r"\d", clause)))
        if not is_rate or f"{last_word}/{unit}" in UNITS or (len(unit) > 1 and unit.isupper()):
            return m.group(0)  # "km/h" is one unit; "15/QĐ-UBND" is a document number
        if count:
            return f" mỗi {count.strip()} {unit}"  # "1 kg/10 m2": the quantity pass reads "10 m2"
        return " mỗi " + UNITS.get(unit, unit)

    return _RATE.sub(rate, text)


# 6. Quantities: money, percentages, units, ranges ---------------------------------------------

# After a number: a percent sign, a currency, a unit, or the shorthand k (thousand) / tr (million).
_SUFFIX = (r"(?:\s*(%)|\s*(" + _CURRENCY_ALT + r")(?![^\W\d_])|\s*(" + _UNIT_ALT + r")(?![^\W\d_²³])"
           r"|(k|K|tr)(?![^\W\d_]))")
_QUANTITY = re.compile(r"(?<![\w.,])(" + _NUM + r")" + _SUFFIX + r"?"
                       r"(?:\s*-\s*(" + _NUM + r")" + _SUFFIX + r"?)?(?![\d]|[.,]\d)")
_MILLION_SHORT = re.compile(r"(?<![\w.,])(\d+)tr(\d)(?!\d)")


def number_words(written):
    """A written number in words: "400.000" → "bốn trăm nghìn", "1,7" → "một phẩy bảy"."""
    if re.fullmatch(r"\d{1,3}(?:\.\d{3})+(?:,\d+)?", written):
        integer, _, fraction = written.partition(",")
        integer = integer.replace(".", "")
        return num.decimal(integer, fraction) if fraction else num.cardinal(int(integer))
    if "," in written or "." in written:  # "1,7"; "1.5" written the English way
        integer, fraction = re.split(r"[,.]", written, maxsplit=1)
        return num.decimal(integer, fraction)
    return num.cardinal(int(written))


def _quantity_words(number, percent, currency, unit, short, attached):
    if unit in ATTACHED_ONLY and not attached:
        return None
    if short:
        factor = 1000 if short in ("k", "K") else 10**6
        value = _value(number) * factor
        if value != int(value):
            return None
        return num.cardinal(int(value))
    words = number_words(number)
    if percent:
        words += " phần trăm"
    elif currency:
        words += " " + CURRENCY[currency]
    elif unit:
        words += " " + UNITS[unit]
    return words


def _value(written):
    if re.fullmatch(r"\d{1,3}(?:\.\d{3})+(?:,\d+)?", written):
        return float(written.replace(".", "").replace(",", "."))
    return float(written.replace(",", "."))


def _padded(m, words):
    """`words` kept apart from letters glued to the match ("5A" → "năm A")."""
    before = m.string[m.start() - 1:m.start()]
    after = m.string[m.end():m.end() + 1]
    return (" " if before.isalpha() else "") + words + (" " if after.isalpha() else "")


# Before a version-like number ("công nghiệp 4.0", "phiên bản 2.1"): read with "chấm".
_VERSION_WORDS = ("công nghiệp", "cách mạng", "phiên bản", "version", "chuyển đổi số", "nông nghiệp", "web", "zalo",
                  "Da lô", "bản", "chuẩn", "kinh tế", "giáo dục", "chính phủ", "thương mại", "y tế")
_VERSION = re.compile(r"(?<![\w.,])(\d{1,2})((?:\.\d{1,2})+)(?![\d]|[.,]\d)")


def _versions(text):
    def version(m):
        whole = m.group(0)
        if not (_before(m, _VERSION_WORDS) or re.fullmatch(r"\d\.0", whole)):
            return m.group(0)
        if re.match(r"\s*(?:" + _UNIT_ALT + "|" + _CURRENCY_ALT + r"|%|triệu|tỷ|nghìn)(?![^\W\d_])",
                    m.string[m.end():]):
            return m.group(0)  # "1.0 kg": a quantity
        return " chấm ".join(num.cardinal(int(n)) for n in whole.split("."))

    return _VERSION.sub(version, text)


def _quantities(text):
    text = _versions(text)

    def million_short(m):  # "1tr5" is 1.5 million
        millions = f"{num.cardinal(int(m.group(1)))} triệu"
        return millions if m.group(2) == "0" else f"{millions} {num.DIGITS[int(m.group(2))]} trăm nghìn"

    text = _MILLION_SHORT.sub(million_short, text)

    text = re.sub(r"(?<=\d)\s*/\s*(?=\d)", " trên ", text)  # ratios that are not dates: 3/5

    def quantity(m):
        return _padded(m, _quantity(m))

    def _quantity(m):
        g = m.groups()
        attached_first = not re.match(r"\d[\d.,]*\s", m.group(0))
        first = _quantity_words(g[0], g[1], g[2], g[3], g[4], attached_first)
        if first is None:
            return m.group(0)
        if g[5] is None:
            return first
        rest = m.group(0)[m.group(0).index("-", len(g[0])) + 1:].lstrip()
        second = _quantity_words(g[5], g[6], g[7], g[8], g[9], not re.match(r"\d[\d.,]*\s", rest))
        if second is None:
            return m.group(0)
        return f"{first} đến {second}"

    return _QUANTITY.sub(quantity, text)


# 7. Ordinals, months, Roman numerals ---------------------------------------------------------

_ROMAN_AFTER = ("quý", "khóa", "khoá", "kỳ họp", "kì họp", "kỳ", "kì", "thế kỷ", "thế kỉ", "đợt", "phần", "chương",
                "đại hội", "hội nghị", "lần", "giai đoạn", "mục")


def _ordinals(text):
    text = re.sub(r"(?<![^\W\d_])([Tt]hứ)\s+(\d{1,3})(?!\d|[.,]\d)",
                  lambda m: f"{m.group(1)} {num.ordinal(m.group(2))}", text)
    text = re.sub(r"(?<![^\W\d_])([Tt]háng)\s+(\d{1,2})(?!\d|[.,/]\d)",
                  lambda m: f"{m.group(1)} {num.month(m.group(2))}" if 1 <= int(m.group(2)) <= 12 else m.group(0),
                  text)

    def roman(m):
        value = num.roman(m.group(2))
        if value is None:
            return m.group(0)
        word = m.group(1)
        spoken = num.ordinal(value) if word.lower() == "thứ" else num.cardinal(value)
        return f"{word} {spoken}"

    after = "|".join(("thứ",) + _ROMAN_AFTER)
    return re.sub(r"(?<![^\W\d_])(" + after + r")\s+([IVXLC]+)(?![^\W\d_])", roman, text, flags=re.IGNORECASE)


# 8. Everything else --------------------------------------------------------------------------

_ANY_NUMBER = re.compile(_NUM)


def _remaining(text):
    text = re.sub(r"(?<=\d)\.(?=\d)", " chấm ", text)  # left over: "1.2.3" is a list of numbers
    text = _ANY_NUMBER.sub(lambda m: _padded(m, number_words(m.group(0))), text)
    text = text.replace("%", " phần trăm").replace("&", " và ").replace("+", " cộng ")
    text = re.sub(r"(?<=[^\W\d_])\s*/\s*(?=[^\W\d_])", " ", text)  # "anh/chị" → "anh chị"
    text = re.sub(r"(?<=[^\W\d_])-(?=[^\W\d_])", " ", text)  # "vắc-xin" → "vắc xin"
    text = re.sub(r"\s+-\s+|\s+-(?=\w)|(?<=\w)-\s+", ", ", text)  # a dash between clauses is a pause
    return text


def _tidy(text):
    text = re.sub(r"\s*[()]\s*", ", ", text)  # an aside in brackets is said between pauses
    text = text.replace('"', " ")
    text = re.sub(r"\s+", " ", text)
    text = re.sub(r"\s+([.,;:!?])", r"\1", text)
    text = re.sub(r"([,;:])(?=[^\s\d])", r"\1 ", text)
    text = re.sub(r"([.!?])[.,;:]+", r"\1", text)
    text = re.sub(r",{2,}", ",", text)
    text = re.sub(r"[,;:]\s*([.!?])", r"\1", text)
    text = text.strip(" ,;")
    # A sentence starts with a capital, also when it starts with an expansion ("Số điện thoại").
    return re.sub(r"(^|[.!?]\s+)([^\W\d_])", lambda m: m.group(1) + m.group(2).upper(), text)


_PASSES = (_abbreviations, _phones, _dates, _times, _ordinals, _rates, _quantities, _remaining)
