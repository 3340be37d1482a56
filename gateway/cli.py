"""Command line: `python -m gateway <command>` (or `flask --app gateway <command>`)."""
import sys

import click
from flask.cli import AppGroup
from sqlalchemy import select
from werkzeug.security import generate_password_hash

from gateway.db import get_db
from gateway.models import OFFICIAL_ROLES, Area, Official


demo_cli = AppGroup("demo", help="Demo data.")


@demo_cli.command("load")
@click.option("--households", default=320, show_default=True)
@click.option("--password", default="demo1234", show_default=True, help="Password of the demo officials.")
def demo_load(households, password):
    """Load a demo town: 14 neighbourhoods, households, officials."""
    from gateway.demo import OFFICIALS, load_demo

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


areas_cli = AppGroup("areas", help="Areas.")


@areas_cli.command("list")
def areas_list():
    """Show the area tree with codes."""
    db = get_db()

    def show(area, depth):
        click.echo(f"{'  ' * depth}{area.name} [{area.code}]")
        for child in area.children:
            show(child, depth + 1)

    for root in db.scalars(select(Area).where(Area.parent_id.is_(None)).order_by(Area.id)):
        show(root, 0)


officials_cli = AppGroup("officials", help="Officials who log in.")


@officials_cli.command("create")
@click.argument("login")
@click.option("--name", default="")
@click.option("--role", type=click.Choice(OFFICIAL_ROLES), default="leader", show_default=True)
@click.option("--area", "area_codes", multiple=True, help="Area code; repeat for several.")
@click.password_option()
def officials_create(login, name, role, area_codes, password):
    """Create an official with a password."""
    db = get_db()
    if db.scalar(select(Official).where(Official.login == login)):
        raise click.ClickException(f"Official '{login}' already exists.")
    areas = []
    for code in area_codes:
        area = db.scalar(select(Area).where(Area.code == code.upper()))
        if area is None:
            raise click.ClickException(f"Unknown area code '{code}' (see `areas list`).")
        areas.append(area)
    db.add(Official(login=login, name=name, role=role, areas=areas,
                    password_hash=generate_password_hash(password)))
    db.commit()
    click.echo(f"Created {role} '{login}'.")


def init_app(app):
    for command in (demo_cli, residents_cli, areas_cli, officials_cli):
        app.cli.add_command(command)
