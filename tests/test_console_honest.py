"""Issue 17 at the Flask level: SMS that keep what residents need, long announcements, honest
statuses and plain words on the console's pages."""
import datetime as dt

from sqlalchemy import select

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
