"""Phone numbers as residents and officials write them → E.164; masking for groups."""
import re

import phonenumbers
import pytest
from hypothesis import given, settings, strategies as st

from gateway.phone import PREFIXES_2018, PhoneError, mask, national, normalize

VALID = [
    ("0912 345 678", "+84912345678"),
    ("0912345678", "+84912345678"),
    ("0912.345.678", "+84912345678"),
    ("0912-345-678", "+84912345678"),
    ("(091) 234 5678", "+84912345678"),
    ("+84 912 345 678", "+84912345678"),
    ("+84912345678", "+84912345678"),
    ("84912345678", "+84912345678"),
    ("0084912345678", "+84912345678"),
    ("0084 912 345 678", "+84912345678"),
    ("912345678", "+84912345678"),          # a spreadsheet dropped the leading 0
    ("912345678.0", "+84912345678"),        # …and stored it as a float
    (" 0912\u00a0345\u00a0678 ", "+84912345678"),  # no-break spaces from a web page
    ("0386 123 456", "+84386123456"),
    ("0168 123 4567", "+84381234567"),      # Viettel 0168 → 038 (2018)
    ("01681234567", "+84381234567"),
    ("+84 168 123 4567", "+84381234567"),
    ("841681234567", "+84381234567"),
    ("0162 000 1111", "+84320001111"),      # Viettel 0162 → 032
    ("0120 111 2222", "+84701112222"),      # MobiFone 0120 → 070
    ("0121 111 2222", "+84791112222"),      # MobiFone 0121 → 079
    ("0123 456 7890", "+84834567890"),      # VinaPhone 0123 → 083
    ("0127 456 7890", "+84814567890"),      # VinaPhone 0127 → 081
    ("0186 456 7890", "+84564567890"),      # Vietnamobile 0186 → 056
    ("0199 456 7890", "+84594567890"),      # Gmobile 0199 → 059
    ("024 3822 1234", "+842438221234"),     # Hà Nội landline
    ("0263 3822 123", "+842633822123"),     # Lâm Đồng landline
    ("+1 415 867 5309", "+14158675309"),    # foreign numbers in E.164 are kept
]


@pytest.mark.parametrize("typed, e164", VALID)
def test_normalize(typed, e164):
    assert normalize(typed) == e164


INVALID = [
    ("", "empty", "Chưa có số"),
    ("   ", "empty", "Chưa có số"),
    (None, "empty", "Chưa có số"),
    ("09123abc78", "characters", "không phải chữ số"),
    ("không có", "characters", "không phải chữ số"),
    ("0912 345", "invalid", "thiếu chữ số"),
    ("12345", "length", "10 chữ số"),
    ("0912 345 678 999", "invalid", "thừa chữ số"),
    ("0123 456 789", "invalid", "đầu số 012"),
    ("1900 1234", "length", "10 chữ số"),
    ("1900 123 456", "type", "tổng đài"),
    ("+84 1900 123 456", "type", "tổng đài"),
]


@pytest.mark.parametrize("typed, code, words", INVALID)
def test_invalid_numbers_say_what_to_fix(typed, code, words):
    with pytest.raises(PhoneError) as err:
        normalize(typed)
    assert isinstance(err.value, ValueError)
    assert err.value.code == code
    assert words in str(err.value)
    assert "0912 345 678" in str(err.value) or code == "type"  # an example of the right form


def test_every_2018_prefix_maps_to_a_valid_mobile():
    for old, new in PREFIXES_2018.items():
        e164 = normalize(old + "1234567")
        assert e164 == "+84" + new[1:] + "1234567"
        assert phonenumbers.number_type(phonenumbers.parse(e164)) == phonenumbers.PhoneNumberType.MOBILE


@pytest.mark.parametrize("e164, masked", [
    ("+84912345678", "09x xxx x678"),
    ("+84381234567", "03x xxx x567"),
    ("+842438221234", "02x xxxx x234"),
    ("+14158675309", "+1 xxx xxx x309"),
])
def test_mask(e164, masked):
    assert mask(e164) == masked


def test_national_form():
    assert national("+84912345678") == "0912 345 678"


vn_mobiles = st.builds(
    lambda prefix, rest: f"+84{prefix}{rest:07d}",
    st.sampled_from(["32", "33", "34", "35", "36", "37", "38", "39", "70", "76", "77", "78", "79", "81",
                     "82", "83", "84", "85", "86", "88", "90", "91", "93", "94", "96", "97", "98"]),
    st.integers(0, 9_999_999),
)


@settings(max_examples=300)
@given(vn_mobiles)
def test_mask_never_shows_enough_digits_to_call(e164):
    masked = mask(e164)
    digits = re.sub(r"\D", "", masked)
    assert len(digits) <= 5  # two prefix digits and the last three
    assert masked.endswith(e164[-3:])
    for form in (e164, e164[1:], "0" + e164[3:], e164[3:], e164[-7:]):
        assert form not in masked.replace(" ", "")


@settings(max_examples=300)
@given(vn_mobiles)
def test_normalize_accepts_every_way_of_writing_a_number(e164):
    local = "0" + e164[3:]
    for typed in (local, e164, e164[1:], "00" + e164[1:], f"{local[:4]} {local[4:7]} {local[7:]}",
                  f"{local[:4]}.{local[4:7]}.{local[7:]}"):
        assert normalize(typed) == e164
