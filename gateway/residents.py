"""Household lists in and out: the CSV and XLSX files officials already keep.

Columns are found by their header, in Vietnamese or English ("Họ tên", "Số điện thoại",
"Khu phố", "Hộ nghèo"…). Each row is imported, updated or rejected with a reason; when any
row is bad nothing is imported unless bad rows are to be skipped.
"""
import csv
import datetime as dt
import io
import os
import re
import unicodedata
from dataclasses import dataclass, field
from zoneinfo import ZoneInfo

from sqlalchemy import select

from gateway import languages
from gateway.areas import match_area
from gateway.models import Area, Resident
from gateway.phone import PhoneError, household, national
from gateway.text import fold, nfc

# Field → headers it is known by, folded (no case, diacritics, punctuation or spaces).
HEADERS = {
    "name": ("hoten", "hovaten", "ten", "chuho", "hotenchuho", "tenchuho", "name", "fullname"),
    "phone": ("sodienthoai", "sdt", "dienthoai", "didong", "sodidong", "dt", "phone", "phonenumber", "mobile"),
    "area": ("khupho", "thon", "ban", "ap", "xom", "todanpho", "khuvuc", "diaban", "thonkhupho",
             "khuphothon", "area", "neighbourhood", "neighborhood"),
    "team": ("to", "toso", "totuquan", "team"),
    "elderly": ("nguoicaotuoi", "caotuoi", "nct", "elderly"),
    "poor": ("hongheo", "poor", "poorhousehold"),
    "no_smartphone": ("khongcodienthoaithongminh", "khongcosmartphone", "khongsmartphone",
                      "dienthoaithuong", "nosmartphone"),
    "birth_year": ("namsinh", "birthyear"),
    "channel": ("nhanqua", "kenh", "kenhnhan", "channel"),
    "household_code": ("maho", "sohokhau", "household", "householdcode"),
    "notes": ("ghichu", "notes"),
    "language": ("ngonngu", "tieng", "tiengnoi", "nghetieng", "language"),
}
# Headers that contain these are read as the field even with more words around them
# ("Số điện thoại di động", "Hộ nghèo (x)"); checked after exact matches.
CONTAINS = {
    "phone": ("sodienthoai", "dienthoai"),
    "name": ("hoten",),
    "poor": ("hongheo",),
    "elderly": ("caotuoi",),
    "no_smartphone": ("thongminh", "smartphone"),
}
# Columns our own export writes, or every list has, that import reads past without a warning.
QUIET_COLUMNS = {"stt", "tt", "datuchoinhantin", "nguondongy"}
YES = {"x", "co", "c", "1", "yes", "y", "true", "dung", "v", "✓", "✔", "ok"}
NO = {"", "khong", "k", "0", "no", "n", "false", "-"}
VIETNAM = ZoneInfo("Asia/Ho_Chi_Minh")
ELDERLY_AGE = 60  # Law on the Elderly 2009: người cao tuổi are 60 and over

EXPORT_HEADERS = ("Họ tên", "Số điện thoại", "Khu phố", "Tổ", "Người cao tuổi", "Hộ nghèo",
                  "Không có điện thoại thông minh", "Nhận qua", "Mã hộ", "Đã từ chối nhận tin", "Nguồn đồng ý",
                  "Ngôn ngữ")


class ImportFileError(ValueError):
    """The file as a whole cannot be read (empty, wrong headers, unknown format)."""


@dataclass
class RowResult:
    line: int
    status: str  # imported, updated, unchanged, rejected
    phone: str = ""
    reason: str = ""
    name: str = ""  # as the file has them, so a rejected row can be found and fixed
    written: str = ""


@dataclass
class ImportReport:
    rows: list = field(default_factory=list)
    ignored_columns: list = field(default_factory=list)
    committed: bool = False

    def count(self, status):
        return sum(1 for r in self.rows if r.status == status)

    @property
    def rejected(self):
        return [r for r in self.rows if r.status == "rejected"]

    def summary(self):
        """One line officials can read."""
        counts = ", ".join(f"{self.count(s)} {label}" for s, label in (
            ("imported", "mới"), ("updated", "cập nhật"), ("unchanged", "không đổi"), ("rejected", "lỗi")))
        if self.committed:
            return f"Đã nhập: {counts}."
        return (f"Không nhập gì: {self.count('rejected')} dòng lỗi ({counts}). "
                "Sửa các dòng trên rồi nhập lại, hoặc bỏ qua dòng lỗi (--skip-bad-rows).")


# Reading files ------------------------------------------------------------------------------

def decode_csv_bytes(data):
    """CSV bytes as text: UTF-8 (with or without BOM), UTF-16 (Excel "Unicode text"), or Windows-1258."""
    if data.startswith(b"\xef\xbb\xbf"):
        return data[3:].decode("utf-8")
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        return data.decode("utf-16")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        # Excel on Vietnamese Windows saves "CSV" in cp1258, which spells tones as combining marks.
        return unicodedata.normalize("NFC", data.decode("cp1258", errors="replace"))


def read_table(filename, data):
    """The cells of a CSV or XLSX file as a list of rows of strings."""
    if not data or not data.strip():
        raise ImportFileError("Tệp rỗng: không có dòng nào.")
    ext = os.path.splitext(filename.lower())[1]
    if ext in (".xlsx", ".xlsm") or data[:4] == b"PK\x03\x04":
        return _read_xlsx(data)
    if ext == ".xls" or data[:8] == b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1":
        raise ImportFileError("Tệp .xls (Excel 97-2003) chưa đọc được: hãy lưu lại dưới dạng .xlsx hoặc CSV UTF-8.")
    text = decode_csv_bytes(data)
    sample = text[:4096]
    try:
        dialect = csv.Sniffer().sniff(sample, delimiters=",;\t")
    except csv.Error:
        dialect = csv.excel
    return [[unsafe_cell(nfc(c)) for c in row] for row in csv.reader(io.StringIO(text), dialect)]


def _read_xlsx(data):
    from openpyxl import load_workbook

    try:
        wb = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except Exception as exc:  # openpyxl raises many kinds for a damaged file
        raise ImportFileError(f"Không đọc được tệp Excel: {exc.__class__.__name__}.") from None
    sheet = wb.worksheets[0]
    rows = []
    for row in sheet.iter_rows(values_only=True):
        rows.append([_cell_text(v) for v in row])
    wb.close()
    return rows


def _cell_text(value):
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, (dt.date, dt.datetime)):
        return value.isoformat()
    return unsafe_cell(nfc(str(value)).strip())


def _header_key(text):
    return fold(text).replace(" ", "")


def map_headers(header):
    """Column index for each field found in `header`, and the headers that were not used."""
    keys = [_header_key(h) for h in header]
    found = {}
    for i, key in enumerate(keys):
        for name, aliases in HEADERS.items():
            if key in aliases and name not in found:
                found[name] = i
    for i, key in enumerate(keys):
        if i in found.values() or not key or "canngheo" in key:  # "hộ cận nghèo" is not "hộ nghèo"
            continue
        for name, parts in CONTAINS.items():
            if name not in found and any(p in key for p in parts):
                found[name] = i
                break
    ignored = [header[i] for i, k in enumerate(keys)
               if k and i not in found.values() and k not in QUIET_COLUMNS]
    return found, ignored


def find_header(rows):
    """The index of the header row: the first of the top 15 that has a phone column
    (lists often start with a title such as "DANH SÁCH HỘ GIA ĐÌNH…")."""
    for i, row in enumerate(rows[:15]):
        if "phone" in map_headers(row)[0]:
            return i
    return None


# Parsing values -----------------------------------------------------------------------------

def parse_flag(value, column):
    """'x', 'có', '1' → True; '', 'không', '0' → False; anything else is an error."""
    key = fold(value)
    if key in YES:
        return True
    if key in NO:
        return False
    raise ValueError(f"Cột '{column}': '{value}' không rõ là có hay không (dùng x, có hoặc để trống).")


def parse_channel(value):
    """'SMS', 'gọi', 'cả hai' → (sms, voice)."""
    key = fold(value)
    if key in ("", "sms", "tin nhan", "nhan tin", "tin"):
        return True, False
    if key in ("goi", "goi dien", "cuoc goi", "thoai", "dien thoai", "voice", "call"):
        return False, True
    if key in ("ca hai", "ca 2", "both", "sms va goi", "sms goi", "tin nhan va goi"):
        return True, True
    raise ValueError(f"Cột 'Nhận qua': '{value}' không rõ (dùng SMS, Gọi hoặc Cả hai).")


@dataclass
class ParsedRow:
    phone: str
    values: dict


def parse_row(session, row, columns, header, default_area, today, within=None):
    """A data row → ParsedRow; ValueError with the reason when it cannot be used."""
    def cell(name):
        i = columns.get(name)
        return row[i].strip() if i is not None and i < len(row) and row[i] is not None else None

    phone = household(cell("phone") or "")
    values = {}
    if cell("name") is not None:
        values["name"] = re.sub(r"\s+", " ", cell("name"))
    area, old_name = default_area, None
    if cell("area"):
        match = match_area(session, cell("area"), within=within, levels=("neighbourhood",))
        if match.area is None:
            raise ValueError(_unknown_area(cell("area"), match.candidates))
        area, old_name = match.area, match.alias
    if cell("team"):
        if area is None:
            raise ValueError(f"Có tổ '{cell('team')}' nhưng chưa có khu phố/thôn.")
        # An old village's list: its "Tổ 1" is the team that came with it in the merge.
        match = old_name and match_area(session, f"{old_name} {cell('team')}", within=area, levels=("team",))
        if not match or match.area is None:
            match = match_area(session, cell("team"), within=area, levels=("team",))
        if match.area is None:
            raise ValueError(_unknown_area(cell("team"), match.candidates, within=area))
        area = match.area
    if area is None:
        raise ValueError("Thiếu khu phố/thôn (cột 'Khu phố' trống).")
    values["area_id"] = area.id
    for flag in ("elderly", "poor", "no_smartphone"):
        if cell(flag) is not None:
            values[_FLAG_COLUMNS[flag]] = parse_flag(cell(flag), header[columns[flag]])
    if cell("birth_year"):
        year = cell("birth_year")
        if not re.fullmatch(r"(19|20)\d\d", year):
            raise ValueError(f"Năm sinh '{year}' không hợp lệ (ví dụ 1948).")
        if today.year - int(year) >= ELDERLY_AGE:
            values["is_elderly"] = True
    if cell("channel"):
        values["prefers_sms"], values["prefers_voice"] = parse_channel(cell("channel"))
    for name in ("household_code", "notes"):
        if cell(name):
            values[name] = cell(name)
    if cell("language") is not None:
        # The languages of the household's commune (gateway.languages); empty is Vietnamese.
        values["language"] = languages.parse(cell("language"), languages.of_area(area))
    return ParsedRow(phone=phone, values=values)


_FLAG_COLUMNS = {"elderly": "is_elderly", "poor": "is_poor", "no_smartphone": "no_smartphone"}


def _unknown_area(text, candidates, within=None):
    place = f" trong {within.name}" if within is not None else ""
    msg = f"Không tìm thấy '{text}'{place}."
    if candidates:
        msg += " Có phải: " + ", ".join(a.name for a in candidates) + "?"
    return msg


# Importing ----------------------------------------------------------------------------------

def import_residents(session, filename, data, *, skip_bad_rows=False, default_area=None,
                     consent_source=None, dry_run=False, today=None, within=None):
    """Import a household list; return an ImportReport. Commits only when it imports.

    `within`: the commune (or province) whose areas the rows may name."""
    rows = read_table(filename, data)
    if not any(_filled(r) for r in rows):
        raise ImportFileError("Tệp rỗng: không có dòng nào.")
    header_at = find_header(rows)
    if header_at is None:
        raise ImportFileError(
            "Không tìm thấy cột số điện thoại. Dòng tiêu đề cần có cột 'Số điện thoại' (hoặc 'SĐT'); "
            "nên có thêm 'Họ tên', 'Khu phố', 'Người cao tuổi', 'Hộ nghèo'. "
            "Các cột đang có: " + ", ".join(c for c in rows[0] if c) + "."
        )
    header = rows[header_at]
    columns, ignored = map_headers(header)
    if "area" not in columns and default_area is None:
        raise ImportFileError("Không có cột 'Khu phố' (hoặc 'Thôn'): thêm cột đó, hoặc chọn một khu phố cho cả tệp (--area).")
    report = ImportReport(ignored_columns=ignored)
    today = today or dt.date.today()
    source = consent_source or f"import:{os.path.basename(filename)}"
    seen = {}
    for index in range(header_at + 1, len(rows)):
        row, line = rows[index], index + 1  # the line number the spreadsheet shows
        if not _filled(row):
            continue
        written = {k: _raw(row, columns, k) for k in ("name", "phone")}
        try:
            parsed = parse_row(session, row, columns, header, default_area, today, within)
        except (PhoneError, ValueError) as exc:
            report.rows.append(RowResult(line, "rejected", reason=str(exc), name=written["name"],
                                         written=written["phone"]))
            continue
        if parsed.phone in seen:
            report.rows.append(RowResult(line, "rejected", national(parsed.phone),
                                         f"Trùng số điện thoại với dòng {seen[parsed.phone]}.", written["name"],
                                         written["phone"]))
            continue
        seen[parsed.phone] = line
        status = _apply(session, parsed, source)
        report.rows.append(RowResult(line, status, national(parsed.phone), name=written["name"],
                                     written=written["phone"]))
    if (report.rejected and not skip_bad_rows) or dry_run:
        session.rollback()
        return report
    session.commit()
    report.committed = True
    return report


def _raw(row, columns, name):
    """A cell as the file has it ("" when the column is missing)."""
    i = columns.get(name)
    return str(row[i] or "").strip() if i is not None and i < len(row) else ""


def _filled(row):
    return any((c or "").strip() for c in row)


def _apply(session, parsed, source):
    resident = session.scalar(select(Resident).where(Resident.phone == parsed.phone))
    if resident is None:
        values = dict(parsed.values)
        # Without a "Nhận qua" column: the elderly and basic-phone households get calls too.
        values.setdefault("prefers_voice", bool(values.get("is_elderly") or values.get("no_smartphone")))
        session.add(Resident(phone=parsed.phone, consent_source=source, **values))
        session.flush()
        return "imported"
    changed = False
    for key, value in parsed.values.items():
        if getattr(resident, key) != value:
            setattr(resident, key, value)
            changed = True
    return "updated" if changed else "unchanged"


# Exporting ----------------------------------------------------------------------------------

def export_rows(session, area_ids=None):
    """Every resident (of `area_ids`, when given) as a row under EXPORT_HEADERS (the headers import reads back)."""
    yield list(EXPORT_HEADERS)
    query = select(Resident).order_by(Resident.area_id, Resident.name, Resident.id)
    if area_ids is not None:
        query = query.where(Resident.area_id.in_(sorted(area_ids)))
    residents = session.scalars(query.execution_options(yield_per=2000))
    areas = {a.id: a for a in session.scalars(select(Area))}
    for r in residents:
        area = areas.get(r.area_id)
        team = area if area is not None and area.level == "team" else None
        neighbourhood = areas.get(team.parent_id) if team else area
        channel = "Cả hai" if r.prefers_sms and r.prefers_voice else "Gọi" if r.prefers_voice else "SMS"
        yield [
            r.name, national(r.phone), neighbourhood.name if neighbourhood else "", team.name if team else "",
            "x" if r.is_elderly else "", "x" if r.is_poor else "", "x" if r.no_smartphone else "",
            channel, r.household_code or "",
            r.opted_out_at.astimezone(VIETNAM).strftime("%d/%m/%Y") if r.opted_out_at else "",
            r.consent_source, languages.name_of(r.language, languages.of_area(area)),
        ]


def export_csv(session, area_ids=None):
    """Residents as CSV bytes in UTF-8 with a BOM, so Excel shows Vietnamese correctly."""
    return rows_csv(export_rows(session, area_ids))


def export_xlsx(session, area_ids=None):
    """Residents as XLSX bytes."""
    return rows_xlsx(export_rows(session, area_ids), title="Hộ dân")


# The writers every export shares: cells that a spreadsheet would run as a formula are not. --

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def safe_cell(value):
    """A cell as text a spreadsheet shows and never runs: a leading = + - @ tab or CR gets a `'` (OWASP)."""
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(FORMULA_STARTS) else text


def unsafe_cell(text):
    """The value `safe_cell` neutralized, as read back from our own export."""
    return text[1:] if text.startswith("'") and text[1:].startswith(FORMULA_STARTS) else text


def rows_csv(rows):
    """Rows of cells as CSV bytes in UTF-8 with a BOM (every export writes CSV this way), each through `safe_cell`."""
    buf = io.StringIO()
    csv.writer(buf).writerows([safe_cell(v) for v in row] for row in rows)
    return b"\xef\xbb\xbf" + buf.getvalue().encode("utf-8")


def rows_xlsx(rows, *, title):
    """Rows of cells as XLSX bytes, one sheet named `title` (every export writes XLSX this way): every
    cell a string through `safe_cell`, never a formula."""
    from openpyxl import Workbook

    wb = Workbook()
    ws = wb.active
    ws.title = title[:31]
    for r, row in enumerate(rows, start=1):
        for c, value in enumerate(row, start=1):
            cell = ws.cell(row=r, column=c, value=safe_cell(value))
            cell.data_type = "s"  # openpyxl would otherwise store a text starting with "=" as a formula
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()
