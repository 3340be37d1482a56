"""Demo data: a town of 14 neighbourhoods, a few hundred households, a few officials; or a whole
province of communes (`load_province`) to try the gateway at the size a province runs it."""
import random

from sqlalchemy import select
from werkzeug.security import generate_password_hash

from gateway.models import KIND_LABELS, Area, Official, Resident
from gateway.phone import PhoneError, normalize

COMMUNE = ("thi_tran", "Thị trấn Tân Lập", "TANLAP")
NEIGHBOURHOODS = [("khu_pho", f"Khu phố {i}", f"KP{i}") for i in range(1, 11)] + [
    ("thon", "Thôn Tân Lợi", "TANLOI"), ("thon", "Thôn Phú Hòa", "PHUHOA"),
    ("thon", "Thôn Đông Hòa", "DONGHOA"), ("thon", "Thôn An Bình", "ANBINH"),
]
SURNAMES = "Nguyễn Trần Lê Phạm Hoàng Huỳnh Phan Vũ Võ Đặng Bùi Đỗ Hồ Ngô Dương Lý".split()
MIDDLE_M = "Văn Hữu Đức Minh Quốc Xuân Công Thanh".split()
MIDDLE_F = "Thị Ngọc Thanh Thu Kim Mỹ".split()
GIVEN_M = "An Bình Cường Dũng Hải Hùng Long Nam Phúc Quang Sơn Tuấn Lợi Thắng Toàn Vinh".split()
GIVEN_F = "Hà Hạnh Hoa Lan Mai Nga Tâm Thảo Thủy Vân Yến Đào Hương Liên Nhung Sen".split()
MOBILE_PREFIXES = "032 033 034 035 036 037 038 039 070 076 077 078 079 081 082 083 084 085 086 088 089 090 091 093 094 096 097 098".split()
OFFICIALS = (
    ("admin", "Nguyễn Văn Quản", "admin", []),
    ("truongkp1", "Trần Thị Hoa", "leader", ["KP1", "KP2"]),
    ("tanloi", "Lê Văn Lợi", "leader", ["TANLOI"]),
    ("loa", "Phạm Văn Loa", "operator", []),
)


def _new_phone(rng, taken):
    """A valid mobile number not in `taken` (added to it)."""
    while True:
        try:
            phone = normalize(rng.choice(MOBILE_PREFIXES) + f"{rng.randrange(10**7):07d}")
        except PhoneError:
            continue
        if phone not in taken:
            taken.add(phone)
            return phone


def load_demo(session, *, households=320, password="demo1234", seed=1948):
    """Create the demo commune; returns it, or None when it is already there."""
    kind, name, code = COMMUNE
    if session.scalar(select(Area).where(Area.code == code, Area.parent_id.is_(None))):
        return None
    rng = random.Random(seed)
    commune = Area(level="commune", kind=kind, name=name, code=code, hotline_number="+842633822123",
                   duty_officer_phone="+84912000111", group_target="outbox", group_chat_id="tanlap-main",
                   settings={"quiet_hours": "21:00-06:30", "timezone": "Asia/Ho_Chi_Minh"})
    session.add(commune)
    neighbourhoods = []
    for kind, name, code in NEIGHBOURHOODS:
        area = Area(level="neighbourhood", kind=kind, name=name, code=code, parent=commune,
                    group_target="outbox", group_chat_id=f"{code.lower()}-group", settings={})
        session.add(area)
        for t in range(1, rng.choice((2, 3, 3, 4)) + 1):
            # Codes are unique within the commune: KP5 Tổ 2 is KP5T2.
            session.add(Area(level="team", kind="to", name=f"Tổ {t}", code=f"{code}T{t}", parent=area, settings={}))
        neighbourhoods.append(area)
    session.flush()
    phones = set()
    for i in range(households):
        area = neighbourhoods[i % len(neighbourhoods)]
        team = rng.choice(area.children)
        elderly = rng.random() < 0.22
        no_smartphone = rng.random() < (0.6 if elderly else 0.08)
        female = rng.random() < 0.5
        full = " ".join((rng.choice(SURNAMES), rng.choice(MIDDLE_F if female else MIDDLE_M),
                         rng.choice(GIVEN_F if female else GIVEN_M)))
        phone = _new_phone(rng, phones)
        session.add(Resident(phone=phone, name=full, area_id=team.id, is_elderly=elderly,
                             is_poor=rng.random() < 0.06, no_smartphone=no_smartphone,
                             prefers_sms=True, prefers_voice=elderly or no_smartphone,
                             household_code=f"{area.code}-{i + 1:04d}", consent_source="demo"))
    by_code = {a.code: a for a in neighbourhoods}
    for login, full, role, codes in OFFICIALS:
        session.add(Official(login=login, name=full, role=role, password_hash=generate_password_hash(password),
                             areas=[by_code[c] for c in codes] or [commune]))
    session.commit()
    return commune


# A province (point 8 of issue 12): about 100 communes of 3,000 households, loaded with bulk
# INSERTs (one statement per batch, not one ORM object per household).
PROVINCE = ("tinh", "Tỉnh Lâm Giang", "LAMGIANG")
COMMUNE_WORDS = ("An Bình Hòa Phú Tân Đông Tây Nam Bắc Trung Lộc Phước Thạnh Long Hưng Mỹ Thuận Vĩnh Hiệp "
                 "Quang Sơn Hải Thủy Lâm").split()
VILLAGE_KINDS = ("thon", "khu_pho", "ban", "xom")
BATCH = 5000


# Prefixes valid for every 7-digit subscriber number (089 is only partly allocated).
PROVINCE_PREFIXES = [p for p in MOBILE_PREFIXES if p != "089"]


def province_phone(i):
    """The i-th province demo phone: a valid Vietnamese mobile, never the same for two i."""
    prefix = PROVINCE_PREFIXES[i % len(PROVINCE_PREFIXES)]
    return "+84" + prefix[1:] + f"{((i // len(PROVINCE_PREFIXES)) * 7919 + 12345) % 10**7:07d}"


def load_province(session, *, communes=100, households=3000, villages=10, teams=3, password="demo1234",
                  seed=1945, progress=None):
    """Create a demo province: `communes` communes, each with villages, teams, `households`
    households, a few reports and announcements, and its own officials. Returns the province,
    or None when it is already there. `progress(done, total)` is told after each commune."""
    from sqlalchemy import insert

    from gateway.models import Announcement, Counter, Report, ReportEvent, announcement_areas, utcnow

    kind, name, code = PROVINCE
    if session.scalar(select(Area).where(Area.code == code, Area.parent_id.is_(None))):
        return None
    rng = random.Random(seed)
    now = utcnow()
    province = Area(level="province", kind=kind, name=name, code=code, settings={"timezone": "Asia/Ho_Chi_Minh"},
                    group_target="outbox", group_chat_id="lamgiang-tinh")
    session.add(province)
    session.flush()
    digest = generate_password_hash(password)
    officials = [{"login": "tinh", "name": "Sở Thông tin tỉnh", "role": "province", "area": province.id}]
    resident_no = 0
    for c in range(1, communes + 1):
        word = COMMUNE_WORDS[(c - 1) % len(COMMUNE_WORDS)]
        commune = Area(level="commune", kind="xa" if c % 4 else "phuong", code=f"X{c:03d}",
                       name=f"{'Xã' if c % 4 else 'Phường'} {word} {(c - 1) // len(COMMUNE_WORDS) + 1}",
                       parent_id=province.id, hotline_number=f"+84263380{c:04d}", group_target="outbox",
                       group_chat_id=f"x{c:03d}-main", settings={"quiet_hours": "21:00-06:30"})
        session.add(commune)
        session.flush()
        team_ids = []
        for v in range(1, villages + 1):
            village_kind = VILLAGE_KINDS[(c + v) % len(VILLAGE_KINDS)]
            village = Area(level="neighbourhood", kind=village_kind, code=f"V{v}", parent_id=commune.id,
                           name=f"{KIND_LABELS[village_kind]} {v}", group_target="outbox",
                           group_chat_id=f"x{c:03d}-v{v}", settings={})
            session.add(village)
            session.flush()
            rows = [{"level": "team", "kind": "to", "code": f"T{t}", "name": f"Tổ {t}", "parent_id": village.id,
                     "settings": {}, "created_at": now, "updated_at": now} for t in range(1, teams + 1)]
            team_ids += list(session.scalars(insert(Area).returning(Area.id), rows))
        rows = []
        for h in range(households):
            elderly = rng.random() < 0.22
            female = rng.random() < 0.5
            rows.append({
                "phone": province_phone(resident_no), "area_id": team_ids[h % len(team_ids)],
                "name": " ".join((rng.choice(SURNAMES), rng.choice(MIDDLE_F if female else MIDDLE_M),
                                  rng.choice(GIVEN_F if female else GIVEN_M))),
                "is_elderly": elderly, "is_poor": rng.random() < 0.06,
                "no_smartphone": rng.random() < (0.6 if elderly else 0.08), "prefers_sms": True,
                "prefers_voice": elderly, "household_code": f"X{c:03d}-{h + 1:05d}", "consent_source": "demo",
                "notes": "", "created_at": now, "updated_at": now,
            })
            resident_no += 1
            if len(rows) == BATCH:
                session.execute(insert(Resident), rows)
                rows = []
        if rows:
            session.execute(insert(Resident), rows)
        _province_reports(session, commune.id, team_ids, rng, now, Report, ReportEvent, Counter)
        ann = Announcement(title=f"Lịch tiêm phòng {commune.name}", body="Tiêm phòng dại cho chó mèo sáng thứ Bảy.",
                           status="sent", send_at=now, created_at=now)
        session.add(ann)
        session.flush()
        session.execute(insert(announcement_areas), [{"announcement_id": ann.id, "area_id": commune.id}])
        officials.append({"login": f"xa{c:03d}", "name": f"Quản trị {commune.name}", "role": "admin",
                          "area": commune.id})
        session.commit()
        if progress is not None:
            progress(c, communes)
    for o in officials:
        session.add(Official(login=o["login"], name=o["name"], role=o["role"], password_hash=digest,
                             areas=[session.get(Area, o["area"])]))
    session.commit()
    return province


def _province_reports(session, commune_id, team_ids, rng, now, Report, ReportEvent, Counter, per_commune=20):
    """A few reports per commune, numbered 1…n, with the commune's counter set to n."""
    from sqlalchemy import insert

    rows = [{"commune_id": commune_id, "number": n, "area_id": rng.choice(team_ids), "channel": "sms",
             "category": rng.choice(("security", "environment", "health", "other")),
             "text": rng.choice(("Rác thải ở đầu ngõ chưa được thu gom.", "Đèn đường bị hỏng.",
                                 "Chó thả rông cắn người.", "Tiếng ồn karaoke sau 22 giờ.")),
             "status": "new", "last_message_at": now, "created_at": now, "updated_at": now}
            for n in range(1, per_commune + 1)]
    ids = list(session.scalars(insert(Report).returning(Report.id, sort_by_parameter_order=True), rows))
    session.execute(insert(ReportEvent), [{"report_id": i, "kind": "message_in", "text": r["text"], "created_at": now}
                                          for i, r in zip(ids, rows)])
    session.execute(insert(Counter), [{"commune_id": commune_id, "name": "report", "value": per_commune}])
