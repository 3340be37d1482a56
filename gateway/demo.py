"""A demo commune: a town of 14 neighbourhoods, a few hundred households, a few officials."""
import random

from sqlalchemy import select
from werkzeug.security import generate_password_hash

from gateway.models import Area, Official, Resident
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
