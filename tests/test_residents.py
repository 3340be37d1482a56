"""Importing the household lists officials keep, and exporting them again."""
import io

import pytest
from openpyxl import Workbook, load_workbook
from sqlalchemy import func, select

from gateway.models import Area, Resident
from gateway.residents import ImportFileError, export_csv, export_xlsx, import_residents

HEADER = "STT,Họ tên,Số điện thoại,Khu phố,Người cao tuổi,Hộ nghèo,Không có điện thoại thông minh\n"
GOOD = HEADER + (
    "1,Nguyễn Văn An,0912 345 678,Khu phố 1,x,,x\n"
    "2,Trần Thị Bình,0168.123.4567,KP2,,x,\n"
    "3,Lê Văn Cường,+84 98 765 4321,Thôn Tân Lợi,có,không,có\n"
)


def residents(db):
    return {r.phone: r for r in db.scalars(select(Resident).where(Resident.consent_source != "demo"))}


def area_named(db, name):
    return db.scalar(select(Area).where(Area.name == name))


def test_good_csv_is_imported_with_flags_and_areas(db, demo):
    report = import_residents(db, "ho-dan.csv", GOOD.encode("utf-8"))
    assert report.committed
    assert [(r.line, r.status) for r in report.rows] == [(2, "imported"), (3, "imported"), (4, "imported")]
    got = residents(db)
    an = got["+84912345678"]
    assert (an.name, an.area.name, an.is_elderly, an.is_poor, an.no_smartphone) == (
        "Nguyễn Văn An", "Khu phố 1", True, False, True)
    assert an.prefers_voice and an.prefers_sms  # elderly without a smartphone get calls too
    assert an.consent_source == "import:ho-dan.csv"
    binh = got["+84381234567"]  # the old 11-digit Viettel number, converted
    assert (binh.area.name, binh.is_poor, binh.is_elderly, binh.prefers_voice) == ("Khu phố 2", True, False, False)
    assert got["+84987654321"].area.name == "Thôn Tân Lợi"


def cp1258_bytes(text):
    """What Excel on Vietnamese Windows writes: tones as combining marks in Windows-1258."""
    import unicodedata

    tones = {"\u0300", "\u0301", "\u0303", "\u0309", "\u0323"}
    out = []
    for ch in text:
        parts = unicodedata.normalize("NFD", ch)
        base = unicodedata.normalize("NFC", "".join(c for c in parts if c not in tones))
        out.append(base + "".join(c for c in parts if c in tones))
    return "".join(out).encode("cp1258")


@pytest.mark.parametrize("label, data", [
    ("utf-8 with BOM", GOOD.encode("utf-8-sig")),
    ("windows-1258", cp1258_bytes(GOOD)),
    ("utf-16 tab separated", GOOD.replace(",", "\t").encode("utf-16")),
    ("semicolons", GOOD.replace(",", ";").encode("utf-8")),
    ("crlf", GOOD.replace("\n", "\r\n").encode("utf-8")),
])
def test_csv_as_excel_saves_it(db, demo, label, data):
    report = import_residents(db, "ho-dan.csv", data)
    assert report.committed, [r.reason for r in report.rows]
    got = residents(db)
    assert got["+84912345678"].name == "Nguyễn Văn An"  # NFC, whatever the file used
    assert got["+84987654321"].name == "Lê Văn Cường"
    assert got["+84987654321"].area.name == "Thôn Tân Lợi"


def xlsx_bytes(rows, title=None):
    wb = Workbook()
    ws = wb.active
    if title:
        ws.append([title])
        ws.append([])
    for row in rows:
        ws.append(row)
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


def test_xlsx_with_a_title_row_and_numeric_phone_cells(db, demo):
    data = xlsx_bytes([
        ["STT", "Họ và tên chủ hộ", "SĐT", "Thôn", "Năm sinh", "Hộ nghèo", "Nhận qua"],
        [1, "Phạm Thị Dung", 912345678, "Thôn Phú Hòa", 1950, "x", "Gọi"],
        [2, "Đỗ Văn Em", "0987 654 321", "phu hoa", 1990, None, "Cả hai"],
    ], title="DANH SÁCH HỘ GIA ĐÌNH THÔN PHÚ HÒA")
    report = import_residents(db, "danh-sach.xlsx", data)
    assert report.committed, [r.reason for r in report.rows]
    assert [r.line for r in report.rows] == [4, 5]  # the lines Excel shows
    got = residents(db)
    dung = got["+84912345678"]
    assert (dung.area.name, dung.is_elderly, dung.is_poor, dung.prefers_sms, dung.prefers_voice) == (
        "Thôn Phú Hòa", True, True, False, True)
    em = got["+84987654321"]
    assert (em.is_elderly, em.prefers_sms, em.prefers_voice) == (False, True, True)


def test_team_column_places_residents_in_a_team(db, demo):
    data = "Họ tên,Điện thoại,Khu phố,Tổ\nA,0912345678,KP3,Tổ 2\nB,0987654321,KP3,Tổ 9\n".encode()
    report = import_residents(db, "t.csv", data)
    assert not report.committed
    assert report.rows[0].status == "imported"
    assert report.rows[1].status == "rejected" and "Tổ 9" in report.rows[1].reason and "Khu phố 3" in report.rows[1].reason


BAD_ROWS = [
    ("0912 345", "thiếu chữ số"),
    ("abc", "không phải chữ số"),
    ("", "Chưa có số"),
]


def test_bad_rows_block_the_whole_import_with_reasons(db, demo):
    data = HEADER + "".join(f"{i},Người {i},{phone},KP1,,,\n" for i, (phone, _) in enumerate(BAD_ROWS)) \
        + "9,Người tốt,0912345678,KP1,,,\n9,Trùng số,0912.345.678,KP2,,,\n9,Sai khu,0987654321,Khu phố 99,,,\n" \
        + "9,Sai cờ,0977654321,KP1,hình như,,\n"
    report = import_residents(db, "bad.csv", data.encode())
    assert not report.committed
    assert residents(db) == {}  # nothing imported
    by_line = {r.line: r for r in report.rows}
    for line, (_, words) in enumerate(BAD_ROWS, start=2):
        assert by_line[line].status == "rejected" and words in by_line[line].reason
    assert by_line[5].status == "imported"
    assert by_line[6].status == "rejected" and "Trùng số điện thoại với dòng 5" in by_line[6].reason
    assert by_line[7].status == "rejected" and "Khu phố 99" in by_line[7].reason
    assert by_line[8].status == "rejected" and "hình như" in by_line[8].reason
    assert "Không nhập gì" in report.summary()


def test_skip_bad_rows_imports_the_good_ones(db, demo):
    data = HEADER + "1,Tốt,0912345678,KP1,,,\n2,Xấu,0912,KP1,,,\n"
    report = import_residents(db, "mixed.csv", data.encode(), skip_bad_rows=True)
    assert report.committed
    assert list(residents(db)) == ["+84912345678"]
    assert report.count("rejected") == 1 and "Đã nhập: 1 mới" in report.summary()


def test_unknown_area_suggests_close_names(db, demo):
    report = import_residents(db, "a.csv", (HEADER + "1,A,0912345678,Thôn Tân Lơi xx,,,\n").encode())
    reason = report.rows[0].reason
    assert report.rows[0].status == "rejected"
    assert "Thôn Tân Lợi" in reason


def test_existing_residents_are_updated_not_duplicated(db, demo):
    import_residents(db, "first.csv", GOOD.encode())
    changed = GOOD.replace("Trần Thị Bình,0168.123.4567,KP2,,x,", "Trần Thị Bình,0381234567,KP3,x,x,")
    report = import_residents(db, "second.csv", changed.encode())
    assert [r.status for r in report.rows] == ["unchanged", "updated", "unchanged"]
    binh = residents(db)["+84381234567"]
    assert (binh.area.name, binh.is_elderly) == ("Khu phố 3", True)
    assert binh.consent_source == "import:first.csv"  # consent keeps its first source
    assert db.scalar(select(func.count()).select_from(Resident).where(Resident.phone == "+84381234567")) == 1


@pytest.mark.parametrize("name, data, words", [
    ("empty.csv", b"", "Tệp rỗng"),
    ("blank.csv", b"\n\n  \n", "Tệp rỗng"),
    ("bom-only.csv", b"\xef\xbb\xbf", "Tệp rỗng"),
    ("wrong.csv", "Tên,Địa chỉ,Ghi chú\nA,B,C\n".encode(), "Không tìm thấy cột số điện thoại"),
    ("no-area.csv", "Họ tên,SĐT\nA,0912345678\n".encode(), "Không có cột 'Khu phố'"),
    ("old.xls", b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\0" * 100, ".xlsx"),
    ("broken.xlsx", b"PK\x03\x04garbage", "Không đọc được tệp Excel"),
])
def test_unreadable_files_are_refused_with_a_reason(db, demo, name, data, words):
    with pytest.raises(ImportFileError, match=words):
        import_residents(db, name, data)
    assert residents(db) == {}


def test_wrong_headers_list_the_columns_found(db, demo):
    with pytest.raises(ImportFileError) as err:
        import_residents(db, "wrong.csv", "Tên,Địa chỉ\nA,B\n".encode())
    assert "Tên, Địa chỉ" in str(err.value)


def test_default_area_for_files_without_an_area_column(db, demo):
    kp4 = area_named(db, "Khu phố 4")
    report = import_residents(db, "kp4.csv", "Họ tên,SĐT\nA,0912345678\n".encode(), default_area=kp4)
    assert report.committed and residents(db)["+84912345678"].area_id == kp4.id


def test_dry_run_checks_everything_and_imports_nothing(db, demo):
    report = import_residents(db, "ok.csv", GOOD.encode(), dry_run=True)
    assert [r.status for r in report.rows] == ["imported"] * 3 and not report.committed
    assert residents(db) == {}


@pytest.mark.parametrize("fmt", ["csv", "xlsx"])
def test_export_reads_back_unchanged(db, demo, fmt):
    import_residents(db, "ho-dan.csv", GOOD.encode())
    data = export_csv(db) if fmt == "csv" else export_xlsx(db)
    if fmt == "csv":
        assert data.startswith(b"\xef\xbb\xbf")  # Excel needs the BOM to read UTF-8
    else:
        sheet = load_workbook(io.BytesIO(data)).active
        assert sheet["A1"].value == "Họ tên"
    total = db.scalar(select(func.count()).select_from(Resident))
    report = import_residents(db, f"export.{fmt}", data)
    assert report.committed, [r.reason for r in report.rows if r.reason][:3]
    assert report.count("unchanged") == total and report.ignored_columns == []


def test_cli_import_reports_rows_and_exits_nonzero_when_nothing_imported(app, demo, tmp_path):
    good, bad = tmp_path / "good.csv", tmp_path / "bad.csv"
    good.write_text(GOOD, encoding="utf-8")
    bad.write_text(HEADER + "1,A,0912,KP1,,,\n", encoding="utf-8")
    runner = app.test_cli_runner()
    ok = runner.invoke(args=["residents", "import", str(good)])
    assert ok.exit_code == 0, ok.output
    assert "dòng 2: mới 0912 345 678" in ok.output and "Đã nhập: 3 mới" in ok.output
    failed = runner.invoke(args=["residents", "import", str(bad)])
    assert failed.exit_code == 1
    assert "dòng 2: LỖI" in failed.output and "Không nhập gì" in failed.output
    out = tmp_path / "out.xlsx"
    exported = runner.invoke(args=["residents", "export", str(out)])
    assert exported.exit_code == 0 and out.exists()


def test_household_phones_must_be_vietnamese_and_not_service_numbers(db, demo):
    data = HEADER + ("1,Khách nước ngoài,+1 415 867 5309,KP1,,,\n2,Tổng đài,1900 1234,KP1,,,\n"
                     "3,Ghi kèm chữ,SĐT: 0912 345 678,KP1,,,\n")
    report = import_residents(db, "ho-dan.csv", data.encode(), skip_bad_rows=True)
    by_line = {r.line: r for r in report.rows}
    assert by_line[2].status == "rejected" and "số nước ngoài (mã +1)" in by_line[2].reason
    assert by_line[3].status == "rejected" and "tổng đài" in by_line[3].reason
    assert by_line[4].status == "imported"
    assert list(residents(db)) == ["+84912345678"]
