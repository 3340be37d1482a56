"""`python -m gateway areas …`: the area tree without code (list, add, edit, move, merge, retire,
import, export) and per-commune settings. An area is named by its code, or COMMUNE/CODE when
several communes use the same code."""
import sys

import click
from flask.cli import AppGroup
from sqlalchemy import select

from gateway.db import get_db
from gateway.mirror import MIRROR_TARGETS
from gateway.models import Area

areas_cli = AppGroup("areas", help="Areas: the province, communes, villages and teams.")


def _area(db, ref, *, include_retired=False):
    from gateway.areas.manage import AreaError, resolve

    try:
        return resolve(db, ref, include_retired=include_retired)
    except AreaError as exc:
        raise click.ClickException(str(exc)) from None


def _run(db, change):
    """Run `change()` and commit; an AreaError is the command's error message."""
    from gateway.areas.manage import AreaError

    try:
        result = change()
    except AreaError as exc:
        db.rollback()
        raise click.ClickException(str(exc)) from None
    db.commit()
    return result


@areas_cli.command("list")
@click.option("--all", "show_all", is_flag=True, help="Also retired and merged areas.")
def areas_list(show_all):
    """Show the area tree with codes (and old names)."""
    from gateway.areas.manage import kind_label

    db = get_db()

    def show(area, depth):
        if not area.active and not show_all:
            return
        extra = ""
        if area.aliases:
            extra += " (tên cũ: " + "; ".join(a.name for a in area.aliases) + ")"
        if area.merged_into is not None:
            extra += f" — đã gộp vào {area.merged_into.name} [{area.merged_into.code}] {area.merged_at:%d/%m/%Y}"
        elif not area.active:
            extra += f" — ngừng dùng {area.retired_at:%d/%m/%Y}"
        yield f"{'  ' * depth}{area.name} [{area.code}] {kind_label(area)}{extra}"
        for child in area.children:
            yield from show(child, depth + 1)

    from gateway.cli import echo_lines

    echo_lines(line for root in db.scalars(select(Area).where(Area.parent_id.is_(None)).order_by(Area.id))
               for line in show(root, 0))


@areas_cli.command("add")
@click.argument("code")
@click.argument("name")
@click.option("--kind", required=True, help="province, commune, village, team, or xã, phường, thôn, khu phố, tổ…")
@click.option("--parent", "parent_ref", help="Code of the area it belongs to (none for a province or commune).")
@click.option("--hotline", help="Hotline number (a commune's).")
@click.option("--alias", "aliases", multiple=True, help="An old name or code it is still called by; repeat.")
def areas_add(code, name, kind, parent_ref, hotline, aliases):
    """Add an area: CODE (texted, e.g. KP5) and NAME (e.g. "Khu phố 5")."""
    from gateway.areas.manage import add_area

    db = get_db()
    parent = _area(db, parent_ref) if parent_ref else None
    area = _run(db, lambda: add_area(db, code=code, name=name, kind=kind, parent=parent, hotline=hotline,
                                     aliases=aliases))
    click.echo(f"Đã thêm {area.name} [{area.code}]" + (f" trong {parent.name}." if parent else "."))


@areas_cli.command("edit")
@click.argument("ref")
@click.option("--name", help="New name; the old one stays as an alias.")
@click.option("--code", help="New code; the old one stays as an alias.")
@click.option("--kind", help="Another kind of the same level (e.g. thôn → khu phố).")
@click.option("--hotline", help="Hotline number; '' removes it.")
@click.option("--alias", "aliases", multiple=True, help="Add an old name or code; repeat.")
def areas_edit(ref, name, code, kind, hotline, aliases):
    """Rename, recode or re-kind the area REF."""
    from gateway.areas.manage import edit_area

    db = get_db()
    area = _area(db, ref)
    changed = _run(db, lambda: edit_area(db, area, name=name, code=code, kind=kind, hotline=hotline,
                                         aliases=aliases))
    click.echo(f"Đã lưu {area.name} [{area.code}]." if changed else "Không có gì thay đổi.")


@areas_cli.command("move")
@click.argument("ref")
@click.argument("parent_ref")
def areas_move(ref, parent_ref):
    """Move the area REF (with everything in it) under PARENT_REF ('-': to the top)."""
    from gateway.areas.manage import move_area

    db = get_db()
    area = _area(db, ref)
    parent = None if parent_ref == "-" else _area(db, parent_ref)
    moved = _run(db, lambda: move_area(db, area, parent))
    click.echo(f"Đã chuyển {area.name} vào {parent.name if parent else 'cấp cao nhất'}." if moved
               else "Không có gì thay đổi.")


@areas_cli.command("merge")
@click.argument("into_ref")
@click.argument("refs", nargs=-1, required=True)
def areas_merge(into_ref, refs):
    """Merge the areas REFS into INTO_REF: households, subscriptions, reports, loudspeaker links,
    announcements and officials move; the old names and codes keep working."""
    from gateway.areas.manage import merge_areas

    db = get_db()
    into = _area(db, into_ref)
    sources = [_area(db, r) for r in refs]
    result = _run(db, lambda: merge_areas(db, sources, into))
    click.echo(result.summary())


@areas_cli.command("retire")
@click.argument("ref")
def areas_retire(ref):
    """Stop using an empty area; it drops out of pickers and lists, its old rows stay."""
    from gateway.areas.manage import retire_area

    db = get_db()
    area = _area(db, ref)
    _run(db, lambda: retire_area(db, area))
    click.echo(f"Đã ngừng dùng {area.name} [{area.code}].")


@areas_cli.command("import")
@click.argument("path", type=click.Path(exists=True, dir_okay=False))
@click.option("--skip-bad-rows", is_flag=True, help="Import the good rows even when some are bad.")
@click.option("--dry-run", is_flag=True, help="Check every row, import nothing.")
def areas_import(path, skip_bad_rows, dry_run):
    """Import a CSV or XLSX area list (code, name, kind, parent code, hotline number, aliases)."""
    from gateway.areas.tables import import_areas
    from gateway.cli import echo_import_report
    from gateway.residents import ImportFileError

    with open(path, "rb") as f:
        data = f.read()
    try:
        report = import_areas(get_db(), path, data, skip_bad_rows=skip_bad_rows, dry_run=dry_run)
    except ImportFileError as exc:
        raise click.ClickException(str(exc)) from None
    echo_import_report(report, dry_run=dry_run)


@areas_cli.command("export")
@click.argument("path", default="-")
@click.option("--format", "fmt", type=click.Choice(["csv", "xlsx"]), default=None,
              help="Default: from the file name, else csv.")
@click.option("--within", "within_ref", help="Only this area and what is in it (e.g. a commune's code).")
def areas_export(path, fmt, within_ref):
    """Export the area list (the columns import reads); '-' writes to standard output."""
    from gateway.areas.tables import export_csv, export_xlsx

    db = get_db()
    within = _area(db, within_ref) if within_ref else None
    fmt = fmt or ("xlsx" if path.lower().endswith(".xlsx") else "csv")
    data = (export_xlsx if fmt == "xlsx" else export_csv)(db, within=within)
    if path == "-":
        sys.stdout.buffer.write(data)
    else:
        with open(path, "wb") as f:
            f.write(data)
        click.echo(f"Wrote {path}.")


@areas_cli.command("settings")
@click.argument("ref")
@click.option("--hotline", "hotlines", multiple=True, help="Hotline number; repeat for several (the first is "
              "the main one); '' removes them.")
@click.option("--group-target", help=f"Where the group is: {', '.join(MIRROR_TARGETS.names())}; '' inherits.")
@click.option("--group-chat-id", help="The group's chat id there.")
@click.option("--duty-officer", "duty_officer_phone", help="Duty officer's phone (the hotline connects to it).")
@click.option("--quiet-hours", help="e.g. 21:00-06:30 (Vietnam time); '' inherits.")
@click.option("--sms-price", help="Price of one SMS segment in đồng; '' uses SMS_PRICE_VND.")
@click.option("--prompt-recording", "prompt_recordings", multiple=True, metavar="KEY=ASSET_ID",
              help="Use an uploaded recording (see `ivr record-prompt`) for a hotline prompt; KEY= removes it.")
@click.option("--languages", help="Languages besides Vietnamese, in hotline order: ISO 639-3 codes or names "
              "(blt, mtq, bru, scb…; xyz=Tiếng … for others); '' removes them.")
def areas_settings(ref, hotlines, group_target, group_chat_id, duty_officer_phone, quiet_hours, sms_price,
                   prompt_recordings, languages):
    """Show or change the settings of the area REF; anything invalid is refused and nothing saved."""
    from gateway.areas import settings

    db = get_db()
    area = _area(db, ref)
    changes = {k: v for k, v in (("group_target", group_target), ("group_chat_id", group_chat_id),
                                 ("duty_officer_phone", duty_officer_phone), ("quiet_hours", quiet_hours),
                                 ("sms_price", sms_price), ("languages", languages)) if v is not None}
    if hotlines:
        changes["hotline_numbers"] = ", ".join(hotlines)
    if prompt_recordings:
        mapping = settings.current(area)["prompt_recordings"]
        for item in prompt_recordings:
            key, sep, asset_id = item.partition("=")
            if not sep or not key.strip():
                raise click.ClickException(f"--prompt-recording '{item}': viết KEY=ASSET_ID (ví dụ greeting=12).")
            if asset_id.strip():
                mapping[key.strip()] = asset_id.strip()
            else:
                mapping.pop(key.strip(), None)
        changes["prompt_recordings"] = mapping
    if changes:
        try:
            settings.apply(db, area, changes)
        except settings.SettingsError as exc:
            db.rollback()
            raise click.ClickException("Không lưu:\n" + "\n".join(
                f"  {settings.LABELS[k]}: {v}" for k, v in exc.errors.items())) from None
        db.commit()
        click.echo(f"Đã lưu cài đặt của {area.name}.")
    for key, value in settings.current(area).items():
        if key == "prompt_recordings":
            value = ", ".join(f"{k}={v}" for k, v in value.items())
        if key == "language_prompts":
            value = "; ".join(f"{code}: " + ", ".join(f"{k}={v}" for k, v in m.items()) for code, m in value.items())
        click.echo(f"{settings.LABELS[key]}: {value or '(theo cấp trên)'}")
