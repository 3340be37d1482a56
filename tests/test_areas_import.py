"""Area lists in and out: CSV and XLSX with Vietnamese or English headers, every row checked and
reported, nothing saved while a row is bad (unless skipped), and an export that imports back."""
import io

import pytest
from openpyxl import Workbook, load_workbook
from sqlalchemy import func, select

from gateway.areas.tables import export_csv, export_xlsx, import_areas
from gateway.db import get_db
from gateway.models import Area
from gateway.residents import ImportFileError, read_table

GOOD = [
    ["Mã", "Tên", "Loại", "Mã cấp trên", "Số tổng đài", "Tên cũ"],
    ["QT", "Tỉnh Quảng Trị", "tỉnh", "", "", ""],
    ["VINHLINH", "Xã Vĩnh Linh", "xã", "QT", "0233 3822 123", ""],
    ["DONGHA", "Phường Đông Hà", "phường", "QT", "", ""],
    ["CONCO", "Đặc khu Cồn Cỏ", "đặc khu", "QT", "", ""],
    ["TANLOI", "Thôn Tân Lợi", "thôn", "VINHLINH", "", "Thôn Tân Lợi Đông; TLD"],
    ["BANCHE", "Bản Chè", "bản", "VINHLINH", "", ""],
    ["KP5", "Khu phố 5", "khu phố", "DONGHA", "", "Khu phố 6; KP6"],
    ["TDP1", "Tổ dân phố 1", "tổ dân phố", "DONGHA", "", ""],
    ["KP5T1", "Tổ 1", "tổ", "KP5", "", ""],
    ["TANLOIT1", "Tổ 1", "team", "TANLOI", "", ""],
]


def csv_bytes(rows, sep=","):
    return ("\n".join(sep.join(r) for r in rows) + "\n").encode("utf-8")


def xlsx_bytes(rows):
    wb = Workbook()
    for row in rows:
        wb.active.append(row)
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


def count(db):
    return db.scalar(select(func.count()).select_from(Area))


@pytest.mark.parametrize("fmt", ["csv", "xlsx"])
def test_a_good_list_imports_every_row(any_app, fmt):
    data = csv_bytes(GOOD) if fmt == "csv" else xlsx_bytes(GOOD)
    with any_app.app_context():
        db = get_db()
        report = import_areas(db, f"khu-vuc.{fmt}", data)
        assert report.committed and [r.status for r in report.rows] == ["imported"] * 10
        assert [r.line for r in report.rows] == list(range(2, 12))
        by_code = {a.code: a for a in db.scalars(select(Area))}
        assert (by_code["QT"].level, by_code["QT"].kind) == ("province", "tinh")
        assert by_code["CONCO"].kind == "dac_khu" and by_code["CONCO"].parent.code == "QT"
        assert by_code["VINHLINH"].hotline_number == "+842333822123"
        assert (by_code["TANLOI"].level, by_code["BANCHE"].kind, by_code["TDP1"].kind) == \
            ("neighbourhood", "ban", "to_dan_pho")
        assert by_code["KP5T1"].parent.code == "KP5" and by_code["TANLOIT1"].commune().code == "VINHLINH"
        assert [(a.name, a.kind) for a in by_code["TANLOI"].aliases] == [("Thôn Tân Lợi Đông", "name"),
                                                                          ("TLD", "code")]
        assert by_code["KP5"].province().code == "QT"


def test_english_headers_and_semicolons_work_too(app):
    rows = [["code", "name", "kind", "parent code", "hotline number", "aliases"],
            ["TANHOA", "Xã Tân Hòa", "commune", "", "", ""], ["KP1", "Khu phố 1", "village", "TANHOA", "", ""]]
    with app.app_context():
        report = import_areas(get_db(), "areas.csv", csv_bytes(rows, sep=";"))
        assert report.committed and report.count("imported") == 2


BAD = GOOD[:3] + [
    ["", "Thôn Không Mã", "thôn", "VINHLINH", "", ""],
    ["CHO", "Chợ Vĩnh Linh", "chợ", "VINHLINH", "", ""],
    ["KP9", "Khu phố 9", "khu phố", "NOWHERE", "", ""],
    ["KP9", "Khu phố 9", "khu phố", "", "", ""],
    ["X1", "Xã X", "xã", "", "12 34", ""],
    ["T1", "Tổ 1", "tổ", "VINHLINH", "", ""],
    ["TANLOI", "Thôn Tân Lợi", "thôn", "VINHLINH", "", ""],
    ["TANLOIT1", "Tổ 1", "tổ", "TANLOI", "", ""],
    ["TANLOI2", "Thôn Tân Lợi 2", "thôn", "VINHLINH", "", ""],
    ["TANLOIT1", "Tổ 1", "tổ", "TANLOI2", "", ""],
]


def test_bad_rows_are_reported_and_nothing_is_saved(any_app):
    with any_app.app_context():
        db = get_db()
        report = import_areas(db, "khu-vuc.csv", csv_bytes(BAD))
        assert not report.committed and count(db) == 0
        reasons = {r.line: r.reason for r in report.rejected}
        assert "Thiếu mã" in reasons[4]
        assert "Loại 'chợ' không rõ" in reasons[5]
        assert "Không có khu vực mã 'NOWHERE'" in reasons[6]
        assert "phải nằm trong một xã/phường" in reasons[7]
        assert "Số tổng đài" in reasons[8]
        assert "cấp trên của một tổ phải là thôn/khu phố" in reasons[9]
        # A team code is unique in the whole commune, whatever village it is in.
        assert "Mã TANLOIT1 trùng với dòng 11 trong Xã Vĩnh Linh" in reasons[13]
        assert sorted(reasons) == [4, 5, 6, 7, 8, 9, 13]
        assert "Không nhập gì: 7 dòng lỗi" in report.summary()


def test_skip_bad_rows_imports_the_good_ones(app, tmp_path):
    with app.app_context():
        path = str(tmp_path / "bad.csv")
        with open(path, "wb") as f:
            f.write(csv_bytes(BAD))
        result = app.test_cli_runner().invoke(args=["areas", "import", path])
        assert result.exit_code == 1 and "dòng 13: LỖI TANLOIT1 Mã TANLOIT1 trùng với dòng 11" in result.output
        assert count(get_db()) == 0
        dry = app.test_cli_runner().invoke(args=["areas", "import", path, "--skip-bad-rows", "--dry-run"])
        assert "(chạy thử: không lưu gì)" in dry.output and count(get_db()) == 0
        result = app.test_cli_runner().invoke(args=["areas", "import", path, "--skip-bad-rows"])
        assert result.exit_code == 0, result.output
        assert "Đã nhập: 5 mới, 0 cập nhật, 0 không đổi, 7 lỗi." in result.output
        db = get_db()
        db.expire_all()
        assert sorted(db.scalars(select(Area.code))) == ["QT", "TANLOI", "TANLOI2", "TANLOIT1", "VINHLINH"]


def test_reimport_updates_and_reports_unchanged_rows(app):
    with app.app_context():
        db = get_db()
        assert import_areas(db, "a.csv", csv_bytes(GOOD)).committed
        changed = [row[:] for row in GOOD]
        changed[5][1] = "Thôn Tân Lợi Mới"  # renamed: the old name stays as an alias
        changed[9][3] = "DONGHA"           # a team straight under a ward: refused
        report = import_areas(db, "a.csv", csv_bytes(changed))
        assert not report.committed
        assert [r.line for r in report.rejected] == [10]
        changed[9][3] = "TDP1"             # the team moves to another village of the same ward
        report = import_areas(db, "a.csv", csv_bytes(changed))
        assert report.committed, [(r.line, r.reason) for r in report.rejected]
        assert {r.line: r.status for r in report.rows if r.status != "unchanged"} == {6: "updated", 10: "updated"}
        tanloi = db.scalar(select(Area).where(Area.code == "TANLOI"))
        assert tanloi.name == "Thôn Tân Lợi Mới"
        assert [a.name for a in tanloi.aliases] == ["Thôn Tân Lợi Đông", "TLD", "Thôn Tân Lợi"]
        assert db.scalar(select(Area).where(Area.code == "KP5T1")).parent.code == "TDP1"
        assert count(db) == 10


@pytest.mark.parametrize("fmt", ["csv", "xlsx"])
def test_export_imports_back_unchanged(any_app, fmt):
    with any_app.app_context():
        db = get_db()
        assert import_areas(db, "a.csv", csv_bytes(GOOD)).committed
        # Two communes with the same village code: the export names the parent with its commune.
        assert import_areas(db, "b.csv", csv_bytes([GOOD[0], ["KP5", "Khu phố 5", "khu phố", "VINHLINH", "", ""],
                                                    ["KP5T2", "Tổ 2", "tổ", "VINHLINH/KP5", "", ""]])).committed
        data = (export_csv if fmt == "csv" else export_xlsx)(db)
        rows = read_table(f"x.{fmt}", data)
        assert rows[0] == ["Mã", "Tên", "Loại", "Mã cấp trên", "Số tổng đài", "Tên cũ"]
        assert ["KP5T2", "Tổ 2", "Tổ", "VINHLINH/KP5", "", ""] in rows
        assert ["VINHLINH", "Xã Vĩnh Linh", "Xã", "QT", "0233 3822 123", ""] in rows
        before = sorted((a.code, a.name, a.kind, a.parent_id, a.hotline_number) for a in db.scalars(select(Area)))
        report = import_areas(db, f"x.{fmt}", data)
        assert report.committed and {r.status for r in report.rows} == {"unchanged"}
        assert len(report.rows) == len(before)
        after = sorted((a.code, a.name, a.kind, a.parent_id, a.hotline_number) for a in db.scalars(select(Area)))
        assert after == before


def test_export_into_an_empty_install_rebuilds_the_tree(app, make_app, tmp_path, sqlite_template, redis_url):
    import shutil

    with app.app_context():
        db = get_db()
        assert import_areas(db, "a.csv", csv_bytes(GOOD)).committed
        data = export_xlsx(db)
        tree = sorted((a.code, a.name, a.kind, a.parent.code if a.parent else None, a.hotline_number,
                       tuple(x.name for x in a.aliases)) for a in db.scalars(select(Area)))
    path = tmp_path / "other.sqlite"
    shutil.copy(sqlite_template, path)
    other = make_app(DATABASE_URL=f"sqlite:///{path}", REDIS_URL=redis_url)
    with other.app_context():
        db = get_db()
        assert import_areas(db, "x.xlsx", data).committed
        assert sorted((a.code, a.name, a.kind, a.parent.code if a.parent else None, a.hotline_number,
                       tuple(x.name for x in a.aliases)) for a in db.scalars(select(Area))) == tree


def test_export_leaves_out_merged_areas_whose_names_live_on_as_aliases(app, demo):
    assert app.test_cli_runner().invoke(args=["areas", "merge", "KP5", "KP6"]).exit_code == 0
    with app.app_context():
        rows = read_table("x.xlsx", export_xlsx(get_db()))
        codes = [r[0] for r in rows[1:]]
        assert "KP6" not in codes and "KP6T1" in codes
        kp5 = next(r for r in rows if r[0] == "KP5")
        assert kp5[5] == "Khu phố 6"
        wb = load_workbook(io.BytesIO(export_xlsx(get_db())))
        assert wb.active.title == "Khu vực"


@pytest.mark.parametrize("data, message", [
    (b"", "Tệp rỗng"),
    (b"Ho ten,So dien thoai\nA,0912345678\n", "Không tìm thấy dòng tiêu đề"),
])
def test_unreadable_files_say_why(app, data, message):
    with app.app_context(), pytest.raises(ImportFileError, match=message):
        import_areas(get_db(), "x.csv", data)
