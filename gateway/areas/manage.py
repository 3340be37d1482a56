"""Changing the area tree: add, edit, move, merge and retire, each checked with a reason in Vietnamese.

Codes are unique within a commune (a team's too, whatever its neighbourhood), and province and
commune codes across the install, so `DK KP5` and `--commune TANLAP` name one place. Renames
and merges keep the old names and codes as aliases; nothing a resident or official made is
deleted: a merge moves it to the surviving area, and retired areas stay readable.
"""
import re
from dataclasses import dataclass, field

from sqlalchemy import delete, func, insert, select, update

from gateway.areas import active_children, area_key, normal_code
from gateway.models import (
    KIND_LABELS, Area, AreaAlias, Bulletin, OperatorLink, Report, Resident, Subscription, announcement_areas,
    official_areas, utcnow,
)
from gateway.text import fold, nfc

# What the "kind" column may say (folded) → (level, kind): our words and the local ones.
KIND_WORDS = {
    "province": ("province", "tinh"), "tinh": ("province", "tinh"), "thanh pho": ("province", "thanh_pho"),
    "commune": ("commune", "xa"), "ward": ("commune", "phuong"), "xa": ("commune", "xa"),
    "phuong": ("commune", "phuong"), "dac khu": ("commune", "dac_khu"), "thi tran": ("commune", "thi_tran"),
    "village": ("neighbourhood", "thon"), "neighbourhood": ("neighbourhood", "khu_pho"),
    "neighborhood": ("neighbourhood", "khu_pho"), "thon": ("neighbourhood", "thon"),
    "ban": ("neighbourhood", "ban"), "ap": ("neighbourhood", "ap"), "xom": ("neighbourhood", "xom"),
    "khu pho": ("neighbourhood", "khu_pho"), "to dan pho": ("neighbourhood", "to_dan_pho"),
    "tdp": ("neighbourhood", "to_dan_pho"), "team": ("team", "to"), "to": ("team", "to"),
}
LEVEL_LABELS = {"province": "tỉnh", "commune": "xã/phường", "neighbourhood": "thôn/khu phố", "team": "tổ"}
# The level an area's parent has; None: at the top of the tree.
PARENT_LEVELS = {"province": (None,), "commune": (None, "province"), "neighbourhood": ("commune",),
                 "team": ("neighbourhood",)}
_CODE = re.compile(r"[A-Z0-9][A-Z0-9_-]{0,29}")
NAME_MAX = 120


class AreaError(ValueError):
    """A change to the tree that cannot be made; the message says why and what to do."""


def parse_kind(text):
    """"xã", "Khu phố", "village", "tổ" → (level, kind); AreaError listing what is accepted."""
    key = fold(text)
    if key in KIND_WORDS:
        return KIND_WORDS[key]
    raise AreaError(f"Loại '{text}' không rõ: dùng tỉnh, xã, phường, đặc khu, thôn, bản, ấp, xóm, khu phố, "
                    "tổ dân phố hoặc tổ (hay province, commune, village, team).")


def kind_label(area):
    """The kind as a list shows it and import reads it back ("Khu phố", "Xã", "Tổ")."""
    return KIND_LABELS.get(area.kind, area.kind)


def check_code(text):
    """A code as stored ("kp 5" → "KP5"); AreaError when it cannot be texted."""
    code = normal_code(text)
    if not code:
        raise AreaError("Thiếu mã (ví dụ KP5, TANLOI).")
    if not _CODE.fullmatch(code):
        raise AreaError(f"Mã '{text}' chỉ được có chữ không dấu, chữ số, '-' hoặc '_' (tối đa 30 ký tự), ví dụ KP5.")
    return code


def check_name(text):
    """A name as stored (NFC, spaces tidied); AreaError when empty or too long."""
    name = re.sub(r"\s+", " ", nfc(text or "")).strip()
    if not name:
        raise AreaError("Thiếu tên (ví dụ Khu phố 5, Thôn Tân Lợi).")
    if len(name) > NAME_MAX:
        raise AreaError(f"Tên dài quá {NAME_MAX} ký tự.")
    return name


def check_parent(level, parent):
    """AreaError unless `parent` may hold an area of `level`."""
    allowed = PARENT_LEVELS[level]
    if parent is None:
        if None not in allowed:
            above = LEVEL_LABELS[allowed[0]]
            raise AreaError(f"Một {LEVEL_LABELS[level]} phải nằm trong một {above}: cho biết mã cấp trên.")
        return
    if not parent.active:
        raise AreaError(f"{parent.name} đã ngừng dùng: chọn cấp trên khác.")
    if parent.level not in allowed:
        wanted = " hoặc ".join(LEVEL_LABELS[x] for x in allowed if x) or "không có cấp trên"
        raise AreaError(f"{parent.name} là {LEVEL_LABELS[parent.level]}: cấp trên của một "
                        f"{LEVEL_LABELS[level]} phải là {wanted}.")


def _scope_ids(session, level, parent):
    """Ids of the areas a code must be unique among: the commune's tree, or the top levels."""
    commune = parent.commune() if parent is not None and level in ("neighbourhood", "team") else None
    if commune is not None:
        return commune.descendant_ids(session)
    return list(session.scalars(select(Area.id).where(Area.level.in_(("province", "commune")))))


def code_conflict(session, code, level, parent, *, exclude_ids=()):
    """Why `code` cannot be used for an area of `level` under `parent` (None when it can)."""
    ids = [i for i in _scope_ids(session, level, parent) if i not in set(exclude_ids)]
    if not ids:
        return None
    where = parent.commune().name if level in ("neighbourhood", "team") and parent is not None \
        and parent.commune() is not None else "hệ thống"
    other = session.scalar(select(Area).where(Area.id.in_(ids), Area.code == code).limit(1))
    if other is not None:
        retired = " (đã ngừng dùng)" if not other.active else ""
        return f"Mã {code} đã dùng cho {_full_name(other)}{retired} trong {where}: chọn mã khác."
    alias = session.scalar(select(AreaAlias).where(AreaAlias.area_id.in_(ids), AreaAlias.key == area_key(code))
                           .limit(1))
    if alias is not None:
        return f"Mã {code} vẫn là mã cũ của {_full_name(alias.area)} (người dân còn nhắn mã này): chọn mã khác."
    return None


def _full_name(area):
    if area.level == "team" and area.parent is not None:
        return f"{area.parent.name}, {area.name}"
    return area.name


def resolve(session, ref, *, include_retired=False):
    """The area a code names ("KP5", or "TANLAP/KP5" when several communes have a KP5); AreaError otherwise."""
    text = str(ref or "").strip()
    if not text:
        raise AreaError("Thiếu mã khu vực.")
    within = None
    if "/" in text:
        outer, _, text = text.rpartition("/")
        within = resolve(session, outer, include_retired=include_retired)
    code = normal_code(text)
    query = select(Area).where(Area.code == code)
    if not include_retired:
        query = query.where(Area.retired_at.is_(None))
    if within is not None:
        query = query.where(Area.id.in_(within.descendant_ids(session)))
    found = list(session.scalars(query.order_by(Area.id)))
    if not found:
        old = None if include_retired else session.scalar(
            select(Area).where(Area.code == code, Area.retired_at.is_not(None)).order_by(Area.id.desc()).limit(1))
        if old is not None and old.merged_into is not None:
            raise AreaError(f"{old.name} [{code}] đã gộp vào {old.merged_into.name} [{old.merged_into.code}]: "
                            f"dùng mã {old.merged_into.code}.")
        if old is not None:
            raise AreaError(f"{old.name} [{code}] đã ngừng dùng.")
        raise AreaError(f"Không có khu vực mã '{ref}' (xem `areas list`).")
    if len(found) > 1:
        places = ", ".join(sorted({(a.commune() or a).code for a in found}))
        raise AreaError(f"Mã '{ref}' có ở nhiều nơi ({places}): viết kèm mã xã, ví dụ {found[0].commune().code}/{code}."
                        if all(a.commune() is not None for a in found) else
                        f"Mã '{ref}' có ở nhiều nơi ({places}).")
    return found[0]


def qualified_code(session, area):
    """The code that names `area` on its own: "KP5", or "TANLAP/KP5" when another commune has a KP5."""
    count = session.scalar(select(func.count()).select_from(Area).where(Area.code == area.code,
                                                                        Area.retired_at.is_(None)))
    commune = area.commune()
    if count > 1 and commune is not None and commune is not area:
        return f"{commune.code}/{area.code}"
    return area.code


def add_alias(session, area, text, *, kind="name", source="rename"):
    """Let `area` be found by `text` too (an old name or code); no-op when it already is."""
    text = re.sub(r"\s+", " ", nfc(text or "")).strip()
    key = area_key(text)
    if not key or key in (area_key(area.name), area_key(area.code)):
        return None
    if any(a.key == key for a in area.aliases):
        return None
    if session.scalar(select(AreaAlias.id).where(AreaAlias.area_id == area.id, AreaAlias.key == key)):
        return None
    alias = AreaAlias(name=text[:NAME_MAX], key=key[:NAME_MAX], kind=kind, source=source)
    area.aliases.append(alias)
    return alias


def looks_like_code(text):
    """True for "KP6", "TANLOI" (texted codes), False for names such as "Khu phố 6"."""
    return bool(_CODE.fullmatch(text.strip())) and text.strip().upper() == text.strip()


def _hotline(text):
    """A hotline number as stored; AreaError with the reason."""
    from gateway.areas.settings import validate_hotline

    try:
        return validate_hotline(text)
    except ValueError as exc:
        raise AreaError(f"Số tổng đài: {exc}") from None


def add_area(session, *, code, name, kind, parent=None, hotline=None, aliases=()):
    """A new area under `parent`; AreaError when anything is wrong. Flushes, does not commit."""
    level, kind = parse_kind(kind)
    code, name = check_code(code), check_name(name)
    check_parent(level, parent)
    problem = code_conflict(session, code, level, parent)
    if problem:
        raise AreaError(problem)
    area = Area(level=level, kind=kind, code=code, name=name, parent=parent, settings={},
                hotline_number=_hotline(hotline) if hotline else None)
    session.add(area)
    for alias in aliases:
        add_alias(session, area, alias, kind="code" if looks_like_code(alias) else "name", source="import")
    session.flush()
    return area


def edit_area(session, area, *, name=None, code=None, kind=None, hotline=None, aliases=()):
    """Rename, recode or re-kind `area` (within its level); the old name and code become aliases.
    Everything is checked before anything changes. Returns True when anything changed."""
    new = check_edit(session, area, name=name, code=code, kind=kind, hotline=hotline)
    changed = False
    old_name, old_code = area.name, area.code
    area.name, area.code = new.get("name", area.name), new.get("code", area.code)
    # The old name first: when name and code share a key ("Khu phố 5", "KP5") the name is kept,
    # as the hotline can read it.
    for old, kind in ((old_name, "name"), (old_code, "code")):
        if old != getattr(area, kind):
            add_alias(session, area, old, kind=kind, source="rename")
            changed = True
    if new.get("kind", area.kind) != area.kind:
        area.kind, changed = new["kind"], True
    if "hotline" in new and new["hotline"] != area.hotline_number:
        area.hotline_number, changed = new["hotline"], True
    for alias in aliases:
        if add_alias(session, area, alias, kind="code" if looks_like_code(alias) else "name", source="import"):
            changed = True
    session.flush()
    return changed


def check_edit(session, area, *, name=None, code=None, kind=None, hotline=None):
    """The checked new values of an edit (only those given); AreaError naming the first problem."""
    new = {}
    if kind is not None:
        level, new["kind"] = parse_kind(kind)
        if level != area.level:
            raise AreaError(f"{area.name} là {LEVEL_LABELS[area.level]}, không đổi được thành "
                            f"{LEVEL_LABELS[level]}: thêm khu mới rồi gộp vào.")
    if code is not None:
        new["code"] = check_code(code)
        if new["code"] != area.code:
            problem = code_conflict(session, new["code"], area.level, area.parent, exclude_ids=[area.id])
            if problem:
                raise AreaError(problem)
    if name is not None:
        new["name"] = check_name(name)
    if hotline is not None:
        new["hotline"] = _hotline(hotline) if hotline.strip() else None
    return new


def move_area(session, area, parent):
    """Put `area` (and everything below it) under `parent`; codes must stay unique in the commune.
    Returns True when it moved."""
    check_parent(area.level, parent)
    ids = area.descendant_ids(session)
    if parent is not None and parent.id in ids:
        raise AreaError(f"Không chuyển được {area.name} vào chính nó hoặc khu bên trong nó.")
    if (parent.id if parent is not None else None) == area.parent_id:
        return False
    if area.level in ("neighbourhood", "team"):
        for node in session.scalars(select(Area).where(Area.id.in_(ids)).order_by(Area.id)):
            problem = code_conflict(session, node.code, node.level, parent, exclude_ids=ids)
            if problem:
                raise AreaError(problem)
    area.parent = parent
    session.flush()
    return True


@dataclass
class MergeResult:
    """What a merge moved, by kind of row, for the official to read."""

    into: Area
    merged: list = field(default_factory=list)
    moved: dict = field(default_factory=dict)

    def summary(self):
        """One line in Vietnamese."""
        labels = (("residents", "hộ dân"), ("teams", "tổ"), ("subscriptions", "đăng ký nhận tin"),
                  ("reports", "phản ánh"), ("links", "liên kết loa"), ("announcements", "thông báo"),
                  ("officials", "cán bộ phụ trách"), ("bulletins", "bản tin ngày"))
        counts = ", ".join(f"{self.moved.get(k, 0)} {label}" for k, label in labels)
        names = ", ".join(a.name for a in self.merged)
        return f"Đã gộp {names} vào {self.into.name}: chuyển {counts}."


def merge_areas(session, sources, into, *, when=None):
    """Merge `sources` into `into`: every row that points at them moves, their names and codes
    become aliases of `into`, and they are kept (retired, with the date). Flushes, does not commit."""
    when = when or utcnow()
    if not into.active:
        raise AreaError(f"{into.name} đã ngừng dùng: không gộp vào được.")
    if into.level not in ("neighbourhood", "team"):
        raise AreaError("Chỉ gộp được thôn, khu phố, tổ (xã, phường do tỉnh sắp xếp: chuyển từng thôn).")
    result = MergeResult(into=into)
    for source in sources:
        if source.id == into.id:
            raise AreaError(f"Không gộp {source.name} vào chính nó.")
        if not source.active:
            raise AreaError(f"{source.name} đã ngừng dùng hoặc đã gộp trước đó.")
        if source.level != into.level:
            raise AreaError(f"{source.name} là {LEVEL_LABELS[source.level]}, {into.name} là "
                            f"{LEVEL_LABELS[into.level]}: chỉ gộp các khu cùng cấp.")
        if source.commune() is not into.commune():
            raise AreaError(f"{source.name} và {into.name} không cùng một xã: chuyển sang cùng xã trước.")
    for source in sources:
        _merge_one(session, source, into, when, result.moved)
        result.merged.append(source)
    session.flush()
    return result


def _count(moved, key, n):
    moved[key] = moved.get(key, 0) + (n or 0)


def _merge_one(session, source, into, when, moved):
    sid, iid = source.id, into.id
    _count(moved, "residents", session.execute(
        update(Resident).where(Resident.area_id == sid).values(area_id=iid)).rowcount)
    # Teams move with their households; a name already used under `into` gets its old village added.
    taken = {fold(t.name) for t in active_children(session, into)}
    for team in active_children(session, source):
        add_alias(session, team, f"{source.code} {team.name}", kind="name", source="merge")
        add_alias(session, team, f"{source.name} {team.name}", kind="name", source="merge")
        if fold(team.name) in taken:
            team.name = f"{team.name} ({source.name})"[:NAME_MAX]
        taken.add(fold(team.name))
        team.parent = into
        _count(moved, "teams", 1)
    session.flush()
    # A resident already following `into` (or living there) needs no second subscription.
    dup = select(Subscription.resident_id).where(Subscription.area_id == iid)
    session.execute(delete(Subscription).where(Subscription.area_id == sid, Subscription.resident_id.in_(dup)))
    session.execute(delete(Subscription).where(
        Subscription.area_id == sid, Subscription.resident_id.in_(select(Resident.id).where(Resident.area_id == iid))))
    _count(moved, "subscriptions", session.execute(
        update(Subscription).where(Subscription.area_id == sid).values(area_id=iid)).rowcount)
    _count(moved, "reports", session.execute(update(Report).where(Report.area_id == sid).values(area_id=iid)).rowcount)
    _count(moved, "links", session.execute(
        update(OperatorLink).where(OperatorLink.area_id == sid).values(area_id=iid)).rowcount)
    _count(moved, "announcements", _move_links(session, announcement_areas, "announcement_id", sid, iid))
    _count(moved, "officials", _move_links(session, official_areas, "official_id", sid, iid))
    taken_days = select(Bulletin.day).where(Bulletin.area_id == iid)
    _count(moved, "bulletins", session.execute(
        update(Bulletin).where(Bulletin.area_id == sid, Bulletin.day.not_in(taken_days)).values(area_id=iid)).rowcount)
    for alias in list(source.aliases):
        add_alias(session, into, alias.name, kind=alias.kind, source=alias.source)
    add_alias(session, into, source.name, kind="name", source="merge")
    add_alias(session, into, source.code, kind="code", source="merge")
    source.merged_into, source.merged_at, source.retired_at = into, when, when
    session.flush()
    session.expire_all()


def _move_links(session, table, other, sid, iid):
    """Point rows of an association table at `iid` instead of `sid`, without duplicates."""
    col, area_col = table.c[other], table.c.area_id
    already = select(col).where(area_col == iid)
    rows = [r[0] for r in session.execute(select(col).where(area_col == sid, col.not_in(already)))]
    if rows:
        session.execute(insert(table), [{other: r, "area_id": iid} for r in rows])
    session.execute(delete(table).where(area_col == sid))
    return len(rows)


def retire_area(session, area, *, when=None):
    """Stop using an empty area (no households, no active areas below): it leaves pickers and lists."""
    if not area.active:
        raise AreaError(f"{area.name} đã ngừng dùng từ trước.")
    children = active_children(session, area)
    if children:
        raise AreaError(f"{area.name} còn {len(children)} khu bên trong ({', '.join(c.name for c in children[:3])}"
                        f"{'…' if len(children) > 3 else ''}): chuyển, gộp hoặc ngừng dùng chúng trước.")
    households = session.scalar(select(func.count()).select_from(Resident).where(Resident.area_id == area.id))
    if households:
        raise AreaError(f"{area.name} còn {households} hộ dân: gộp vào khu khác (areas merge) hoặc chuyển hộ trước.")
    area.retired_at = when or utcnow()
    session.flush()
    return area
