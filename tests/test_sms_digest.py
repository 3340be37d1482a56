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
