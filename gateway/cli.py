"""Command line: `python -m gateway <command>` (or `flask --app gateway <command>`)."""
import sys

import click
from flask.cli import AppGroup, with_appcontext
from sqlalchemy import select
from werkzeug.security import generate_password_hash

from gateway.db import get_db
from gateway.models import OFFICIAL_ROLES, REPORT_STATUSES, Area, Official


def echo_lines(lines):
    """Echo each line, or "none" when there are none (an empty list must not look like nothing happened)."""
    shown = 0
    for line in lines:
        click.echo(line)
        shown += 1
    if not shown:
        click.echo("none")


def echo_import_report(report, *, dry_run):
    """Print an ImportReport (households or areas) row by row; exit 1 when nothing was saved."""
    labels = {"imported": "mới", "updated": "cập nhật", "unchanged": "không đổi", "rejected": "LỖI"}
    for row in report.rows:
        click.echo(f"dòng {row.line}: {labels[row.status]} {row.phone} {row.reason}".rstrip())
    if report.ignored_columns:
        click.echo("Bỏ qua các cột: " + ", ".join(report.ignored_columns))
    click.echo(report.summary())
    if dry_run:
        click.echo("(chạy thử: không lưu gì)")
    if not report.committed and not dry_run:
        sys.exit(1)


demo_cli = AppGroup("demo", help="Demo data.")


@demo_cli.command("load")
@click.option("--households", type=click.IntRange(1), default=None,
              help="Households (per commune with --province).  [default: 320, or 3000 per commune]")
@click.option("--password", default="demo1234", show_default=True, help="Password of the demo officials.")
@click.option("--province", is_flag=True, help="A whole demo province: many communes, villages, teams and households.")
@click.option("--communes", type=click.IntRange(1, 999), default=100, show_default=True, help="Communes of the province.")
def demo_load(households, password, province, communes):
    """Load a demo town (14 neighbourhoods, households, officials), or a whole province."""
    from flask import current_app

    from gateway.demo import OFFICIALS, load_demo, load_province

    if current_app.config.get("GATEWAY_ENV") == "production":
        raise click.ClickException("demo load is refused in production (GATEWAY_ENV=production): it would add "
                                   "made-up households and officials with a known password.")
    if province:
        households = households or 3000

        def progress(done, total):
            if done == total or done % 10 == 0:
                click.echo(f"  {done}/{total} communes")

        loaded = load_province(get_db(), communes=communes, households=households, password=password,
                               progress=progress)
        if loaded is None:
            click.echo("The demo province is already loaded.")
            return
        click.echo(f"Loaded {loaded.name}: {communes} communes, {communes * households} households.")
        click.echo(f"Officials (password: {password}): tinh (province), xa001 … xa{communes:03d} (commune admins)")
        return
    households = households or 320
    commune = load_demo(get_db(), households=households, password=password)
    if commune is None:
        click.echo("The demo commune is already loaded.")
        return
    click.echo(f"Loaded {commune.name}: {len(commune.children)} neighbourhoods, {households} households.")
    click.echo("Officials (password: %s): %s" % (password, ", ".join(o[0] for o in OFFICIALS)))


residents_cli = AppGroup("residents", help="Import and export household lists.")


@residents_cli.command("import")
@click.argument("path", type=click.Path(exists=True, dir_okay=False))
@click.option("--skip-bad-rows", is_flag=True, help="Import the good rows even when some are bad.")
@click.option("--dry-run", is_flag=True, help="Check every row, import nothing.")
@click.option("--area", "area_code", help="Neighbourhood for rows without one (its code, e.g. KP5).")
def residents_import(path, skip_bad_rows, dry_run, area_code):
    """Import residents from a CSV or XLSX household list."""
    from gateway.areas import match_area
    from gateway.residents import ImportFileError, import_residents

    db = get_db()
    default_area = None
    if area_code:
        match = match_area(db, area_code, levels=("neighbourhood", "team"))
        if match.area is None:
            raise click.ClickException(f"Unknown area '{area_code}'.")
        default_area = match.area
    with open(path, "rb") as f:
        data = f.read()
    try:
        report = import_residents(db, path, data, skip_bad_rows=skip_bad_rows, dry_run=dry_run,
                                  default_area=default_area)
    except ImportFileError as exc:
        raise click.ClickException(str(exc)) from None
    echo_import_report(report, dry_run=dry_run)


@residents_cli.command("export")
@click.argument("path", default="-")
@click.option("--format", "fmt", type=click.Choice(["csv", "xlsx"]), default=None,
              help="Default: from the file name, else csv.")
def residents_export(path, fmt):
    """Export residents as CSV (UTF-8 for Excel) or XLSX; '-' writes to standard output."""
    from gateway.residents import export_csv, export_xlsx

    fmt = fmt or ("xlsx" if path.lower().endswith(".xlsx") else "csv")
    data = (export_xlsx if fmt == "xlsx" else export_csv)(get_db())
    if path == "-":
        sys.stdout.buffer.write(data)
    else:
        with open(path, "wb") as f:
            f.write(data)
        click.echo(f"Wrote {path}.")


officials_cli = AppGroup("officials", help="Officials who log in.")


@officials_cli.command("create")
@click.argument("login")
@click.option("--name", default="")
@click.option("--role", type=click.Choice(OFFICIAL_ROLES), default="leader", show_default=True)
@click.option("--area", "area_codes", multiple=True, help="Area code; repeat for several.")
@click.password_option()
def officials_create(login, name, role, area_codes, password):
    """Create an official with a password."""
    from gateway.setup import password_problem

    db = get_db()
    if db.scalar(select(Official).where(Official.login == login)):
        raise click.ClickException(f"Official '{login}' already exists.")
    from gateway.areas.manage import AreaError, resolve

    try:
        areas = [resolve(db, code) for code in area_codes]  # "KP5", or "TANLAP/KP5" when several communes have one
    except AreaError as exc:
        raise click.ClickException(str(exc)) from None
    problem = password_problem(password, login)
    if problem:
        raise click.ClickException(problem)
    db.add(Official(login=login, name=name, role=role, areas=areas,
                    password_hash=generate_password_hash(password)))
    db.commit()
    click.echo(f"Created {role} '{login}'.")


@officials_cli.command("token")
@click.argument("login")
def officials_token(login):
    """Issue a new API token for an official (the old one stops working)."""
    from gateway.auth import issue_token

    db = get_db()
    official = _official(db, login)
    token = issue_token(db, official)
    db.commit()
    click.echo(token)


@officials_cli.command("link")
@click.argument("login")
@click.option("--telegram", "telegram_id", help="Their Telegram user id (replies in groups are relayed).")
@click.option("--zalo", "zalo_id", help="Their Zalo user id.")
def officials_link(login, telegram_id, zalo_id):
    """Link an official to their chat accounts, so their group replies reach residents."""
    db = get_db()
    official = _official(db, login)
    if telegram_id:
        official.link_account("telegram", telegram_id)
    if zalo_id:
        official.link_account("zalo", zalo_id)
    db.commit()
    click.echo(f"Linked '{login}'.")


def _official(db, login):
    official = db.scalar(select(Official).where(Official.login == login))
    if official is None:
        raise click.ClickException(f"No official '{login}'.")
    return official


reports_cli = AppGroup("reports", help="Work the reports residents sent.")


@reports_cli.command("list")
@click.option("--status", type=click.Choice(REPORT_STATUSES))
@click.option("--limit", default=30, show_default=True)
def reports_list(status, limit):
    """The newest reports."""
    from gateway.categories import label
    from gateway.models import STATUS_LABELS, Report
    from gateway.phone import mask

    query = select(Report).order_by(Report.id.desc()).limit(limit)
    if status:
        query = query.where(Report.status == status)
    echo_lines(f"#{r.number:<5} {STATUS_LABELS[r.status]:<15} {r.area.name if r.area else '-':<15} "
               f"{label(r.category):<30} {mask(r.phone) if r.phone else '-':<14} {r.text[:60]!r}"
               for r in get_db().scalars(query))


@reports_cli.command("show")
@click.argument("number", type=int)
@click.option("--commune", help="Commune code, when there are several.")
def reports_show(number, commune):
    """A report and its thread."""
    from gateway.models import STATUS_LABELS

    report = _report(get_db(), number, commune)
    click.echo(f"#{report.number} [{STATUS_LABELS[report.status]}] {report.area.name if report.area else '-'} "
               f"{report.phone or ''} ({report.channel})")
    for e in report.events:
        who = f" {e.official.login}" if e.official else ""
        click.echo(f"  {e.created_at:%Y-%m-%d %H:%M} {e.kind}{'=' + e.status if e.status else ''}{who}: {e.text}")


@reports_cli.command("status")
@click.argument("number", type=int)
@click.argument("status", type=click.Choice([s for s in REPORT_STATUSES if s != "new"]))
@click.option("--note", default="", help="Said to the reporter and the group.")
@click.option("--as", "login", required=True, help="The official making the change.")
@click.option("--commune", help="Commune code, when there are several.")
def reports_status(number, status, note, login, commune):
    """Acknowledge, move to in progress, resolve or reject a report."""
    from gateway.auth import may_act_on
    from gateway.reports.casework import StatusError, change_status

    db = get_db()
    report, official = _report(db, number, commune), _official(db, login)
    if not may_act_on(db, official, report.area_id or report.commune_id):
        raise click.ClickException(f"'{login}' does not look after {report.area.name if report.area else 'this area'}.")
    try:
        change_status(db, report, status, note=note, official=official)
    except StatusError as exc:
        raise click.ClickException(str(exc)) from None
    db.commit()
    click.echo(f"Report #{number} is now {status}; the reporter and the group will be told.")


def _report(db, number, commune_code):
    from gateway.models import Report

    communes = list(db.scalars(select(Area).where(Area.level == "commune")))
    if commune_code:
        communes = [c for c in communes if c.code == commune_code.upper()]
    if len(communes) != 1:
        raise click.ClickException("Say which commune with --commune: " + ", ".join(c.code for c in communes))
    report = db.scalar(select(Report).where(Report.commune_id == communes[0].id, Report.number == number))
    if report is None:
        raise click.ClickException(f"No report #{number}.")
    return report


@click.command("setup")
@click.option("--commune", "commune_name", help="Name of the commune or ward, e.g. \"Xã Tân Lập\".")
@click.option("--code", "commune_code", help="Its short code, e.g. TANLAP.")
@click.option("--kind", "commune_kind", type=click.Choice(["xa", "phuong", "dac_khu", "thi_tran"]), default="xa",
              show_default=True)
@click.option("--hotline", default="", help="The commune's hotline number (optional).")
@click.option("--province", "province_name", default="", help="The province's name (optional), e.g. \"Tỉnh Lâm Đồng\".")
@click.option("--province-code", default="", help="The province's code; an existing province is reused.")
@click.option("--admin", "admin_login", help="Log-in of the commune's first admin.")
@click.option("--admin-name", default="", help="The admin's full name.")
@click.option("--password", help="The admin's password (at least 10 characters); asked for when not given.")
@click.option("--village", "villages", multiple=True, help="A village or neighbourhood as CODE=Name, e.g. "
              "\"KP5=Khu phố 5\"; repeat for each.")
@with_appcontext
def setup_command(commune_name, commune_code, commune_kind, hotline, province_name, province_code, admin_login,
                  admin_name, password, villages):
    """First run: create the province (optional), the commune and its first admin.

    Give the values as options, or run it in a terminal and answer the questions."""
    from gateway.setup import MIN_PASSWORD, SetupError, SetupRequest, first_run

    values = {"commune_name": commune_name, "commune_code": commune_code, "admin_login": admin_login}
    if sys.stdin.isatty():
        questions = {"commune_name": "Tên xã/phường", "commune_code": "Mã xã/phường (không dấu, ví dụ TANLAP)",
                     "admin_login": "Tên đăng nhập của quản trị xã"}
        if not commune_name and not province_name:
            province_name = click.prompt("Tên tỉnh (bỏ trống nếu không có)", default="", show_default=False)
            if province_name:
                province_code = click.prompt("Mã tỉnh (không dấu, ví dụ LAMDONG)")
        for key, question in questions.items():
            if not values[key]:
                values[key] = click.prompt(question)
        if not hotline:
            hotline = click.prompt("Số tổng đài của xã (bỏ trống nếu chưa có)", default="", show_default=False)
        if not password:
            password = click.prompt(f"Mật khẩu (ít nhất {MIN_PASSWORD} ký tự)", hide_input=True,
                                    confirmation_prompt="Nhập lại mật khẩu")
    missing = [f"--{name}" for name, key in (("commune", "commune_name"), ("code", "commune_code"),
                                              ("admin", "admin_login")) if not values[key]]
    if not password:
        missing.append("--password")
    if missing:
        raise click.UsageError("missing " + ", ".join(missing) + " (or run it in a terminal to be asked)")
    request = SetupRequest(**values, commune_kind=commune_kind, admin_password=password, admin_name=admin_name,
                           hotline=hotline, province_name=province_name, province_code=province_code,
                           villages=list(villages))
    try:
        commune, admin = first_run(get_db(), request)
    except SetupError as exc:
        raise click.ClickException("Chưa tạo được:\n  " + "\n  ".join(exc.problems)) from None
    where = f" ({commune.parent.name})" if commune.parent else ""
    click.echo(f"Đã tạo {commune.name} [{commune.code}]{where}, {len(commune.children)} thôn/khu phố "
               f"và quản trị xã '{admin.login}'.")
    click.echo("Tiếp theo: thêm thôn/khu phố (python -m gateway areas …), nhập danh sách hộ dân "
               "(python -m gateway residents import FILE), rồi đăng nhập /console.")


def init_app(app):
    from gateway.areas.cli import areas_cli

    for command in (demo_cli, residents_cli, areas_cli, officials_cli, reports_cli, setup_command):
        app.cli.add_command(command)
