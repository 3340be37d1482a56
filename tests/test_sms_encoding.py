"""GSM-7 for basic phones, and segments counted as carriers count them."""
import json
import os
import unicodedata

import pytest
from hypothesis import given, settings, strategies as st

from gateway.sms.encoding import GSM_BASIC, GSM_EXTENSION, count_segments, is_gsm, length, to_gsm

REFERENCE = os.path.join(os.path.dirname(__file__), "..", "..", "shared", "reference")


def reference(name):
    with open(os.path.join(REFERENCE, name), encoding="utf-8") as f:
        return json.load(f)


SEGMENT_CASES = reference("sms_segments.json")


@pytest.mark.parametrize("case", SEGMENT_CASES, ids=[f"{i}-{c['encoding']}-{c['segments']}" for i, c in
                                                     enumerate(SEGMENT_CASES)])
def test_reference_segment_counts(case):
    assert count_segments(case["text"]) == (case["encoding"], case["segments"])


@pytest.mark.parametrize("text, expected", [
    ("a" * 160, ("GSM-7", 1)), ("a" * 161, ("GSM-7", 2)), ("a" * 306, ("GSM-7", 2)), ("a" * 307, ("GSM-7", 3)),
    ("€" * 80, ("GSM-7", 1)), ("€" * 81, ("GSM-7", 2)),
    # 152 septets, then an extension character: it cannot straddle the part boundary.
    ("a" * 152 + "€" + "a" * 10, ("GSM-7", 2)),
    ("ă" * 70, ("UCS-2", 1)), ("ă" * 71, ("UCS-2", 2)), ("ă" * 134, ("UCS-2", 2)), ("ă" * 135, ("UCS-2", 3)),
    ("a" * 66 + "😀" + "ă", ("UCS-2", 1)),  # 66 + 2 + 1 = 69 UTF-16 units
    ("a" * 68 + "😀", ("UCS-2", 1)), ("a" * 69 + "😀", ("UCS-2", 2)),
    ("", ("GSM-7", 1)),
])
def test_boundaries(text, expected):
    assert count_segments(text) == expected


def test_surrogate_pair_moves_whole_to_the_next_part():
    # 66 units then an emoji: 68 > 67 per part, so the emoji starts part two (never split).
    text = "ă" * 66 + "😀" + "ă" * 10
    assert count_segments(text) == ("UCS-2", 2)
    assert count_segments("ă" * 66 + "😀" + "ă" * 66) == ("UCS-2", 3)  # 66 | 2+65 | 1


def test_extension_pair_in_a_part_boundary_costs_a_part():
    assert count_segments("a" * 152 + "€" + "a" * 152) == ("GSM-7", 3)
    assert count_segments("a" * 151 + "€" + "a" * 153) == ("GSM-7", 2)


VIETNAMESE = [
    ("Thông báo họp tổ dân phố", "Thong bao hop to dan pho"),
    ("Đường Điện Biên Phủ", "Duong Dien Bien Phu"),
    ("ĐĂNG KÝ", "DANG KY"),
    ("Phường Đống Đa, Hà Nội", "Phuong Dong Da, Ha Noi"),
    ("Cước phí: 5.000đ – hạn 15/3", "Cuoc phi: 5.000d - han 15/3"),
    ("Giá 50.000₫", "Gia 50.000d"),
    ("“khẩn” ‘gấp’", "\"khan\" 'gap'"),
    ("chờ…", "cho..."),
    ("a\u00a0b\u202fc\u2009d", "a b c d"),
    ("Hết—hạn", "Het-han"),
    ("«Trời»", "\"Troi\""),
    ("ỳ ỷ ỹ ý ỵ Ỳ Ỷ Ỹ Ý Ỵ", "y y y y y Y Y Y Y Y"),
    ("ắ ằ ẳ ẵ ặ ấ ầ ẩ ẫ ậ", "a a a a a a a a a a"),
    ("ơ ờ ở ỡ ớ ợ ư ừ ử ữ ứ ự", "o o o o o o u u u u u u"),
    ("Xin chào 😀!", "Xin chao !"),
    ("30°C", "30 do C"),
]


@pytest.mark.parametrize("text, plain", VIETNAMESE)
def test_to_gsm(text, plain):
    assert to_gsm(text) == plain
    assert count_segments(to_gsm(text))[0] == "GSM-7"


@pytest.mark.parametrize("text, plain", VIETNAMESE)
def test_decomposed_input_gives_the_same(text, plain):
    assert to_gsm(unicodedata.normalize("NFD", text)) == plain


def test_every_vietnamese_letter_becomes_plain():
    letters = "aàảãáạăằẳẵắặâầẩẫấậeèẻẽéẹêềểễếệiìỉĩíịoòỏõóọôồổỗốộơờởỡớợuùủũúụưừửữứựyỳỷỹýỵđ"
    for letter in letters + letters.upper():
        plain = to_gsm(letter)
        assert len(plain) == 1 and plain.isascii() and plain.isalpha(), letter
        assert plain.lower() in "aeiouyd"


def test_smart_encoding_table_entries_become_gsm():
    table = reference("smart_encoding_map.json")["map"]
    for code, entry in table.items():
        char = chr(int(code[2:], 16))
        if unicodedata.category(char) == "Mn":
            continue  # combining marks are dropped (Vietnamese marks), not turned into ^ or ~
        assert is_gsm(to_gsm(char)), code


def test_gsm_text_is_kept():
    text = "Hop luc 19h, phi 5.000 d (50%) {x} [y] ~z €1 @#$"
    assert to_gsm(text) == text


@settings(max_examples=500, deadline=None)
@given(st.text())
def test_to_gsm_always_gives_gsm7(text):
    plain = to_gsm(text)
    assert is_gsm(plain)
    assert count_segments(plain)[0] == "GSM-7"
    assert to_gsm(plain) == plain.replace("\f", "\n")  # idempotent


def _split(text):
    """An independent splitter: parts as a phone would fill them, never splitting an escape or a pair."""
    gsm = is_gsm(text)
    single, part = (160, 153) if gsm else (70, 67)
    cost = (lambda c: 2 if c in GSM_EXTENSION else 1) if gsm else (lambda c: len(c.encode("utf-16-le")) // 2)
    if sum(cost(c) for c in text) <= single:
        return [text]
    parts, current, used = [], "", 0
    for c in text:
        if used + cost(c) > part:
            parts.append(current)
            current, used = "", 0
        current += c
        used += cost(c)
    parts.append(current)
    return parts


alphabet = st.sampled_from(sorted(GSM_BASIC | GSM_EXTENSION) + list("ăđ😀€{}"))


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=alphabet, max_size=700))
def test_segments_match_an_independent_split(text):
    encoding, n = count_segments(text)
    parts = _split(text)
    assert n == len(parts)
    assert "".join(parts) == text
    limit = (160 if encoding == "GSM-7" else 70) if n == 1 else (153 if encoding == "GSM-7" else 67)
    for p in parts:
        if encoding == "GSM-7":
            assert length(p) <= limit
        else:
            assert len(p.encode("utf-16-le")) // 2 <= limit  # whole characters: no half surrogate pair
