"""Compose in a real browser for a commune with Thái and Mường: the languages still missing a recording,
and one uploaded (Debian's chromium through Playwright; screenshot in tests/screenshots/)."""
import pytest

from gateway.areas import settings
from gateway.db import get_db
from tests.audio_helpers import speech_wav
from tests.ivr_helpers import area
from tests.test_console_browser import (  # noqa: F401  (fixtures)
    keyboard_login, page, playwright_browser, server, shot, unlabelled,
)

pytestmark = pytest.mark.browser


def test_compose_shows_the_missing_language_and_takes_its_recording(page, server, tmp_path):
    with server.app_context():
        db = get_db()
        settings.apply(db, area(db, "TANLAP"), {"languages": "blt, mtq"})
        db.commit()
    thai = tmp_path / "thong-bao-tieng-thai.wav"
    thai.write_bytes(speech_wav("Thông báo họp bản, đọc bằng tiếng Thái."))
    keyboard_login(page, "admin")
    page.goto("/console/announcements/new")
    missing = page.locator("#languages-missing")
    assert missing.inner_text() == "Chưa có bản ghi: Tiếng Thái (Thái Đen), Tiếng Mường"
    assert unlabelled(page) == []
    page.set_input_files("#upload-blt", str(thai))
    page.click("button.language-upload[data-lang=blt]")
    page.locator("#recording-info-blt").filter(has_text="thong-bao-tieng-thai.wav").wait_for()
    assert page.input_value("#recording_blt").isdigit()
    assert page.input_value("#recording_mtq") == ""
    assert missing.inner_text() == "Chưa có bản ghi: Tiếng Mường"
    page.locator("#language-recordings").scroll_into_view_if_needed()
    shot(page, "20-compose-languages-one-missing.png")
