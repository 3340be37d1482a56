"""Issue 17 in a real browser (Debian chromium through Playwright, as tests/test_console_browser.py):
the SMS choice when a text is longer than one SMS, honest statuses, cancel confirmation, plain
coverage words, the import summary and the copy button. Screenshots go to tests/screenshots/."""
import re

import pytest
from sqlalchemy import select

from gateway.db import get_db
from gateway.models import Announcement, Area
from tests.test_console_browser import keyboard_login, page, playwright_browser, server, shot  # noqa: F401

pytestmark = pytest.mark.browser

LONG = ("Sáng thứ Bảy 14/8 lúc 7h30 tiêm phòng dại cho chó mèo tại nhà văn hóa thôn Tân Lợi. "
        "Chó phải được rọ mõm và xích cẩn thận khi đưa đến điểm tiêm, trẻ em không dắt chó đi tiêm. "
        "Mỗi con 50.000 đồng. Liên hệ 0912 345 678.")


def test_a_long_text_offers_parts_or_an_edited_sms_and_sends_the_choice(page, server):
    keyboard_login(page, "tanloi")
    page.goto("/console/announcements/new")
    page.fill("#title", "Tiêm phòng dại")
    page.fill("#body", LONG)
    page.check('input[name="areas"]')
    page.locator("#sms-options").wait_for(state="visible")
    full = page.locator("#sms-full-label").inner_text()
    assert re.match(r"Gửi đầy đủ trong 2 tin nhắn: \d+ hộ nhận SMS × 2 tin nhắn × 800 ₫", full)
    assert page.locator("#sms-mode-full").is_checked() and "0912 345 678" in page.locator("#sms-preview").inner_text()
    assert "Tin nhắn dài" not in page.locator("#compose-warnings").inner_text()
    assert page.locator("#audio-estimate").inner_text().startswith("Bản đọc (chuông, rồi đọc 2 lần) dài khoảng")
    shot(page, "17-01-compose-two-parts.png")
    # One shortened SMS: proposed, then edited by the official, checked for what it lacks.
    page.check("#sms-mode-short")
    page.locator("#sms-short-box").wait_for(state="visible")
    page.locator("#sms-short-check").filter(has_text="Tin rút gọn thiếu").wait_for()
    assert "0912 345 678" in page.locator("#sms-short-check").inner_text()
    page.fill("#sms-short", "Tiêm phòng dại 7h30 thứ Bảy 14/8 tại nhà văn hóa thôn Tân Lợi, 50.000 đồng/con. "
                            "Liên hệ 0912 345 678. Nghe đầy đủ: gọi 0263 3822 123")
    page.locator("#sms-short-check").filter(has_text="giữ đủ").wait_for()
    page.locator("#sms-preview").filter(has_text="Tiem phong dai 7h30 thu Bay 14/8").wait_for()
    shot(page, "17-02-compose-short-edited.png")
    page.click("#send")
    page.wait_for_url(re.compile(r"/console/announcements/\d+$"))
    assert page.locator(".flash.success").inner_text() == "Đang gửi thông báo…"
    assert page.locator("#sms-text").inner_text().startswith("Tiem phong dai 7h30 thu Bay 14/8")
    with server.app_context():
        a = get_db().scalar(select(Announcement))
        assert a.sms_text.startswith("Tiem phong dai 7h30 thu Bay 14/8") and "0912 345 678" in a.sms_text


def test_quiet_hours_wait_is_said_and_cancel_asks_first(page, server):
    with server.app_context():
        db = get_db()
        commune = db.scalar(select(Area).where(Area.level == "commune"))
        commune.settings = {**commune.settings, "quiet_hours": "00:00-23:59"}
        db.commit()
    keyboard_login(page, "tanloi")
    page.goto("/console/announcements/new")
    page.fill("#title", "Họp dân")
    page.fill("#body", "Tối nay 19h họp dân tại nhà văn hóa thôn.")
    page.check('input[name="areas"]')
    page.uncheck('input[name="channels"][value="hotline"]')
    page.click("#send")
    page.wait_for_url(re.compile(r"/console/announcements/\d+$"))
    page.locator("#ann-status").filter(has_text="Đang chờ đến 23:59 — giờ yên tĩnh").wait_for()
    assert "waiting" in page.get_attribute("#ann-status", "class")
    shot(page, "17-03-waiting-quiet-hours.png")
    # A later one can be cancelled, after saying yes.
    page.goto("/console/announcements/new")
    page.fill("#title", "Tiêm phòng")
    page.fill("#body", "Tuần sau tiêm phòng.")
    page.check('input[name="areas"]')
    page.fill("#send_at", "2099-01-05T08:30")
    page.click("#send")
    page.wait_for_url(re.compile(r"/console/announcements/\d+$"))
    assert page.locator("#ann-status").inner_text() == "Sẽ gửi lúc 05/01/2099 08:30"
    asked = []
    page.once("dialog", lambda d: (asked.append(d.message), d.dismiss()))
    page.click("#cancel-form button")
    assert asked == ["Hủy thông báo này? Người dân sẽ không nhận được thông báo."]
    assert page.locator("#ann-status").inner_text() == "Sẽ gửi lúc 05/01/2099 08:30"  # said no: nothing changed
    page.once("dialog", lambda d: d.accept())
    page.click("#cancel-form button")
    page.locator(".flash.success").filter(has_text="Đã hủy thông báo.").wait_for()
    page.goto("/console/announcements")
    sent, cancelled = page.locator(".badge.waiting").first, page.locator(".badge.cancelled").first
    assert sent.evaluate("e => getComputedStyle(e).backgroundColor") != \
        cancelled.evaluate("e => getComputedStyle(e).backgroundColor")
    assert cancelled.evaluate("e => getComputedStyle(e).textDecorationLine") == "line-through"
    shot(page, "17-04-announcement-list-badges.png")


def test_dashboard_words_for_a_leader_and_an_admin(page, server):
    keyboard_login(page, "tanloi")
    page.goto("/console/announcements/new")
    page.fill("#title", "Họp dân")
    page.fill("#body", "Tối nay 19h họp dân tại nhà văn hóa thôn.")
    page.check('input[name="areas"]')
    page.click("#send")
    page.wait_for_url(re.compile(r"/console/announcements/\d+$"))
    page.locator("#ann-status").filter(has_text="Đã gửi").wait_for()
    page.goto("/console/")
    note = page.locator("#delivery-note").inner_text()
    assert "không báo tin đã đến máy người nhận" in note
    bars = page.locator("table.bars").inner_text()
    assert re.search(r"Đã gửi đi: \d+ · Đã xác nhận: 0", bars) and "Đã nhận" not in bars
    assert page.locator("#queues-h").count() == 0  # a leader sees no machinery
    shot(page, "17-05-dashboard-leader.png")
    page.click("text=Đăng xuất")
    keyboard_login(page, "admin")
    page.goto("/console/")
    rows = page.locator("#queues-h ~ table th[scope=row]").all_inner_texts()
    assert rows == ["trả lời người dân", "việc thường", "tạo âm thanh", "gửi hàng loạt"]
    shot(page, "17-06-dashboard-admin.png")


def test_import_summary_follows_the_checkbox(page, tmp_path):
    keyboard_login(page, "admin")
    page.goto("/console/residents/import")
    path = tmp_path / "ds.csv"
    path.write_text("Họ tên,Số điện thoại,Khu phố\nBà Năm,0912 000 001,KP3\nÔng Sáu,12345,KP3\n", encoding="utf-8")
    page.set_input_files("#file", str(path))
    page.click("#import-check")
    assert page.locator("#import-summary").inner_text().startswith("Chưa nhập được: có 1 dòng lỗi")
    assert page.locator("#import-confirm").count() == 0
    assert "Ông Sáu" in page.locator("tr.rejected").inner_text() and "12345" in page.locator("tr.rejected").inner_text()
    shot(page, "17-07-import-blocked.png")
    page.set_input_files("#file", str(path))
    page.check('input[name="skip_bad_rows"]')
    page.click("#import-check")
    assert "1 dòng lỗi sẽ được bỏ qua" in page.locator("#import-summary").inner_text()
    assert page.locator("#import-confirm").inner_text() == "Xác nhận nhập"
    shot(page, "17-08-import-ready.png")
    page.click("#import-confirm")
    assert page.locator("#import-summary").inner_text().startswith("Đã nhập: 1 hộ mới")


def test_private_link_has_a_copy_button(page):
    keyboard_login(page, "admin")
    page.goto("/console/downloads")
    page.select_option("#link-area", index=1)
    page.fill("#link-label", "Ông Ba – loa thôn")
    page.click("text=Tạo liên kết")
    page.locator("#link-created").wait_for()
    page.click('button[data-copy="created-page"]')
    page.locator("#copy-status").filter(has_text="Đã sao chép").wait_for()
    selected = page.evaluate("() => { const e = document.getElementById('created-page'); "
                             "return e.value.substring(e.selectionStart, e.selectionEnd); }")
    assert selected == page.input_value("#created-page") and "/loa/" in selected
    shot(page, "17-09-link-copy.png")


def test_area_tree_search_whole_neighbourhood_and_summary(page, server):
    from gateway.models import Resident

    with server.app_context():
        db = get_db()
        counts = {}
        for code in ("KP1", "KP5"):
            a = db.scalar(select(Area).where(Area.code == code, Area.level == "neighbourhood"))
            counts[code] = sum(1 for r in db.scalars(select(Resident).where(Resident.area_id.in_(a.descendant_ids(db))))
                               if r.opted_out_at is None)
    keyboard_login(page, "admin")
    page.goto("/console/announcements/new")
    page.fill("#area-search", "khu pho 5")  # without diacritics, as people type
    visible = [t.split("[")[0].strip() for t in page.locator("#area-tree li:visible > label").all_inner_texts()]
    assert "Khu phố 5" in visible and "Khu phố 1" not in visible
    page.check('#area-tree input[data-code="KP5"]')
    page.fill("#area-search", "")
    page.check('#area-tree input[data-code="KP1"]')
    summary = page.locator("#area-summary")
    assert summary.inner_text() == f"Đã chọn: KP1, KP5 — {counts['KP1'] + counts['KP5']} hộ"
    # A ticked neighbourhood covers its teams: they cannot be counted twice.
    page.click('button[aria-controls="sub-' + page.get_attribute('#area-tree input[data-code="KP5"]', "value") + '"]')
    team = page.locator('#sub-' + page.get_attribute('#area-tree input[data-code="KP5"]', "value") + ' input').first
    assert team.is_disabled() and not team.is_checked()
    shot(page, "17-10-area-tree.png")
    page.uncheck('#area-tree input[data-code="KP5"]')
    assert not team.is_disabled()
    assert summary.inner_text() == f"Đã chọn: KP1 — {counts['KP1']} hộ"
