"""A poll in a real browser (Debian chromium through Playwright, the live server of the console
browser tests): an official writes the question, sees the SMS residents will get, sends it, and
watches the chart fill as households answer by SMS."""
import datetime as dt
import re
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from gateway.db import get_db
from gateway.models import Area, Poll, Resident
from gateway.sms.inbound import receive
from tests.test_console_browser import keyboard_login, page, playwright_browser, server, shot, unlabelled  # noqa: F401

pytestmark = pytest.mark.browser


def households(app, code, n):
    with app.app_context():
        db = get_db()
        area = db.scalar(select(Area).where(Area.code == code))
        return list(db.scalars(select(Resident.phone).where(Resident.area_id.in_(area.descendant_ids(db)),
                                                            Resident.opted_out_at.is_(None))
                               .order_by(Resident.id).limit(n)))


def text(app, phone, body):
    """A household's SMS, as the provider's webhook hands it in."""
    with app.app_context():
        return receive(get_db(), provider="twilio", sender=phone, body=body, config=app.config)


def test_create_a_poll_and_watch_the_chart_fill(page, server):
    keyboard_login(page, "tanloi")
    page.click("text=Hỏi ý kiến")
    page.click("text=Hỏi ý kiến mới")
    assert unlabelled(page) == []
    page.fill("#question", "Hộ có cần hỗ trợ gạo không?")
    page.fill("#options", "Có cần | co\nKhông cần | khong")
    deadline = dt.datetime.now(ZoneInfo("Asia/Ho_Chi_Minh")) + dt.timedelta(days=2)
    page.fill("#closes_at", deadline.strftime("%Y-%m-%dT%H:%M"))
    page.check('input[name="areas"]')  # Thôn Tân Lợi, the leader's only area
    page.locator("#poll-sms").filter(has_text="Tra loi 1 neu Co can, 2 neu Khong can.").wait_for()
    assert page.locator("#poll-sms-parts").inner_text() == "1 tin nhắn, 78 ký tự, không dấu."
    shot(page, "20-poll-form.png")
    page.click("#poll-form button[type=submit]")
    page.wait_for_url(re.compile(r"/console/polls/\d+$"))
    assert page.locator(".flash.success").inner_text().startswith("Đã gửi câu hỏi.")
    assert page.locator("#poll-total").inner_text().startswith("0 trên ")
    with server.app_context():
        poll = get_db().scalar(select(Poll))
        assert [a.code for a in poll.areas] == ["TANLOI"]
    # Answers arrive while the page is open: the bars and the share follow without a reload.
    phones = households(server, "TANLOI", 3)
    for phone, body in zip(phones, ("1", "Có cần", "khong")):
        assert text(server, phone, body).intent == "poll"
    page.locator("#poll-total").filter(has_text=re.compile(r"^3 trên \d+ hộ đã trả lời")).wait_for()
    assert page.locator('[data-count="0"]').inner_text() == "2"
    assert page.locator('[data-count="1"]').inner_text() == "1"
    width = page.evaluate("() => document.querySelector('[data-option=\"0\"]').style.width")
    assert width == "67%"
    assert page.locator("#poll-areas tbody td").first.inner_text() == "Thôn Tân Lợi"
    shot(page, "21-poll-results.png")
    text(server, phones[2], "1")  # a change of mind: the latest answer counts
    page.locator('[data-count="0"]').filter(has_text="3").wait_for()
    assert page.locator('[data-count="1"]').inner_text() == "0"
    shot(page, "22-poll-results-changed.png")
