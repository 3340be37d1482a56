"""audio.verbalize: the table of real announcement phrasing, and the number rules one by one."""
import re

import pytest

from audio import numbers, verbalize
from tests.verbalize_cases import CASES


def test_the_table_is_big_enough():
    assert len(CASES) >= 100
    assert len({written for written, _ in CASES}) == len(CASES)


@pytest.mark.parametrize("written, spoken", CASES, ids=[c[0][:40] for c in CASES])
def test_verbalize(written, spoken):
    assert verbalize(written) == spoken


@pytest.mark.parametrize("n, words", [
    (0, "không"), (5, "năm"), (10, "mười"), (11, "mười một"), (14, "mười bốn"), (15, "mười lăm"),
    (20, "hai mươi"), (21, "hai mươi mốt"), (24, "hai mươi tư"), (25, "hai mươi lăm"), (41, "bốn mươi mốt"),
    (55, "năm mươi lăm"), (100, "một trăm"), (101, "một trăm linh một"), (104, "một trăm linh bốn"),
    (105, "một trăm linh năm"), (110, "một trăm mười"), (111, "một trăm mười một"), (121, "một trăm hai mươi mốt"),
    (1000, "một nghìn"), (1005, "một nghìn không trăm linh năm"), (1010, "một nghìn không trăm mười"),
    (1024, "một nghìn không trăm hai mươi tư"), (2000, "hai nghìn"), (10000, "mười nghìn"),
    (15000, "mười lăm nghìn"), (21000, "hai mươi mốt nghìn"), (105000, "một trăm linh năm nghìn"),
    (1000000, "một triệu"), (1000005, "một triệu không trăm linh năm"), (1005000, "một triệu không trăm linh năm nghìn"),
    (2000500, "hai triệu năm trăm"), (1000000000, "một tỷ"), (1000000001, "một tỷ không trăm linh một"),
    (5000000000000, "năm nghìn tỷ"),
])
def test_cardinal_rules(n, words):
    assert numbers.cardinal(n) == words


@pytest.mark.parametrize("integer, fraction, words", [
    ("1", "7", "một phẩy bảy"), ("0", "5", "không phẩy năm"), ("6", "25", "sáu phẩy hai mươi lăm"),
    ("1", "05", "một phẩy không năm"), ("3", "125", "ba phẩy một hai năm"),
])
def test_decimals(integer, fraction, words):
    assert numbers.decimal(integer, fraction) == words


def test_ordinals_months_and_roman_numerals():
    assert [numbers.ordinal(n) for n in (1, 2, 4, 14)] == ["nhất", "hai", "tư", "mười bốn"]
    assert [numbers.month(n) for n in (1, 4, 10, 12)] == ["một", "tư", "mười", "mười hai"]
    assert [numbers.roman(r) for r in ("IV", "XIII", "XV", "IIII", "ABC", "")] == [4, 13, 15, None, None, None]


def test_every_number_from_1_to_9999_is_words_only():
    for n in range(1, 10000):
        words = numbers.cardinal(n)
        assert words and not any(c.isdigit() for c in words), n
        if n % 100 >= 21 and n % 10 == 1:
            assert words.endswith("mốt")
        if n % 100 == 11:
            assert words.endswith("mười một")


from hypothesis import given, settings, strategies as st  # noqa: E402

ANNOUNCEMENT_ALPHABET = st.sampled_from(list("0123456789 ./-,:%hđkmgà") + ["tháng ", "ngày ", "thứ ", "gọi ", "UBND ", "\n"])


@settings(max_examples=300, deadline=None)
@given(st.lists(ANNOUNCEMENT_ALPHABET, max_size=30).map("".join))
def test_no_digit_survives_and_nothing_raises(text):
    """Whatever officials type, the engine is never handed a digit to misread."""
    spoken = verbalize(text)
    assert not any(c.isdigit() for c in spoken), (text, spoken)


def test_empty_and_blank_text():
    assert verbalize("") == ""
    assert verbalize("  \n\n ") == ""


PLAIN_WORDS = st.sampled_from(["Khẩn!", "khẩn", "lưu ý,", "bà con", "thông báo", "họp", "tại", "nhà văn hóa",
                               '"Ngày hội Đại đoàn kết"', "“Xã hội học tập”", "«Tết vì người nghèo»", "thôn",
                               "Tân Lợi", "nhé.", "xin", "mời", "- ", "(", ")", "THÔNG BÁO", "đi", "về"])


@settings(max_examples=200, deadline=None)
@given(st.lists(PLAIN_WORDS, min_size=1, max_size=12).map(" ".join))
def test_no_word_is_dropped_quoted_titles_and_repeats_included(text):
    """Titles in quotes and repeated phrases are read as written: every word, in order, none merged."""
    def words(t):
        return re.findall(r"[^\W\d_]+", t.lower())

    assert words(verbalize(text)) == words(text)
