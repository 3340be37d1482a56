"""The compose page's SMS preview: the text the broadcast sends, segments and cost."""
from sqlalchemy import select

from gateway.models import Area
from tests.console_helpers import login, post_json


def kp(db, code):
    return str(db.scalar(select(Area).where(Area.code == code, Area.level == "neighbourhood")).id)


def test_preview_is_the_sms_residents_get(client, db, demo):
    from gateway.announcements.targeting import recipients
    from gateway.models import Announcement
    from gateway.sms.digest import announcement_sms

    token = login(client, "truongkp1")
    data = {"title": "Tiêm phòng dại", "body": "Sáng mai 14/8 tiêm phòng cho chó mèo tại nhà văn hóa.",
            "areas": [kp(db, "KP1")], "audiences": ["everyone"], "channels": ["sms", "hotline"]}
    p = post_json(client, "/console/announcements/preview", token, data).get_json()
    assert p["text"].startswith("Tiem phong dai: Sang mai 14/8 tiem phong cho cho meo tai nha van hoa.")
    assert p["text"].endswith("goi 0263 3822 123") and p["text"].isascii()
    area = db.scalar(select(Area).where(Area.code == "KP1", Area.level == "neighbourhood"))
    sent = announcement_sms(Announcement(title=data["title"], body=data["body"], priority="normal"),
                            hotline=area.inherited("hotline_number"))
    assert p["text"] == sent and (p["encoding"], p["segments"]) == ("GSM-7", 1) and not p["cut"]
    expected = sum(1 for r in recipients(db, Announcement(areas=[area], audiences=["everyone"], channels=["sms"]))
                   if "sms" in r.channels)
    assert p["recipients"] == expected > 0 and p["cost"] == expected * 800
    assert p["cost_text"] == f"{expected} hộ nhận SMS × 1 tin nhắn × 800 ₫ = khoảng {expected * 800:,} ₫".replace(",", ".")


def test_preview_cost_follows_audiences_channels_and_scope(client, db, demo):
    token = login(client, "truongkp1")
    base = {"title": "Họp", "body": "Tối nay họp.", "areas": [kp(db, "KP1"), kp(db, "KP2")], "channels": ["sms"]}
    everyone = post_json(client, "/console/announcements/preview", token, {**base, "audiences": ["everyone"]}).get_json()
    elderly = post_json(client, "/console/announcements/preview", token, {**base, "audiences": ["elderly"]}).get_json()
    from gateway.models import Resident

    ids = set()
    for code in ("KP1", "KP2"):
        ids.update(db.scalar(select(Area).where(Area.code == code, Area.level == "neighbourhood")).descendant_ids(db))
    residents = list(db.scalars(select(Resident).where(Resident.area_id.in_(ids))))
    assert everyone["recipients"] == len(residents) > 0
    assert elderly["recipients"] == sum(r.is_elderly for r in residents) < len(residents)
    no_sms = post_json(client, "/console/announcements/preview", token, {**base, "channels": ["hotline"]}).get_json()
    assert no_sms["recipients"] == 0 and no_sms["cost"] == 0
    foreign = post_json(client, "/console/announcements/preview", token,
                        {**base, "areas": [kp(db, "KP5")], "audiences": ["everyone"]}).get_json()
    assert foreign["recipients"] == 0  # not their area: counted as nothing


def test_long_text_is_never_cut_silently(client, db, demo):
    token = login(client)
    body = "Thông báo về lịch tiêm phòng. " * 20
    p = post_json(client, "/console/announcements/preview", token,
                  {"title": "Lịch", "body": body, "areas": [kp(db, "KP1")], "channels": ["sms"]}).get_json()
    # The whole text in the parts it needs, or one part the official edits: the choice is offered.
    assert not p["fits"] and p["segments"] == p["full"]["parts"] == 4 and p["text"] == p["full"]["text"]
    assert len(p["short"]["text"]) <= 160 and p["short"]["parts"] == 1
    urgent = post_json(client, "/console/announcements/preview", token,
                       {"title": "Cháy", "body": "Cháy ở chợ", "priority": "urgent", "areas": [kp(db, "KP1")],
                        "channels": ["sms"]}).get_json()
    assert urgent["text"].startswith("KHAN: Chay: Chay o cho") and urgent["fits"]
    empty = post_json(client, "/console/announcements/preview", token, {"title": "", "body": ""}).get_json()
    assert empty["text"] == "" and empty["summary"] == "Viết nội dung để xem tin nhắn."


def test_preview_cost_uses_the_communes_own_sms_price(client, db, demo):
    token = login(client, "truongkp1")
    data = {"title": "Họp", "body": "Tối nay họp.", "areas": [kp(db, "KP1")], "audiences": ["everyone"],
            "channels": ["sms"]}
    before = post_json(client, "/console/announcements/preview", token, data).get_json()
    commune = db.scalar(select(Area).where(Area.code == "KP1", Area.level == "neighbourhood")).commune()
    commune.settings = {**(commune.settings or {}), "sms_price_vnd": 350}
    db.commit()
    after = post_json(client, "/console/announcements/preview", token, data).get_json()
    assert before["recipients"] == after["recipients"] > 0
    assert before["cost"] == before["recipients"] * 800 and after["cost"] == after["recipients"] * 350
    assert "350 ₫" in after["cost_text"]
