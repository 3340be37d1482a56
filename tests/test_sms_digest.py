"""Reply texts and digests: plain GSM-7, within their segment budget, ending with the hotline."""
import datetime as dt
from types import SimpleNamespace

import pytest
from hypothesis import given, settings, strategies as st

from gateway.models import Announcement, Area, utcnow
from gateway.sms.digest import announcement_sms, digest, digest_text
from gateway.sms.encoding import count_segments
from gateway.sms.replies import MAY_SPAN, REPLIES, area_list, hotline_text, render

LONG = {
    "area": "Tổ dân phố Nguyễn Văn Linh mở rộng", "text": "khu phố Nguyễn Thị Minh Khai 12",
    "old": "Tổ dân phố Trần Hưng Đạo cũ số 12",
    "suggestions": "KP1 (Khu pho 1), KP2 (Khu pho 2), TANLOI (Thon Tan Loi)", "n": 14,
    "candidates": "KP1 To 1, KP2 To 1, KP3 To 1, KP4 To 1, KP5 To 1, KP6 To 1, ...", "first": "KP1 To 1",
    "number": 123456, "hotline": "0263 3822 123", "example": "KP1", "limit": 1600,
    "label": "Hỗ trợ gạo và tiền điện cho hộ nghèo trong ba tháng",
}


@pytest.mark.parametrize("name", sorted(REPLIES))
def test_every_reply_is_plain_and_one_segment(name):
    text = render(name, **LONG)
    encoding, segments = count_segments(text)
    assert encoding == "GSM-7"
    assert segments == 1 or name in MAY_SPAN
    assert segments <= 2
    assert "{" not in text  # every value filled


@pytest.mark.parametrize("name", sorted(MAY_SPAN))
def test_lists_stay_in_one_segment_with_ordinary_values(name):
    text = render(name, text="to 1", n=14, candidates="KP1 To 1, KP2 To 1, KP3 To 1, KP4 To 1, ...",
                  first="KP1 To 1", suggestions="TANLOI (Thon Tan Loi)")
    assert count_segments(text) == ("GSM-7", 1)


def test_long_values_are_shortened_to_keep_one_segment():
    text = render("report_received", number=987654, area="Khu phố " + "rất dài " * 20)
    assert count_segments(text) == ("GSM-7", 1) and "#987654" in text and "..." in text


def test_hotline_is_written_as_people_dial_it():
    assert hotline_text("+842633822123") == "0263 3822 123"
    assert hotline_text("+84912345678") == "0912 345 678"
    assert hotline_text("1900 1234") == "1900 1234"
    assert hotline_text(None) == ""


def ann(title, body, priority="normal", sms_text=None):
    return SimpleNamespace(title=title, body=body, priority=priority, sms_text=sms_text)


FLU = ann("Cúm gia cầm", "Phát hiện ổ dịch cúm gia cầm tại thôn Tân Lợi. Người dân không mua bán gà vịt "
          "không rõ nguồn gốc, báo ngay cho cán bộ thú y khi thấy gia cầm chết.", "urgent")
MEETING = ann("Họp tổ dân phố", "Họp lúc 19h thứ Bảy tại nhà văn hóa khu phố 5.")


def test_digest_one_segment_urgent_first_cut_at_a_word_ends_with_hotline():
    text = digest_text([FLU, MEETING], area_name="Khu phố 5", hotline="+842633822123")
    assert count_segments(text) == ("GSM-7", 1)
    assert text.startswith("Tin Khu pho 5: 1) KHAN: Cum gia cam: Phat hien")
    assert text.endswith(" Chi tiet: goi 0263 3822 123")
    body = text[: -len(" Chi tiet: goi 0263 3822 123")]
    assert body.endswith("...")
    words = set(("Tin Khu pho 5: 1) KHAN: Cum gia cam: " + "Phat hien o dich cum gia cam tai thon Tan Loi. Nguoi dan "
                 "khong mua ban ga vit khong ro nguon goc, bao ngay cho can bo thu y khi thay gia cam chet.").split())
    assert all(w in words for w in body[:-3].split())  # no word cut in half


def test_digest_with_two_segments_carries_both():
    text = digest_text([FLU, MEETING], area_name="Khu phố 5", hotline="+842633822123", segments=2)
    assert count_segments(text) == ("GSM-7", 2)
    assert "2) Hop to dan pho" in text and text.endswith("goi 0263 3822 123")


def test_digest_of_nothing():
    text = digest_text([], area_name="Khu phố 5", hotline="+842633822123")
    assert text == "Chua co thong bao moi cho Khu pho 5. Nghe ban tin: goi 0263 3822 123"


def test_announcement_sms_uses_its_own_sms_text():
    text = announcement_sms(ann("x", "y", sms_text="Mai cắt điện 8h-17h"), hotline="+842633822123")
    assert text == "Mai cat dien 8h-17h Nghe day du: goi 0263 3822 123"


def test_digest_reads_current_announcements_of_the_area(db):
    commune = Area(level="commune", kind="xa", name="Xã Tân Lập", code="TL", hotline_number="+842633822123")
    kp5 = Area(level="neighbourhood", kind="khu_pho", name="Khu phố 5", code="KP5", parent=commune)
    db.add_all([commune, kp5])
    now = utcnow()
    db.add(Announcement(title="Cắt điện", body="Thứ Hai cắt điện cả xã từ 8h đến 17h.", status="sent", areas=[commune],
                        send_at=now - dt.timedelta(hours=1), expires_at=now + dt.timedelta(days=1)))
    db.add(Announcement(title="Cũ", body="Đã hết hạn", status="sent", areas=[kp5],
                        send_at=now - dt.timedelta(days=3), expires_at=now - dt.timedelta(days=1)))
    db.flush()
    text = digest(db, kp5, hotline=kp5.inherited("hotline_number"))
    assert text == "Cat dien: Thu Hai cat dien ca xa tu 8h den 17h. Chi tiet: goi 0263 3822 123"


vietnamese = st.text(alphabet="aăâbcdđeêghiklmnoôơpqrstuưvxyàảãáạằẳẵắặầẩẫấậèẻẽéẹềểễếệìỉĩíịòỏõóọồổỗốộờởỡớợùủũúụừửữứựỳỷỹýỵ"
                     "ĐĂÂ0123456789 .,:;!?-–—…“”‘’{}[]~|^€\\\n😀", min_size=0, max_size=400)
announcements = st.lists(st.builds(ann, vietnamese.filter(bool), vietnamese,
                                   st.sampled_from(["normal", "urgent", "emergency"]),
                                   st.one_of(st.none(), vietnamese.filter(bool))), max_size=6)
hotlines = st.one_of(st.none(), st.builds(lambda p, n: f"+84{p}{n:07d}", st.sampled_from(["91", "98", "32", "86"]),
                                          st.integers(0, 9_999_999)),
                     st.sampled_from(["+842633822123", "1900 1234", "113"]))


@settings(max_examples=400, deadline=None)
@given(items=announcements, hotline=hotlines, segments=st.integers(1, 4),
       area=st.text(alphabet="Khu phố Tân Lợi 0123456789{}€", min_size=1, max_size=60))
def test_digest_never_exceeds_its_budget(items, hotline, segments, area):
    text = digest_text(items, area_name=area, hotline=hotline, segments=segments)
    encoding, n = count_segments(text)
    assert encoding == "GSM-7"
    assert n <= segments
    if hotline and items:
        assert text.endswith(f"goi {hotline_text(hotline)}")


@settings(max_examples=300, deadline=None)
@given(item=announcements.filter(bool).map(lambda x: x[0]), hotline=hotlines, segments=st.integers(1, 3))
def test_announcement_sms_never_exceeds_its_budget(item, hotline, segments):
    text = announcement_sms(item, hotline=hotline, segments=segments)
    encoding, n = count_segments(text)
    assert encoding == "GSM-7" and n <= segments
    if hotline:
        assert text.endswith(f"goi {hotline_text(hotline)}")


def test_area_list_is_cut_with_an_ellipsis():
    areas = [SimpleNamespace(level="neighbourhood", code=f"KP{i}", name=f"Khu phố {i}", parent=None) for i in range(1, 15)]
    text = area_list(areas, budget=40)
    assert text.startswith("KP1 (Khu pho 1), KP2 (Khu pho 2)") and text.endswith("...") and len(text) <= 45


# Shortening keeps what residents need (issue 17, item 1) ------------------------------------

from gateway.sms.digest import announcement_text, facts, shorten, sms_plan  # noqa: E402

CONTACT = ann("Tiêm phòng dại", "Sáng thứ Bảy 14/8 lúc 7h30 tiêm phòng dại cho chó mèo tại nhà văn hóa thôn Tân Lợi. "
              "Chó phải được rọ mõm và xích cẩn thận khi đưa đến điểm tiêm, trẻ em không dắt chó đi tiêm. "
              "Liên hệ 0912 345 678.")


def test_tin_reply_carries_the_priority_prefix_once_and_no_second_hotline():
    urgent = ann("Cháy rừng", "Cháy ở đồi thông, tránh xa khu vực.", "urgent")
    urgent.sms_text = announcement_sms(urgent, hotline="+842633822123")  # as the broadcast stores it
    assert urgent.sms_text.startswith("KHAN: Chay rung:")
    text = digest_text([urgent, MEETING], area_name="Khu phố 5", hotline="+842633822123", segments=2)
    assert text.count("KHAN") == 1 and text.count("goi 0263 3822 123") == 1
    assert announcement_text(urgent) == "KHAN: Chay rung: Chay o doi thong, tranh xa khu vuc."


def test_broadcast_sms_keeps_the_contact_number_before_other_sentences():
    text = announcement_sms(CONTACT, hotline="+842633822123")
    assert count_segments(text) == ("GSM-7", 1)
    assert "Lien he 0912 345 678" in text and "14/8" in text and "7h30" in text
    assert text.endswith(" Nghe day du: goi 0263 3822 123")
    assert "tre em" not in text  # the sentence without facts made room


def test_nothing_is_lost_silently():
    plan = sms_plan(CONTACT, hotline="+842633822123")
    assert plan["needed"] == plan["full_parts"] == 2 and plan["full_lost"] == []
    assert all(f in plan["full"] for f in facts(announcement_text(CONTACT)))
    crowded = ann("Vay vốn", "Ngày 14/8 tại UBND xã: hộ ông A 12 triệu, hộ bà B 15 triệu, hộ ông C 9 triệu, "
                  "hộ bà D 20 triệu, hộ ông E 7 triệu, hộ bà G 11 triệu, hộ ông H 30 triệu. Liên hệ 0912 345 678.")
    plan = sms_plan(crowded, hotline="+842633822123")
    assert plan["short_lost"]  # one SMS cannot hold them all, and says which
    for fact in plan["short_lost"]:
        assert fact not in plan["short"]
    for fact in facts(plan["short"].removesuffix(" Nghe day du: goi 0263 3822 123")):
        assert fact in facts(announcement_text(crowded))  # never half a number


def test_cut_never_splits_a_phone_number_or_a_date():
    text = "Moi nguoi goi ngay cho can bo so 0912 345 678 de duoc ho tro kip thoi"
    for limit in range(10, len(text)):
        short, lost = shorten(text, limit)
        assert len(short) <= limit
        assert "0912 345 678" in short or ("0912" not in short and lost == ["0912 345 678"])


def test_dk_suggestions_never_cut_a_code_in_half():
    areas = [SimpleNamespace(level="neighbourhood", code=f"KP{i}", name=f"Khu phố {i}", parent=None)
             for i in (1, 10, 11, 12, 13, 14, 15)]
    text = render("unknown_area", text="KP15", suggestions=area_list(areas, budget=70))
    import re

    codes = re.findall(r"\bKP\d+", text.split("Co phai:")[1])
    assert codes and len(codes) == len(set(codes))  # never "KP1" twice where one was KP10
    assert all(f"{c} (Khu pho {c[2:]})" in text for c in codes)


@settings(max_examples=300, deadline=None)
@given(text=vietnamese.map(lambda s: " ".join(s.split())), limit=st.integers(10, 200))
def test_shorten_never_invents_half_facts(text, limit):
    from gateway.sms.encoding import length, to_gsm

    text = to_gsm(text)
    short, lost = shorten(text, limit)
    assert length(short) <= limit
    whole = facts(text)
    for fact in facts(short):
        assert fact in whole


def test_without_a_choice_facts_take_more_parts_rather_than_being_dropped():
    from gateway.sms.digest import default_sms

    short = ann("Họp", "Tối nay 19h họp dân tại nhà văn hóa.")
    assert default_sms(short, hotline="+842633822123") == announcement_sms(short, hotline="+842633822123")
    chatty = ann("Tiêm phòng", "Người dân chú ý thực hiện đầy đủ các biện pháp phòng bệnh cho vật nuôi trong gia đình, "
                 "giữ chuồng trại sạch sẽ và theo dõi sức khỏe đàn gia súc hằng ngày, không giấu dịch.")
    assert count_segments(default_sms(chatty, hotline="+842633822123"))[1] == 1  # no facts lost: one part
    text = default_sms(CONTACT, hotline="+842633822123")
    assert all(f in text for f in facts(announcement_text(CONTACT)))
    crowded = ann("Vay vốn", "Ngày 14/8 tại UBND xã: hộ ông A 12 triệu, hộ bà B 15 triệu, hộ ông C 9 triệu, "
                  "hộ bà D 20 triệu, hộ ông E 7 triệu, hộ bà G 11 triệu, hộ ông H 30 triệu. Liên hệ 0912 345 678.")
    text = default_sms(crowded, hotline="+842633822123")
    assert count_segments(text)[1] == 2 and all(f in text for f in facts(announcement_text(crowded)))
