"""Phone numbers as residents and officials write them → E.164; masking for groups."""
import re

import phonenumbers
import pytest
from hypothesis import given, settings, strategies as st

from gateway.phone import PREFIXES_2018, PhoneError, household, hotline, mask, mask_text, national, normalize

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
    ("+1 415 867 5309", "+14158675309"),    # foreign numbers in E.164 are kept (senders, callers)
    # a word before the number, as people write it in a form or a text
    ("số 0912 345 678", "+84912345678"),
    ("Số 0912345678", "+84912345678"),
    ("SĐT: 0912.345.678", "+84912345678"),
    ("sdt 0912345678", "+84912345678"),
    ("ĐT 0912 345 678", "+84912345678"),
    ("Số điện thoại: 0912-345-678", "+84912345678"),
    ("so dien thoai 0168 123 4567", "+84381234567"),
    # tel: URIs, with and without dashes
    ("tel:+84912345678", "+84912345678"),
    ("tel:+84-912-345-678", "+84912345678"),
    ("TEL:0912-345-678", "+84912345678"),
    ("tel:+84-24-3822-1234", "+842438221234"),
    # ten digits without the 0, where a spreadsheet dropped it: an old 11-digit mobile, a landline
    ("1681234567", "+84381234567"),
    ("2438221234", "+842438221234"),
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
    ("1900 1234", "type", "tổng đài"),
    ("1900 123 456", "type", "tổng đài"),
    ("+84 1900 123 456", "type", "tổng đài"),
    ("1800 1234", "type", "tổng đài"),
    # ten digits that are no Vietnamese number: not a mobile with its 0 lost, nor an old mobile
    ("9123456789", "not_vietnamese", "không bắt đầu bằng 0"),
    ("4155550123", "not_vietnamese", "mã nước"),
    ("8491234567", "not_vietnamese", "không phải số Việt Nam"),
    ("5551234567", "not_vietnamese", "không phải số Việt Nam"),
    ("số 91234567890", "length", "11 chữ số"),
    ("tel:", "characters", "không phải chữ số"),
    ("số nhà 5", "characters", "không phải chữ số"),
]


@pytest.mark.parametrize("typed, code, words", INVALID)
def test_invalid_numbers_say_what_to_fix(typed, code, words):
    with pytest.raises(PhoneError) as err:
        normalize(typed)
    assert isinstance(err.value, ValueError)
    assert err.value.code == code
    assert words in str(err.value)
    assert "0912 345 678" in str(err.value) or code == "type"  # an example of the right form


# A household's own phone: what normalize accepts, but Vietnamese and never a service number.
@pytest.mark.parametrize("typed, e164", [
    ("0912 345 678", "+84912345678"), ("số 0168 123 4567", "+84381234567"), ("tel:+84-912-345-678", "+84912345678"),
    ("024 3822 1234", "+842438221234"), ("912345678.0", "+84912345678"),
])
def test_household_numbers(typed, e164):
    assert household(typed) == e164


@pytest.mark.parametrize("typed, code, words", [
    ("+1 415 867 5309", "foreign", "số nước ngoài (mã +1)"),
    ("0044 20 7946 0958", "foreign", "số nước ngoài (mã +44)"),
    ("+86 138 0013 8000", "foreign", "cần một số điện thoại Việt Nam"),
    ("1900 123 456", "type", "tổng đài"),
    ("1800 1234", "type", "tổng đài"),
    ("4155550123", "not_vietnamese", "mã nước"),
    ("", "empty", "Chưa có số"),
])
def test_household_refuses_what_cannot_reach_a_household(typed, code, words):
    with pytest.raises(PhoneError) as err:
        household(typed)
    assert err.value.code == code and words in str(err.value)
    assert "0912 345 678" in str(err.value) or code == "type"


# A hotline residents call: also the 1800 (free) and 1900 (paid) service numbers, 4 or 6 digits after.
@pytest.mark.parametrize("typed, e164", [
    ("1900 1234", "+8419001234"), ("19001234", "+8419001234"), ("1900.123.456", "+841900123456"),
    ("1800 599 920", "+841800599920"), ("1800-1234", "+8418001234"), ("tổng đài 1800 1234", "+8418001234"),
    ("+84 1900 1234", "+8419001234"), ("+84 1900 123 456", "+841900123456"), ("tel:1900-1234", "+8419001234"),
    ("0263 3822 123", "+842633822123"), ("024 3822 1234", "+842438221234"), ("0912 345 678", "+84912345678"),
    ("+1 415 867 5309", "+14158675309"),
])
def test_hotline_numbers(typed, e164):
    assert hotline(typed) == e164


@pytest.mark.parametrize("typed, code", [
    ("1900 12345", "service"), ("1900 1234567", "length"), ("1800 12345", "service"), ("1700 1234", "length"),
    ("", "empty"), ("1900 abcd", "characters"),
])
def test_hotline_refuses_what_no_one_can_call(typed, code):
    with pytest.raises(PhoneError) as err:
        hotline(typed)
    assert err.value.code == code


def test_a_service_number_is_never_a_households_phone():
    for typed in ("1900 1234", "1800 599 920", "+84 1900 123 456", "19001234"):
        assert hotline(typed).startswith("+841")
        with pytest.raises(PhoneError):
            household(typed)
        with pytest.raises(PhoneError):
            normalize(typed)


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


# Masking inside free text: every way a number is written, and nothing that is not one ----------

MASKED = [
    ("0912345678", "xxxxxxx678"),
    ("0912 345 678", "xxxxxxx678"),
    ("0912.345.678", "xxxxxxx678"),
    ("0912-345-678", "xxxxxxx678"),
    ("0912,345,678", "xxxxxxx678"),
    ("0912/345/678", "xxxxxxx678"),
    ("0912_345_678", "xxxxxxx678"),
    ("0912–345–678", "xxxxxxx678"),
    ("0912—345—678", "xxxxxxx678"),
    ("0912 - 345 - 678", "xxxxxxx678"),
    ("0912 . 345 . 678", "xxxxxxx678"),
    ("(091) 234 5678", "xxxxxxx678"),
    ("+84 912 345 678", "xxxxxxx678"),
    ("+84912345678", "xxxxxxx678"),
    ("+84-912-345-678", "xxxxxxx678"),
    ("+84 (0) 912 345 678", "xxxxxxx678"),
    ("84912345678", "xxxxxxx678"),
    ("84 912 345 678", "xxxxxxx678"),
    ("0084 912 345 678", "xxxxxxx678"),
    ("0168 123 4567", "xxxxxxx567"),           # old 11-digit Viettel, converted in 2018
    ("01681234567", "xxxxxxx567"),
    ("0123.456.7890", "xxxxxxx890"),           # old VinaPhone
    ("+84 168 123 4567", "xxxxxxx567"),
    ("024 3822 1234", "xxxxxxxx234"),          # a landline
    ("+1 415 867 5309", "xxxxxxxx309"),        # a foreign number
    ("Nhà ông Tư, số 0912 345 678, ở hẻm 3", "Nhà ông Tư, số xxxxxxx678, ở hẻm 3"),
    ("goi 0912345678 hoac 0987.654.321 nhe", "goi xxxxxxx678 hoac xxxxxxx321 nhe"),
    ("0912345678, 0987654321", "xxxxxxx678, xxxxxxx321"),
    ("0912345678/0987654321", "xxxxxxx678/xxxxxxx321"),
    ("SĐT:0912345678", "SĐT:xxxxxxx678"),
    ("sdt0912345678", "sdtxxxxxxx678"),
    ("Số nhà 12, 0912345678", "Số nhà 12, xxxxxxx678"),
    ("Họp ngày 14/8/2024 0912 345 678", "Họp ngày 14/8/2024 xxxxxxx678"),
    ("Tổ 5 0912 345 678", "Tổ 5 xxxxxxx678"),
    ("Từ 0912.345.678 (anh Tư)", "Từ xxxxxxx678 (anh Tư)"),
    ("(0912345678)", "(xxxxxxx678)"),
    ("Gọi (0912) 345 678 nhé", "Gọi xxxxxxx678 nhé"),
]

KEPT = [
    "Vay 10.000.000 đồng, lãi 0,65%/tháng",
    "Vốn 2.100.000.000 đồng",                   # would read as a landline with its 0 lost
    "Tổng 1.234.567.890 đồng",                  # would read as an old VinaPhone number
    "Dân số 14.250 người, 3.000 hộ",
    "Họp lúc 14h ngày 14/8/2024",
    "Từ ngày 01/08/2024 - 15/08/2024",
    "Ngày 2024-08-14 lúc 7:30 - 11:30",
    "Từ 07:30 đến 11:30, 13:30 - 17:00",
    "Mã hồ sơ 12345",
    "Hồ sơ H26.22-240815-0001",
    "Phản ánh #123456",
    "Phản ánh số 2024-000123",
    "Gọi đường dây nóng 1900 1234 hoặc 1800.599.920",
    "Gọi 113, 114, 115",
    "Tiêm cho trẻ 9-18 tháng, 2 mũi",
    "CCCD 001 085 012 345",                    # an identity card number is no phone (12 digits)
]


@pytest.mark.parametrize("text, masked", MASKED)
def test_mask_text(text, masked):
    assert mask_text(text) == masked


@pytest.mark.parametrize("text", KEPT)
def test_mask_text_keeps_what_is_not_a_phone(text):
    assert mask_text(text) == text


FORMS = [
    lambda n: n, lambda n: f"{n[:4]} {n[4:7]} {n[7:]}", lambda n: f"{n[:4]}.{n[4:7]}.{n[7:]}",
    lambda n: f"{n[:4]},{n[4:7]},{n[7:]}", lambda n: f"{n[:4]}/{n[4:7]}/{n[7:]}", lambda n: f"{n[:4]}_{n[4:7]}_{n[7:]}",
    lambda n: f"{n[:4]}–{n[4:7]}–{n[7:]}", lambda n: f"{n[:4]} - {n[4:7]} - {n[7:]}",
    lambda n: "+84" + n[1:], lambda n: f"+84 {n[1:4]} {n[4:7]} {n[7:]}", lambda n: "84" + n[1:],
    lambda n: f"({n[:4]}) {n[4:]}",
]


@settings(max_examples=300)
@given(vn_mobiles, st.sampled_from(FORMS), st.sampled_from(["", "Gọi ", "số ", "liên hệ: ", "(", "Họp 14/8, "]),
       st.sampled_from(["", ".", " nhé", ", cảm ơn", ")", " lúc 8h30"]))
def test_mask_text_hides_every_form(e164, form, before, after):
    local = "0" + e164[3:]
    masked = mask_text(before + form(local) + after)
    assert masked == before + "xxxxxxx" + local[-3:] + after


def test_area_hotline_settings_take_service_numbers():
    from gateway.areas.settings import validate_hotline

    assert validate_hotline("1900 1234") == "+8419001234"
    assert validate_hotline("tổng đài 1800 599 920") == "+841800599920"
    with pytest.raises(ValueError, match="4 hoặc 6 chữ số"):
        validate_hotline("1900 12345")
