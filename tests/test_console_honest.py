"""Issue 17 at the Flask level: SMS that keep what residents need, long announcements, honest
statuses and plain words on the console's pages."""
import datetime as dt

from sqlalchemy import func, select

from gateway.models import Announcement, Area, AudioAsset, Delivery
from gateway.queue import drain
from gateway.sms.encoding import count_segments
from tests.console_helpers import login, post, post_json

LONG_BODY = ("Sáng thứ Bảy 14/8 lúc 7h30 tiêm phòng dại cho chó mèo tại nhà văn hóa thôn Tân Lợi. "
             "Chó phải được rọ mõm và xích cẩn thận khi đưa đến điểm tiêm, trẻ em không dắt chó đi tiêm. "
             "Mỗi con 50.000 đồng. Liên hệ 0912 345 678.")


def area(db, code):
    return db.scalar(select(Area).where(Area.code == code, Area.level == "neighbourhood"))


def no_quiet_hours(db, demo):
    commune = db.get(Area, demo)
    commune.settings = {**commune.settings, "quiet_hours": "00:00-00:00"}
    db.commit()


def compose(db, **overrides):
    data = {"title": "Tiêm phòng dại", "body": LONG_BODY, "areas": [str(area(db, "KP1").id)],
            "audiences": ["everyone"], "channels": ["sms", "hotline"], "priority": "normal", "send_at": ""}
    return {**data, **overrides}


def preview(client, token, db, **overrides):
    data = compose(db, **overrides)
    return post_json(client, "/console/announcements/preview", token, data).get_json()


# 1. SMS that keep what residents need ------------------------------------------------------

def test_a_text_longer_than_one_sms_offers_parts_or_an_edited_short_one_with_costs(client, db, demo):
    token = login(client)
    p = preview(client, token, db)
    assert not p["fits"] and p["mode"] == "full"
    assert p["full"]["parts"] == 2 and p["full"]["lost"] == [] and "0912 345 678" in p["full"]["text"]
    assert p["text"] == p["full"]["text"] and p["segments"] == 2
    n = p["recipients"]
    assert p["full"]["label"] == (f"Gửi đầy đủ trong 2 tin nhắn: {n} hộ nhận SMS × 2 tin nhắn × 800 ₫ = khoảng "
                                  f"{n * 1600:,} ₫".replace(",", "."))
    assert p["short"]["label"].endswith(f"× 1 tin nhắn × 800 ₫ = khoảng {n * 800:,} ₫".replace(",", "."))
    assert count_segments(p["short"]["text"])[1] == 1 and p["short"]["parts"] == 1
    # What the shortening could not keep is said, never dropped silently.
    for fact in p["short"]["lost"]:
        assert fact in p["full"]["text"] and fact not in p["short"]["text"]
    edited = preview(client, token, db, sms_mode="short",
                     sms_short="Tiêm phòng dại 7h30 14/8 tại nhà văn hóa thôn Tân Lợi, 50.000 đồng/con. Liên hệ 0912 345 678. Gọi 0263 3822 123")
    assert edited["mode"] == "short" and edited["short"]["lost"] == [] and edited["short"]["edited"]
    assert edited["text"] == ("Tiem phong dai 7h30 14/8 tai nha van hoa thon Tan Loi, 50.000 dong/con. Lien he 0912 345 678. "
                              "Goi 0263 3822 123")
    assert edited["summary"] == f"Không dấu, 1 tin nhắn ({len(edited['text'])} ký tự)"
    lacking = preview(client, token, db, sms_mode="short", sms_short="Tiêm phòng dại sáng thứ Bảy.")
    assert lacking["short"]["lost"] == ["14/8", "7h30", "nha van hoa", "thon Tan Loi", "50.000 dong", "0912 345 678",
                                        "0263 3822 123"]


def test_one_sms_texts_need_no_choice(client, db, demo):
    token = login(client)
    p = preview(client, token, db, body="Tối nay 19h họp dân tại nhà văn hóa.")
    assert p["fits"] and p["segments"] == 1 and p["warnings"] == []
    assert "GSM" not in p["summary"] and p["summary"].startswith("Không dấu, 1 tin nhắn")


def test_the_broadcast_sends_exactly_the_choice(app, client, db, demo):
    no_quiet_hours(db, demo)
    token = login(client)
    whole = preview(client, token, db)["full"]["text"]
    assert post(client, "/console/announcements", token, compose(db)).status_code == 302
    short = "Tiêm phòng dại 7h30 14/8 tại nhà văn hóa thôn Tân Lợi. Liên hệ 0912 345 678."
    assert post(client, "/console/announcements", token,
                compose(db, title="Tiêm phòng (ngắn)", sms_mode="short", sms_short=short)).status_code == 302
    first, second = db.scalars(select(Announcement).order_by(Announcement.id)).all()
    assert first.sms_text == whole and count_segments(whole)[1] == 2
    assert second.sms_text == "Tiem phong dai 7h30 14/8 tai nha van hoa thon Tan Loi. Lien he 0912 345 678."
    drain(app)
    db.expire_all()
    for a in (first, second):
        bodies = set(db.scalars(select(Delivery.body).where(Delivery.announcement_id == a.id, Delivery.channel == "sms")))
        assert bodies == {a.sms_text}


def test_a_short_text_that_does_not_fit_is_refused(client, db, demo):
    token = login(client)
    resp = post(client, "/console/announcements", token, compose(db, sms_mode="short", sms_short="rất dài " * 30))
    assert resp.status_code == 400
    assert "Tin rút gọn vẫn dài 2 tin nhắn" in resp.get_data(as_text=True)
    assert db.scalar(select(Announcement)) is None


# 8. Long announcements -----------------------------------------------------------------------

def test_a_very_long_text_warns_about_sms_parts_and_audio_length(client, db, demo):
    token = login(client)
    body = ("Thông báo lịch tiêm phòng cho đàn gia cầm tại các thôn trong xã, người dân chuẩn bị chuồng trại sạch sẽ. " * 20)[:2000]
    p = preview(client, token, db, body=body)
    assert p["full"]["parts"] == 4 and p["cut"]  # beyond 4 parts the SMS is shortened, and says so
    assert any("Tin nhắn dài 4 phần" in w for w in p["warnings"])
    assert any(w.startswith("Nội dung quá dài để gửi hết bằng tin nhắn") for w in p["warnings"])
    assert any(w.startswith("Bản đọc dài khoảng") and "Nên giữ dưới 2 phút" in w for w in p["warnings"])
    assert p["audio_seconds"] > 240 and p["audio_text"].startswith("Bản đọc (chuông, rồi đọc 2 lần) dài khoảng")


def test_the_audio_estimate_is_close_to_the_rendered_length(app, client, db, demo):
    token = login(client)
    title, body = "Họp dân", "Tối thứ Sáu 19h30 họp dân tại nhà văn hóa khu phố 1 về việc làm đường, mỗi hộ cử một người."
    p = preview(client, token, db, title=title, body=body)
    asset = post_json(client, "/console/audio/speak", token, {"title": title, "body": body}).get_json()
    drain(app)
    rendered = db.get(AudioAsset, asset["id"])
    db.refresh(rendered)
    assert rendered.status == "ready"
    assert abs(p["audio_seconds"] - rendered.duration_ms / 1000) <= 0.35 * rendered.duration_ms / 1000


# 2. Honest statuses --------------------------------------------------------------------------

def set_quiet(db, demo, span):
    commune = db.get(Area, demo)
    commune.settings = {**commune.settings, "quiet_hours": span}
    db.commit()


def test_quiet_hours_wait_is_said_and_sent_only_when_sent(app, client, db, demo):
    set_quiet(db, demo, "00:00-23:59")  # quiet all day, whatever time the test runs
    token = login(client)
    resp = post(client, "/console/announcements", token, compose(db, body="Tối nay 19h họp dân.", channels=["sms"]))
    page = client.get(resp.location).get_data(as_text=True)
    assert "Đang gửi thông báo…" in page  # "send now" says it is sending, not "scheduled"
    drain(app)
    a = db.scalar(select(Announcement))
    db.refresh(a)
    held = list(db.scalars(select(Delivery).where(Delivery.announcement_id == a.id)))
    assert held and all(d.status == "pending" for d in held)
    progress = client.get(f"/console/announcements/{a.id}/progress").get_json()
    assert progress["status_label"] == "Đang chờ đến 23:59 — giờ yên tĩnh" and progress["badge"] == "waiting"
    listing = client.get("/console/announcements").get_data(as_text=True)
    assert "Đang chờ đến 23:59 — giờ yên tĩnh" in listing and "Đã gửi" not in listing
    # Once every SMS has gone: "Đã gửi", and only then.
    for d in held:
        d.status = "sent"
    a.status = "sent"
    db.commit()
    progress = client.get(f"/console/announcements/{a.id}/progress").get_json()
    assert (progress["status_label"], progress["badge"], progress["done"]) == ("Đã gửi", "sent", True)


def test_an_urgent_sms_is_not_said_to_wait_for_quiet_hours(app, client, db, demo):
    set_quiet(db, demo, "00:00-23:59")
    token = login(client)
    post(client, "/console/announcements", token, compose(db, body="Cháy ở chợ.", channels=["sms"], priority="urgent"))
    drain(app)
    a = db.scalar(select(Announcement))
    progress = client.get(f"/console/announcements/{a.id}/progress").get_json()
    assert "giờ yên tĩnh" not in progress["status_label"]


def test_a_later_announcement_says_when_it_goes(client, db, demo):
    token = login(client)
    later = (dt.datetime.now(dt.timezone(dt.timedelta(hours=7))) + dt.timedelta(days=2)).replace(hour=8, minute=30)
    resp = post(client, "/console/announcements", token, compose(db, send_at=later.strftime("%Y-%m-%dT%H:%M")))
    page = client.get(resp.location).get_data(as_text=True)
    when = later.strftime("%d/%m/%Y 08:30")
    assert f"Đã lên lịch: thông báo sẽ được gửi lúc {when}." in page and f"Sẽ gửi lúc {when}" in page
    assert 'data-confirm="Hủy thông báo này? Người dân sẽ không nhận được thông báo."' in page


def test_group_posts_and_the_loudspeaker_file_are_in_the_progress_table(app, client, db, demo):
    no_quiet_hours(db, demo)
    token = login(client)
    post(client, "/console/announcements", token,
         compose(db, body="Tối nay 19h họp dân.", channels=["group", "loudspeaker"]))
    drain(app)
    drain(app, scheduled=True)  # the group post waited for the audio
    a = db.scalar(select(Announcement))
    progress = client.get(f"/console/announcements/{a.id}/progress").get_json()
    assert progress["channels"]["group"] == [{"status": "posted", "label": "đã đăng", "count": 1}]
    assert progress["channels"]["loudspeaker"] == [{"status": "ready", "label": "sẵn sàng để tải", "count": 1}]
    page = client.get(f"/console/announcements/{a.id}").get_data(as_text=True)
    assert "Tệp cho loa phát thanh" in page and "đã đăng" in page


def test_badges_differ_by_colour_and_mark():
    import re

    from tests.test_console_a11y import CSS

    css = open(CSS, encoding="utf-8").read()

    def rule(cls):
        return re.search(rf"\.badge\.{cls}\b[^{{]*\{{([^}}]*)\}}", css).group(1)

    looks = {cls: rule(cls) for cls in ("scheduled", "sending", "waiting", "sent", "cancelled", "failed")}
    backgrounds = {cls: re.search(r"background: (var\(--[\w-]+\))", r).group(1) for cls, r in looks.items()}
    assert len(set(backgrounds.values())) == len(backgrounds)  # "Đã hủy" never looks like "Đã gửi"
    assert "line-through" in looks["cancelled"] and "line-through" not in looks["sent"]


# Coverage that says what it knows ------------------------------------------------------------

def test_coverage_says_when_the_provider_cannot_report_delivery(app, client, db, demo):
    no_quiet_hours(db, demo)
    token = login(client)
    post(client, "/console/announcements", token, compose(db, body="Tối nay 19h họp dân.", channels=["sms"]))
    drain(app)
    a = db.scalar(select(Announcement))
    sent = db.scalar(select(func.count()).select_from(Delivery).where(Delivery.announcement_id == a.id,
                                                                       Delivery.status == "sent"))
    assert sent > 0
    html = client.get("/console/").get_data(as_text=True)
    assert "không báo tin đã đến máy người nhận" in html and "hộp thư thử, chưa gửi thật" in html
    assert f"Đã gửi đi: {sent} · Đã xác nhận: 0 (0%)" in html and "Đã nhận" not in html  # nothing can tell
    app.config["SMS_PROVIDER"] = "esms"  # a provider with delivery reports
    html = client.get("/console/").get_data(as_text=True)
    assert "không báo tin đã đến máy" not in html and "tin nhắn nhà mạng báo đã đến máy" in html
    assert f"Đã gửi đi: {sent} · Đã nhận: 0 (0%) · Đã xác nhận: 0 (0%)" in html


def test_coverage_says_what_has_not_been_sent_yet(app, client, db, demo):
    set_quiet(db, demo, "00:00-23:59")
    token = login(client)
    post(client, "/console/announcements", token, compose(db, body="Tối nay 19h họp dân.", channels=["sms"]))
    a = db.scalar(select(Announcement))
    a.status = "sending"  # as the start job leaves it before the fan-out has run
    db.commit()
    html = client.get("/console/").get_data(as_text=True)
    from gateway.broadcast import coverage

    waiting = next(r for r in coverage.by_area_and_audience(db, a) if r["area"] == "Khu phố 1" and r["audience"] == "all")
    assert waiting["not_sent"] > 0 and f"Chưa gửi: {waiting['not_sent']} · " in html


def test_only_admins_see_the_machinery_and_in_words(app, client, db, demo):
    login(client, "truongkp1")
    html = client.get("/console/").get_data(as_text=True)
    assert "Việc máy chủ đang làm" not in html and "bulk" not in html and "Bộ phận xử lý" not in html
    admin = app.test_client()
    login(admin)
    html = admin.get("/console/").get_data(as_text=True)
    for words in ("trả lời người dân", "việc thường", "tạo âm thanh", "gửi hàng loạt"):
        assert f'<th scope="row">{words}</th>' in html
    for name in ("high", "default", "bulk"):
        assert f">{name}<" not in html


# 3. No technical words in front of officials ---------------------------------------------------

def test_the_simulator_shows_the_words_of_a_played_prompt(app, client, db, demo):
    from gateway.models import OutboxMessage
    from gateway.twilio_auth import twilio_signed
    from tests.test_console_simulator import BASE, twiml

    prompt = AudioAsset(kind="prompt", content_hash="ab" * 32, text="Xin chào, đây là tổng đài Loa Xóm.", status="ready")
    db.add(prompt)
    db.add(OutboxMessage(channel="voice", recipient="+84912345678", body="announcement", media_url="/test/call",
                         status_callback=BASE + "/test/status"))
    db.commit()
    app.add_url_rule("/test/call", "test_call", twilio_signed(lambda: twiml(
        f'<Play>/audio/{prompt.content_hash}.wav</Play><Play>/audio/{"cd" * 32}.wav</Play><Hangup/>')),
        methods=["POST"])
    app.add_url_rule("/test/status", "test_status", twilio_signed(lambda: ""), methods=["POST"])
    token = login(client)
    row = client.get("/console/simulator/messages?phone=0912345678").get_json()["messages"][0]
    answer = post_json(client, "/console/simulator/answer", token, {"phone": "0912345678", "id": row["id"]}).get_json()
    plays = [e for e in answer["events"] if e["type"] == "play"]
    assert plays[0]["text"] == "Xin chào, đây là tổng đài Loa Xóm."
    assert "text" not in plays[1]  # an unknown file: the page says "một đoạn âm thanh", never its hash
    page = client.get("/console/simulator").get_data(as_text=True)
    assert "hệ thống trả lời đúng như khi nhà mạng" in page and "webhook" not in page.lower()


def test_an_upload_error_names_no_program_or_path(client, db, demo):
    import io

    token = login(client)
    bad = post(client, "/console/audio/upload", token, {"file": (io.BytesIO(b"not audio" * 300), "hong.mp3")},
               content_type="multipart/form-data")
    error = bad.get_json()["error"]
    assert bad.status_code == 400 and error.startswith("Không đọc được tệp âm thanh")
    assert "ffmpeg" not in error.lower() and "/" not in error.replace("mp3, m4a", "")


def test_a_failed_render_shows_plain_words(client, db, demo):
    token = login(client)
    asset = AudioAsset(kind="announcement", content_hash="ef" * 32, text="x", status="failed",
                       error="CodecError: ffmpeg failed: /srv/loa/instance/audio/renders/ef/x.mp3: Permission denied")
    db.add(asset)
    db.commit()
    from gateway.media.assets import link_areas
    from gateway.models import Area

    link_areas(db, asset, [db.get(Area, demo)])  # the commune's own preview: in the admin's scope
    shown = client.get(f"/console/audio/{asset.id}").get_json()
    assert shown["message"].startswith("Chưa tạo được âm thanh") and "error" not in shown
    assert "ffmpeg" not in str(shown) and "/srv" not in str(shown)


# 6. Group posts link the audio absolutely ------------------------------------------------------

def test_group_post_audio_link_is_absolute_in_development(app, client, db, demo):
    from gateway.models import GroupPost

    no_quiet_hours(db, demo)
    app.config["PUBLIC_BASE_URL"] = ""  # development: the address the official used
    token = login(client)
    post(client, "/console/announcements", token, compose(db, body="Tối nay 19h họp dân.", channels=["group"]),
         base_url="http://localhost:5000")
    drain(app)
    drain(app, scheduled=True)
    a = db.scalar(select(Announcement))
    db.refresh(a)
    text = db.scalar(select(GroupPost.text).where(GroupPost.announcement_id == a.id))
    assert f"Nghe thông báo: http://localhost:5000/audio/{a.audio.content_hash}.mp3" in text


def test_group_post_audio_link_uses_public_base_url(app, client, db, demo):
    from gateway.models import GroupPost

    no_quiet_hours(db, demo)
    app.config["PUBLIC_BASE_URL"] = "https://loa.tanlap.gov.vn"
    token = login(client)
    post(client, "/console/announcements", token, compose(db, body="Tối nay 19h họp dân.", channels=["group"]),
         base_url="http://localhost:5000")
    drain(app)
    drain(app, scheduled=True)
    a = db.scalar(select(Announcement))
    db.refresh(a)
    text = db.scalar(select(GroupPost.text).where(GroupPost.announcement_id == a.id))
    assert f"Nghe thông báo: https://loa.tanlap.gov.vn/audio/{a.audio.content_hash}.mp3" in text


# 4. Inbox and thread ---------------------------------------------------------------------------

def test_inbox_and_thread_show_the_name_and_everything_the_resident_was_sent(app, client, db, demo):
    from flask import current_app

    from gateway.models import Report, Resident
    from gateway.sms.inbound import receive

    resident = db.scalar(select(Resident).where(Resident.area_id.in_(area(db, "KP1").descendant_ids(db))).limit(1))
    with app.app_context():
        receive(db, provider="android", sender=resident.phone, body="PA cây đổ chắn đường ở đầu ngõ 5",
                config=current_app.config, reply_by_sms=True)
        receive(db, provider="twilio", sender="+84987000111", body="PA đèn đường hỏng ở hẻm 12",
                config=current_app.config)  # a stranger, answered inline
    ours, stranger = db.scalars(select(Report).order_by(Report.id)).all()
    token = login(client)
    inbox = client.get("/console/reports").get_data(as_text=True)
    assert f"<td>{resident.name}</td>" in inbox and "<td>không có trong danh sách hộ dân</td>" in inbox
    post(client, f"/console/reports/{ours.id}/status", token, {"status": "acknowledged", "note": "Tổ sẽ dọn sáng mai."})
    drain(app)
    page = client.get(f"/console/reports/{ours.id}").get_data(as_text=True)
    assert f'id="reporter-name">{resident.name}<' in page
    thread = page[page.index('id="thread-h"'):]
    receipt = thread.index(f"Da nhan phan anh #{ours.number}")
    status_sms = thread.index("Tổ sẽ dọn sáng mai.")
    assert receipt < status_sms  # in time order
    assert thread.count("Tin nhắn gửi người phản ánh") == 2 and "Đăng vào nhóm" in thread and "đã đăng" in thread
    inline = client.get(f"/console/reports/{stranger.id}").get_data(as_text=True)
    assert f"Da nhan phan anh #{stranger.number}" in inline and "trả lời ngay" in inline


def test_a_voice_report_shows_its_length_a_player_and_the_transcript(client, db, demo):
    from gateway.reports.records import open_report

    a = area(db, "KP2")
    recording = AudioAsset(kind="recording", content_hash="aa" * 32, status="ready", duration_ms=42_400,
                           mp3_path="renders/aa/x.mp3")
    db.add(recording)
    db.flush()
    report = open_report(db, commune=a.commune(), channel="voice", area=a, phone="+84912000999")
    report.recording_id, report.transcript = recording.id, "Có chó thả rông cắn người ở đầu xóm."
    db.commit()
    login(client)
    inbox = client.get("/console/reports").get_data(as_text=True)
    assert "Phản ánh bằng giọng nói (0:42)" in inbox and "🎙" not in inbox
    assert f'aria-label="Nghe phản ánh #{report.number}"' in inbox and "Có chó thả rông" in inbox
    page = client.get(f"/console/reports/{report.id}").get_data(as_text=True)
    assert "Phản ánh bằng giọng nói (0:42)" in page and "<audio" in page
    assert "Bản chép lời (tự động)" in page and "Có chó thả rông cắn người ở đầu xóm." in page


# 5. Area choice at commune and province size -----------------------------------------------------

def test_dropdowns_name_every_area_in_full(client, db, demo):
    login(client)
    html = client.get("/console/residents").get_data(as_text=True)
    assert ">Khu phố 5 — Tổ 1</option>" in html and "— — " not in html and ">— Tổ 1<" not in html


def test_compose_tree_counts_households_with_their_teams(client, db, demo):
    import re

    from gateway.models import Resident

    login(client)
    html = client.get("/console/announcements/new").get_data(as_text=True)
    kp5 = area(db, "KP5")
    n = len([r for r in db.scalars(select(Resident).where(Resident.area_id.in_(kp5.descendant_ids(db))))
             if r.opted_out_at is None])
    assert n > 0 and re.search(rf'value="{kp5.id}" data-code="KP5" data-households="{n}"', html)
    teams = re.findall(r'<ul class="tree" id="sub-' + str(kp5.id) + r'" hidden>(.*?)</ul>', html, re.S)
    assert teams and "Tổ 1" in teams[0]  # the teams are folded away until asked for
    assert 'id="area-search"' in html and "Chưa chọn khu vực nào." in html


def test_full_names_at_province_size(db):
    from gateway.console.base import area_path

    province = Area(level="province", kind="tinh", name="Tỉnh Lâm Đồng", code="LD")
    a = Area(level="commune", kind="xa", name="Xã Tân Lập", code="TL", parent=province)
    b = Area(level="commune", kind="xa", name="Xã Hòa Bình", code="HB", parent=province)
    team = Area(level="team", kind="to", name="Tổ 1", code="T1",
                parent=Area(level="neighbourhood", kind="khu_pho", name="Khu phố 5", code="KP5", parent=a))
    other = Area(level="team", kind="to", name="Tổ 1", code="T1",
                 parent=Area(level="neighbourhood", kind="khu_pho", name="Khu phố 5", code="KP5B", parent=b))
    db.add_all([province, a, b, team, other])
    db.flush()
    assert area_path(team) == "Khu phố 5 — Tổ 1"
    assert area_path(team, True) == "Xã Tân Lập — Khu phố 5 — Tổ 1" != area_path(other, True)
    assert area_path(a, True) == area_path(a) == "Xã Tân Lập"
