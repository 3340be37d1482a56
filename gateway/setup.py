"""First run for a real commune: the province (optional), the commune and its first admin.

Shared by `python -m gateway setup` and the console's first-run page; messages are in
Vietnamese, for whoever sets the commune up."""
import re
from dataclasses import dataclass, field

from sqlalchemy import func, select
from werkzeug.security import generate_password_hash

from gateway.models import AREA_KINDS, KIND_LABELS, Area, Official
from gateway.phone import PhoneError, normalize
from gateway.text import fold, nfc

MIN_PASSWORD = 10
CODE = re.compile(r"[A-Z0-9_]{2,30}")
LOGIN = re.compile(r"[a-z0-9._-]{3,80}")
COMMUNE_KINDS = AREA_KINDS["commune"]
PROVINCE_KINDS = AREA_KINDS["province"]


class SetupError(ValueError):
    """What must be fixed before the commune can be created: every problem, one per line."""

    def __init__(self, problems):
        super().__init__("\n".join(problems))
        self.problems = list(problems)


@dataclass
class SetupRequest:
    commune_name: str
    commune_code: str
    admin_login: str
    admin_password: str
    commune_kind: str = "xa"
    admin_name: str = ""
    hotline: str = ""
    province_name: str = ""
    province_code: str = ""
    province_kind: str = "tinh"
    # "CODE=Name" lines, e.g. "TANLOI=Thôn Tân Lợi"; the kind comes from the name's first words.
    villages: list = field(default_factory=list)


def needs_first_run(session):
    """True while nobody can log in: no official exists yet."""
    return not session.scalar(select(func.count()).select_from(Official))


def password_problem(password, login=""):
    """Why a password is refused, or None."""
    if len(password or "") < MIN_PASSWORD:
        return f"Mật khẩu quá ngắn: cần ít nhất {MIN_PASSWORD} ký tự."
    if login and password.lower() == login.lower():
        return "Mật khẩu không được trùng tên đăng nhập."
    if len(set(password)) < 4:
        return "Mật khẩu quá đơn giản: dùng nhiều ký tự khác nhau."
    return None


def check(session, req):
    """The request cleaned (NFC names, upper-case codes, E.164 hotline); SetupError lists every problem."""
    problems = []
    req.commune_name = nfc(req.commune_name or "").strip()
    req.commune_code = (req.commune_code or "").strip().upper()
    req.province_name = nfc(req.province_name or "").strip()
    req.province_code = (req.province_code or "").strip().upper()
    req.admin_login = (req.admin_login or "").strip().lower()
    req.admin_name = nfc(req.admin_name or "").strip()
    if not req.commune_name or len(req.commune_name) > 120:
        problems.append("Tên xã/phường: bắt buộc, tối đa 120 ký tự (ví dụ: Xã Tân Lập).")
    if not CODE.fullmatch(req.commune_code):
        problems.append("Mã xã/phường: 2–30 chữ không dấu, số hoặc _ (ví dụ: TANLAP).")
    if req.commune_kind not in COMMUNE_KINDS:
        problems.append("Loại: " + ", ".join(f"{k} ({KIND_LABELS[k]})" for k in COMMUNE_KINDS) + ".")
    if bool(req.province_name) != bool(req.province_code):
        problems.append("Tỉnh: ghi cả tên và mã, hoặc bỏ trống cả hai.")
    elif req.province_code and not CODE.fullmatch(req.province_code):
        problems.append("Mã tỉnh: 2–30 chữ không dấu, số hoặc _ (ví dụ: LAMDONG).")
    if req.province_kind not in PROVINCE_KINDS:
        problems.append("Loại tỉnh: " + ", ".join(PROVINCE_KINDS) + ".")
    if req.hotline:
        try:
            req.hotline = normalize(req.hotline)
        except PhoneError as exc:
            problems.append(f"Số tổng đài: {exc}")
    if not LOGIN.fullmatch(req.admin_login):
        problems.append("Tên đăng nhập: 3–80 chữ thường không dấu, số, dấu chấm, - hoặc _.")
    elif session.scalar(select(Official).where(Official.login == req.admin_login)):
        problems.append(f"Tên đăng nhập '{req.admin_login}' đã có người dùng.")
    problem = password_problem(req.admin_password, req.admin_login)
    if problem:
        problems.append(problem)
    province = _province(session, req)
    if province is not None and province.level != "province":
        problems.append(f"Mã {req.province_code} đã là của {province.name}, không phải một tỉnh.")
    siblings = select(Area).where(Area.code == req.commune_code, Area.level == "commune")
    if session.scalar(siblings):
        problems.append(f"Mã xã/phường {req.commune_code} đã có.")
    parsed, codes = [], set()
    for line in req.villages:
        line = nfc(line or "").strip()
        if not line:
            continue
        code, _, name = line.partition("=")
        code, name = code.strip().upper(), name.strip()
        if not CODE.fullmatch(code) or not name or len(name) > 120:
            problems.append(f"Thôn/khu phố '{line}': viết MÃ=Tên, ví dụ TANLOI=Thôn Tân Lợi.")
        elif code in codes:
            problems.append(f"Mã thôn/khu phố {code} bị lặp.")
        else:
            codes.add(code)
            parsed.append((code, name, village_kind(name)))
    req.villages = parsed
    if problems:
        raise SetupError(problems)
    return req


def village_kind(name):
    """The kind a village's name starts with ("Khu phố 5" → khu_pho); thôn when it names none."""
    folded = fold(name)
    for kind in sorted(AREA_KINDS["neighbourhood"], key=lambda k: -len(KIND_LABELS[k])):
        if folded.startswith(fold(KIND_LABELS[kind]) + " "):
            return kind
    return "thon"


def _province(session, req):
    if not req.province_code:
        return None
    return session.scalar(select(Area).where(Area.code == req.province_code, Area.parent_id.is_(None)))


def first_run(session, req):
    """Create the province (or reuse it), the commune and its admin; commits. SetupError when not possible."""
    check(session, req)
    province = _province(session, req)
    if province is None and req.province_code:
        province = Area(level="province", kind=req.province_kind, name=req.province_name, code=req.province_code,
                        settings={})
        session.add(province)
    commune = Area(level="commune", kind=req.commune_kind, name=req.commune_name, code=req.commune_code,
                   parent=province, hotline_number=req.hotline or None,
                   settings={"timezone": "Asia/Ho_Chi_Minh", "quiet_hours": "21:00-06:30"})
    session.add(commune)
    for code, name, kind in req.villages:
        session.add(Area(level="neighbourhood", kind=kind, name=name, code=code, parent=commune, settings={}))
    admin = Official(login=req.admin_login, name=req.admin_name, role="admin", areas=[commune],
                     password_hash=generate_password_hash(req.admin_password))
    session.add(admin)
    session.commit()
    return commune, admin
