"""Area lists in and out (CSV or XLSX): code, name, kind, parent code, hotline number, aliases.

The same reading, report and all-or-nothing rule as the household import: each row is added,
updated, unchanged or rejected with a reason, and nothing is saved while any row is bad unless
bad rows are skipped. Parents may come earlier in the same file. The export writes the same
columns, so an exported list imports back unchanged.
"""
from sqlalchemy import select

from gateway.areas.manage import (
    AreaError, add_area, check_code, check_edit, code_conflict, edit_area, kind_label, move_area, parse_kind,
    qualified_code, resolve,
)
from gateway.auth import may_act_on
from gateway.models import Area
from gateway.phone import national
from gateway.residents import ImportFileError, ImportReport, RowResult, _filled, _header_key, read_table

HEADERS = {
    "code": ("code", "ma", "makhuvuc", "madiaban", "maso"),
    "name": ("name", "ten", "tenkhuvuc", "tendiaban"),
    "kind": ("kind", "loai", "cap", "loaidiaban"),
    "parent": ("parentcode", "parent", "macaptren", "captren", "thuoc"),
    "hotline": ("hotlinenumber", "hotline", "sotongdai", "tongdai"),
    "aliases": ("aliases", "alias", "tencu", "cactencu", "tengoikhac"),
}
EXPORT_HEADERS = ("Mã", "Tên", "Loại", "Mã cấp trên", "Số tổng đài", "Tên cũ")
QUIET_COLUMNS = {"stt", "tt"}
REQUIRED = ("code", "name", "kind")


def map_headers(header):
    """Column index of each field in `header`, and the headers not used."""
    found = {}
    for i, cell in enumerate(header):
        key = _header_key(cell or "")
        for name, known in HEADERS.items():
            if key in known and name not in found:
                found[name] = i
    ignored = [h for i, h in enumerate(header) if _header_key(h or "") and i not in found.values()
               and _header_key(h) not in QUIET_COLUMNS]
    return found, ignored


def find_header(rows):
    """The index of the header row: the first of the top 15 with code, name and kind columns."""
    for i, row in enumerate(rows[:15]):
        if all(name in map_headers(row)[0] for name in REQUIRED):
            return i
    return None


def import_areas(session, filename, data, *, skip_bad_rows=False, dry_run=False, official=None):
    """Import an area list; an ImportReport (rows: line, status, code, reason). Commits only when it imports.

    With `official` (the console), every row must lie within their scope (gateway.auth)."""
    rows = read_table(filename, data)
    if not any(_filled(r) for r in rows):
        raise ImportFileError("Tệp rỗng: không có dòng nào.")
    header_at = find_header(rows)
    if header_at is None:
        raise ImportFileError(
            "Không tìm thấy dòng tiêu đề: cần các cột 'Mã', 'Tên', 'Loại' (nên có thêm 'Mã cấp trên', "
            "'Số tổng đài', 'Tên cũ'). Các cột đang có: " + ", ".join(c for c in rows[0] if c) + ".")
    columns, ignored = map_headers(rows[header_at])
    report = ImportReport(ignored_columns=ignored)
    seen = {}  # (commune id or None, code) → line: a code twice in one commune is a mistake in the file
    for index in range(header_at + 1, len(rows)):
        row, line = rows[index], index + 1
        if not _filled(row):
            continue
        cells = {name: (row[i] or "").strip() if i < len(row) else "" for name, i in columns.items()}
        try:
            status = _import_row(session, cells, seen, line, official)
        except ValueError as exc:  # AreaError, PhoneError: the row's reason
            report.rows.append(RowResult(line, "rejected", cells.get("code", ""), str(exc)))
            continue
        report.rows.append(RowResult(line, status, cells.get("code", "")))
    if (report.rejected and not skip_bad_rows) or dry_run:
        session.rollback()
        return report
    session.commit()
    report.committed = True
    return report


def _import_row(session, cells, seen, line, official=None):
    """Add or update the area a row describes; its status. Every check comes before any change,
    so a refused row leaves nothing behind."""
    level, _ = parse_kind(cells["kind"])
    parent = resolve(session, cells["parent"]) if cells.get("parent") else None
    if official is not None and (parent is None or not may_act_on(session, official, parent.id)):
        raise AreaError(OUT_OF_SCOPE)
    commune = parent.commune() if parent is not None and level in ("neighbourhood", "team") else None
    key = (commune.id if commune is not None else None, check_code(cells["code"]))
    if key in seen:
        where = f" trong {commune.name}" if commune is not None else ""
        raise AreaError(f"Mã {key[1]} trùng với dòng {seen[key]}{where}: mỗi mã chỉ dùng cho một nơi.")
    seen[key] = line
    aliases = [a.strip() for a in cells.get("aliases", "").split(";") if a.strip()]
    existing = _existing(session, cells["code"], level, parent)
    if official is not None and existing is not None and not may_act_on(session, official, existing.id):
        raise AreaError(OUT_OF_SCOPE)
    if existing is None:
        add_area(session, code=cells["code"], name=cells["name"], kind=cells["kind"], parent=parent,
                 hotline=cells.get("hotline") or None, aliases=aliases)
        return "imported"
    if existing.level != level:
        raise AreaError(f"Mã {existing.code} đã là {kind_label(existing)} {existing.name}: không đổi được cấp.")
    edit = {"name": cells["name"], "kind": cells["kind"], "hotline": cells.get("hotline")}
    check_edit(session, existing, **edit)
    moved = parent is not None and existing.parent_id != parent.id and move_area(session, existing, parent)
    changed = edit_area(session, existing, aliases=aliases, **edit)
    return "updated" if changed or moved else "unchanged"


OUT_OF_SCOPE = ("Khu vực cấp trên không thuộc phạm vi của bạn: chỉ thêm hoặc sửa được khu vực "
                "trong xã, phường (hoặc tỉnh) bạn quản lý.")


def _existing(session, code, level, parent):
    """The active area the row's code already names in its commune (or at the top), if any."""
    code = check_code(code)
    if level in ("neighbourhood", "team"):
        if parent is None:
            return None
        commune = parent.commune()
        ids = commune.descendant_ids(session) if commune is not None else [parent.id]
    else:
        ids = list(session.scalars(select(Area.id).where(Area.level.in_(("province", "commune")))))
    found = session.scalar(select(Area).where(Area.id.in_(ids), Area.code == code).limit(1))
    if found is not None and not found.active:
        raise AreaError(code_conflict(session, code, level, parent))
    return found


def export_rows(session, *, within=None):
    """Every active area (below `within` when given) in tree order, parents first, under EXPORT_HEADERS."""
    yield list(EXPORT_HEADERS)
    query = select(Area).where(Area.retired_at.is_(None)).order_by(Area.id)
    if within is not None:
        query = query.where(Area.id.in_(within.descendant_ids(session)))
    areas = list(session.scalars(query))
    ids = {a.id for a in areas}
    children = {}
    for a in areas:
        children.setdefault(a.parent_id if a.parent_id in ids else None, []).append(a)

    def walk(parent_id):
        for a in children.get(parent_id, []):
            yield a
            yield from walk(a.id)

    for a in walk(None):
        yield [a.code, a.name, kind_label(a), qualified_code(session, a.parent) if a.parent is not None else "",
               national(a.hotline_number) if a.hotline_number else "", "; ".join(al.name for al in a.aliases)]


def export_csv(session, *, within=None):
    """The area list as CSV bytes (UTF-8 with a BOM, for Excel), written like the household export."""
    from gateway.residents import rows_csv

    return rows_csv(export_rows(session, within=within))


def export_xlsx(session, *, within=None):
    """The area list as XLSX bytes."""
    from gateway.residents import rows_xlsx

    return rows_xlsx(export_rows(session, within=within), title="Khu vực")
