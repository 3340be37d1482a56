"""The console in a real browser: headless Debian chromium driven by Playwright against a real
server (werkzeug in a thread) on the embedded defaults (in-process queue with its worker
thread, SQLite, espeak-ng), as `./start.sh` runs it.

Chromium comes from Debian (/usr/bin/chromium, installed by scripts/services.sh); Playwright
never downloads a browser. Without chromium these tests fail with the reason, never skip.
Screenshots of the key steps go to tests/screenshots/ (not committed).
"""
import os
import re
import shutil
import threading

import pytest
from sqlalchemy import select
from werkzeug.serving import make_server

from gateway.db import get_db
from gateway.demo import load_demo
from gateway.models import Announcement, Report

pytestmark = pytest.mark.browser

CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
SAMPLE = os.path.join(os.path.dirname(os.path.dirname(__file__)), "gateway", "console", "static", "sample-report.ogg")
SHOTS = os.path.join(os.path.dirname(__file__), "screenshots")
WAIT = 30_000  # ms: audio rendering by espeak-ng and ffmpeg on a busy CI machine


@pytest.fixture(scope="module")
def playwright_browser():
    if not os.path.exists(CHROMIUM):
        pytest.fail(f"The browser tests need Debian's chromium at {CHROMIUM} (apt-get install chromium; "
                    "scripts/services.sh installs it). Playwright must not download its own.")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=[
            "--use-fake-ui-for-media-stream", "--use-fake-device-for-media-stream",  # a microphone that beeps
            "--autoplay-policy=no-user-gesture-required"])
        yield browser
        browser.close()


@pytest.fixture
def server(make_app, tmp_path, sqlite_template):
    """The gateway on 127.0.0.1 with the embedded queue and worker thread, and the demo commune."""
    db_path = tmp_path / "live.sqlite"
    shutil.copy(sqlite_template, db_path)
    app = make_app(DATABASE_URL=f"sqlite:///{db_path}", REDIS_URL="", EMBEDDED_WORKER="1", PUBLIC_BASE_URL="")
    with app.app_context():
        db = get_db()
        commune = load_demo(db, households=60)
        # No quiet hours: what the tests send goes now, whatever the time of day.
        commune.settings = {**commune.settings, "quiet_hours": "00:00-00:00"}
        db.commit()
    http = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=http.serve_forever, name="console-test-server", daemon=True)
    thread.start()
    app.base_url = f"http://127.0.0.1:{http.server_port}"
    # As a deployment sets it: jobs (no request to look at) build webhook URLs from it.
    app.config["PUBLIC_BASE_URL"] = app.base_url
    yield app
    http.shutdown()
    thread.join(10)


@pytest.fixture
def page(playwright_browser, server):
    context = playwright_browser.new_context(locale="vi-VN", base_url=server.base_url)
    context.set_default_timeout(WAIT)
    page = context.new_page()
    errors = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    yield page
    context.close()
    assert not errors, f"JavaScript errors: {errors}"


def shot(page, name):
    os.makedirs(SHOTS, exist_ok=True)
    page.screenshot(path=os.path.join(SHOTS, name), full_page=True)


def unlabelled(page):
    """Visible form controls with no label a screen reader would read."""
    return page.evaluate("""() => Array.from(document.querySelectorAll('input, select, textarea'))
        .filter(el => el.type !== 'hidden' && !el.hidden)
        .filter(el => !(el.labels && el.labels.length) && !el.getAttribute('aria-label')
                      && !el.getAttribute('aria-labelledby'))
        .map(el => el.outerHTML.slice(0, 120))""")


def tab_to(page, selector, limit=120):
    """Press Tab until `selector` has the focus (keyboard only); fails when it is not reachable."""
    for _ in range(limit):
        if page.evaluate("s => document.activeElement && document.activeElement.matches(s)", selector):
            return
        page.keyboard.press("Tab")
    raise AssertionError(f"{selector} cannot be reached with Tab")


def keyboard_login(page, login, password="demo1234"):
    page.goto("/console/login")
    assert page.get_attribute("html", "lang") == "vi"
    assert unlabelled(page) == []
    page.locator("body").focus()
    tab_to(page, "#login")
    page.keyboard.type(login)
    tab_to(page, "#password")
    page.keyboard.type(password)
    page.keyboard.press("Enter")
    page.wait_for_url(re.compile(r"/console/(downloads)?$"))


def test_keyboard_log_in_and_every_page_labelled(page, server):
    keyboard_login(page, "admin")
    shot(page, "01-dashboard.png")
    assert page.locator("h1").inner_text() == "Tổng quan"
    for path in ("/console/", "/console/announcements/new", "/console/reports", "/console/residents",
                 "/console/residents/new", "/console/residents/import", "/console/areas", "/console/areas/new",
                 "/console/areas/import", "/console/areas/2", "/console/areas/1/settings", "/console/downloads",
                 "/console/simulator"):
        page.goto(path)
        assert unlabelled(page) == [], path
    page.select_option("#lang-select", "en")
    page.click("text=OK")
    assert page.get_attribute("html", "lang") == "en" and page.locator("h1").inner_text() == "Phone simulator"


def test_wrong_password_is_said_plainly(page):
    page.goto("/console/login")
    page.fill("#login", "admin")
    page.fill("#password", "sai-mat-khau")
    page.click("button[type=submit].primary")
    assert page.locator("[role=alert]").inner_text() == "Sai tên đăng nhập hoặc mật khẩu."


def test_compose_listen_send_and_watch_progress(page, server):
    keyboard_login(page, "tanloi")
    page.goto("/console/announcements/new")
    page.locator("body").focus()
    tab_to(page, "#title")
    page.keyboard.type("Tiêm phòng dại")
    tab_to(page, "#body")
    page.keyboard.type("Sáng mai 14/8 tiêm phòng dại cho chó mèo tại nhà văn hóa thôn.")
    tab_to(page, 'input[name="areas"]')
    page.keyboard.press("Space")
    # The SMS as residents will read it: no diacritics, its segments and cost.
    preview = page.locator("#sms-preview")
    preview.filter(has_text="Tiem phong dai: Sang mai 14/8").wait_for()
    assert page.locator("#sms-summary").inner_text().startswith("Không dấu, 1 tin nhắn")
    assert re.search(r"\d+ hộ nhận SMS × 1 tin nhắn × 800 ₫", page.locator("#sms-cost").inner_text())
    assert page.locator("#sms-options").is_hidden()  # one SMS: nothing to choose
    # Listen before sending: rendered by the embedded worker with espeak-ng.
    page.click("#listen")
    page.locator("#audio-player[src$='.mp3']").wait_for(state="attached")
    duration = page.evaluate("""() => new Promise(resolve => { const a = document.getElementById('audio-player');
        if (a.readyState >= 1) resolve(a.duration); else a.addEventListener('loadedmetadata', () => resolve(a.duration)); })""")
    assert duration > 3
    shot(page, "02-compose-preview.png")
    # Send with the keyboard: Enter in the title submits the form.
    tab_to(page, "#title")
    page.keyboard.press("Enter")
    page.wait_for_url(re.compile(r"/console/announcements/\d+$"))
    assert page.locator(".flash.success").inner_text() == "Đang gửi thông báo…"
    # Progress, live: the fan-out runs on the embedded queue while the page polls.
    page.locator("#progress-total").filter(has_text=re.compile(r"Tổng số lượt gửi: [1-9]")).wait_for()
    page.locator("#ann-status").filter(has_text=re.compile("Đang gửi|Đã gửi")).wait_for()
    shot(page, "03-progress.png")
    with server.app_context():
        a = get_db().scalar(select(Announcement))
        assert a.title == "Tiêm phòng dại" and [x.code for x in a.areas] == ["TANLOI"]
    page.click("text=Xem mức phủ sóng")
    assert page.locator("table.bars th[scope=row]").all_inner_texts() == ["Thôn Tân Lợi"]
    shot(page, "03b-dashboard-coverage.png")


def test_upload_refuses_a_corrupt_file_then_records_from_the_microphone(page, tmp_path):
    keyboard_login(page, "admin")
    page.goto("/console/announcements/new")
    bad = tmp_path / "hong.mp3"
    bad.write_bytes(b"this is not audio" * 200)
    page.set_input_files("#upload-file", str(bad))
    page.click("#upload-button")
    page.locator("#audio-status[role=alert]").wait_for()
    assert page.locator("#audio-status").inner_text()  # the reason, in Vietnamese
    assert page.input_value("#recording_id") == ""
    page.click("#record")
    page.locator("#record-stop").wait_for(state="visible")
    page.wait_for_timeout(2500)  # Chromium's fake microphone beeps
    page.click("#record-stop")
    page.locator("#recording-info").filter(has_text="micro.webm").wait_for()
    assert page.input_value("#recording_id").isdigit()
    page.locator("#audio-player[src$='.mp3']").wait_for(state="attached")
    shot(page, "04-recorded.png")


def test_report_through_the_simulator_is_acknowledged_in_the_inbox(page, server):
    keyboard_login(page, "admin")
    page.goto("/console/simulator")
    phone = page.input_value("#sim-number")
    page.fill("#sim-text", "PA cây đổ chắn đường ở đầu ngõ 5")
    page.click("#sim-send")
    reply = page.locator(".sms-thread li.reply").first
    reply.wait_for()
    number = int(re.search(r"#(\d+)", reply.inner_text()).group(1))
    shot(page, "05-simulator-report.png")
    with server.app_context():
        report = get_db().scalar(select(Report).where(Report.number == number))
        assert report.phone == phone and report.text == "cây đổ chắn đường ở đầu ngõ 5"
    page.goto("/console/reports")
    page.click(f"text=#{number}")
    assert "cây đổ chắn đường" in page.locator(".thread").inner_text()
    page.select_option("#status", "acknowledged")
    page.fill("#note", "Tổ 2 sẽ đến dọn trong sáng nay.")
    page.click("text=Cập nhật")
    assert page.locator("#report-status").inner_text() == "Đã tiếp nhận"
    shot(page, "06-report-acknowledged.png")
    # The resident's phone gets the news by SMS (outbox, sent by the embedded worker).
    page.goto("/console/simulator")
    page.fill("#sim-number", phone)
    page.locator(".sms-thread li.outbox").filter(has_text=f"#{number} da duoc tiep nhan").wait_for()
    shot(page, "07-simulator-status-sms.png")


def test_voice_report_by_calling_the_hotline_in_the_simulator(page, server):
    """Dial, press 2 (report) and 1 (security), leave a recording from a file, press 1 to send it."""
    keyboard_login(page, "admin")
    page.goto("/console/simulator")
    phone = page.input_value("#sim-number")
    page.click("#sim-call")
    waiting = page.locator("#call-screen p.waiting")
    waiting.first.wait_for()
    assert page.locator("#sim-hangup").is_enabled()
    assert "Tổng đài nói:" in page.locator("#call-screen").inner_text()
    shot(page, "08-simulator-call.png")
    page.click(".keypad .key[data-key='2']")
    waiting.nth(1).wait_for()
    page.click(".keypad .key[data-key='1']")
    page.locator("#record-panel").wait_for(state="visible")
    page.set_input_files("#sim-record-file", SAMPLE)
    page.click("#sim-record-send")
    waiting.nth(3).wait_for()  # "bấm 1 để gửi, bấm 2 để ghi lại"
    page.click(".keypad .key[data-key='1']")
    page.locator("#call-screen p.ended").wait_for()
    shot(page, "09-simulator-voice-report.png")
    with server.app_context():
        db = get_db()
        report = db.scalar(select(Report).where(Report.channel == "voice"))
        assert report.phone == phone and report.category == "security"
    # The embedded worker takes the recording from storage and mirrors the report.
    for _ in range(WAIT // 1000):
        page.goto(f"/console/reports/{report.id}")
        if page.locator("audio[src$='.mp3']").count():
            break
        page.wait_for_timeout(1000)
    else:
        raise AssertionError("the voice report's recording never became playable")
    shot(page, "10-voice-report-in-inbox.png")


def test_answering_an_announcement_call_and_confirming_with_1(page, server):
    """An announcement by call: the simulated phone rings, plays it, and keypad 1 confirms."""
    from gateway.models import Area, Delivery, Resident

    with server.app_context():
        db = get_db()
        kp3 = db.scalar(select(Area).where(Area.code == "KP3", Area.level == "neighbourhood"))
        resident = db.scalar(select(Resident).where(Resident.area_id.in_(kp3.descendant_ids(db)),
                                                    Resident.prefers_voice.is_(True)).order_by(Resident.id))
        phone, area_id = resident.phone, kp3.id
    keyboard_login(page, "admin")
    page.goto("/console/announcements/new")
    page.fill("#title", "Mất điện")
    page.fill("#body", "Chiều nay từ 13 giờ đến 17 giờ mất điện để sửa đường dây.")
    page.check(f"input[name=areas][value='{area_id}']")
    page.uncheck("input[name=channels][value=sms]")
    page.check("input[name=channels][value=voice]")
    page.click("#send")
    page.wait_for_url(re.compile(r"/console/announcements/\d+$"))
    page.goto("/console/simulator")
    page.fill("#sim-number", phone)
    page.dispatch_event("#sim-number", "change")
    page.locator("#ringing").wait_for(state="visible")
    shot(page, "11-simulator-ringing.png")
    page.click("#sim-answer")
    page.locator("#call-screen p.waiting").first.wait_for()
    page.click(".keypad .key[data-key='1']")
    page.locator("#call-screen p.ended").wait_for()
    shot(page, "12-simulator-confirmed.png")
    with server.app_context():
        delivery = get_db().scalar(select(Delivery).where(Delivery.phone == phone, Delivery.channel == "voice"))
        assert delivery.status == "confirmed" and delivery.confirmed_at is not None
