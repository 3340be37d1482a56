"""`announcements` commands: create, list, show, cancel, coverage (CSV too)."""

import click
from flask.cli import AppGroup
from sqlalchemy import select

from gateway.db import get_db
from gateway.models import AUDIENCES, CHANNELS, PRIORITIES, Announcement, Official

announcements_cli = AppGroup("announcements", help="Queue announcements and watch their coverage.")


def _official(db, login):
    official = db.scalar(select(Official).where(Official.login == login))
    if official is None or not official.active:
        raise click.ClickException(f"No active official '{login}'.")
    return official


def _announcement(db, announcement_id):
    a = db.get(Announcement, announcement_id)
    if a is None:
        raise click.ClickException(f"No announcement {announcement_id}.")
    return a


@announcements_cli.command("create")
@click.option("--as", "login", required=True, help="The official sending it (their areas limit the targets).")
@click.option("--title", required=True)
@click.option("--body", default="", help="The Vietnamese text (or --body-file).")
@click.option("--body-file", type=click.File("r", encoding="utf-8"), help="Read the text from a file ('-': stdin).")
@click.option("--area", "areas", multiple=True, required=True, help="Area code or id; repeat for several.")
@click.option("--audience", "audiences", multiple=True, type=click.Choice(AUDIENCES), help="Default: everyone.")
@click.option("--channel", "channels", multiple=True, type=click.Choice(CHANNELS), help="Default: sms and hotline.")
@click.option("--priority", type=click.Choice(PRIORITIES), default="normal", show_default=True)
@click.option("--category", default="general", show_default=True)
@click.option("--send-at", help="ISO time with zone, e.g. 2026-11-23T08:00:00+07:00 (default: now).")
@click.option("--expires-at", help="ISO time with zone (default: a week after sending).")
@click.option("--recording", type=click.Path(exists=True, dir_okay=False), help="The official's own recording.")
@click.option("--recording-id", type=int, help="An uploaded recording's id.")
def create(login, title, body, body_file, areas, audiences, channels, priority, category, send_at, expires_at,
           recording, recording_id):
    """Queue an announcement (sent now, or at --send-at)."""
    from gateway.broadcast import service
    from gateway.models import AudioAsset

    db = get_db()
    official = _official(db, login)
    if body_file is not None:
        body = body_file.read()
    try:
        asset = None
        if recording:
            from audio.uploads import UploadRejected
            from gateway.media.assets import store_upload

            with open(recording, "rb") as f:
                try:
                    asset = store_upload(db, recording, f.read())
                except UploadRejected as exc:
                    raise service.AnnouncementError(f"recording refused: {exc}") from None
        elif recording_id is not None:
            asset = db.get(AudioAsset, recording_id)
            if asset is None:
                raise service.AnnouncementError(f"no recording {recording_id}")
        a = service.create(db, official=official, title=title, body=body, areas=service.resolve_areas(db, list(areas)),
                           audiences=list(audiences) or ["everyone"], channels=list(channels) or ["sms", "hotline"],
                           priority=priority, category=category, send_at=service.parse_time(send_at, "--send-at"),
                           expires_at=service.parse_time(expires_at, "--expires-at"), recording=asset)
    except service.AnnouncementError as exc:
        db.rollback()
        raise click.ClickException(str(exc)) from None
    db.commit()
    click.echo(f"Announcement {a.id} scheduled for {a.send_at.isoformat()} "
               f"({', '.join(x.code for x in a.areas)}; {', '.join(a.channels)}).")


@announcements_cli.command("list")
@click.option("--status", type=click.Choice(["draft", "scheduled", "sending", "sent", "cancelled", "failed"]))
@click.option("--limit", default=30, show_default=True)
def list_(status, limit):
    """The newest announcements."""
    query = select(Announcement).order_by(Announcement.id.desc()).limit(limit)
    if status:
        query = query.where(Announcement.status == status)
    from gateway.cli import echo_lines

    echo_lines(f"{a.id:<5} {a.status:<10} {a.priority:<9} {a.send_at:%Y-%m-%d %H:%M}Z "
               f"{','.join(x.code for x in a.areas):<20} {a.title[:60]}" for a in get_db().scalars(query))


@announcements_cli.command("show")
@click.argument("announcement_id", type=int)
def show(announcement_id):
    """One announcement and its delivery progress."""
    from gateway.broadcast import coverage

    db = get_db()
    a = _announcement(db, announcement_id)
    click.echo(f"#{a.id} [{a.status}] {a.priority} {a.category}: {a.title}")
    click.echo(f"areas: {', '.join(f'{x.name} [{x.code}]' for x in a.areas)}")
    click.echo(f"audiences: {', '.join(a.audiences)}; channels: {', '.join(a.channels)}")
    click.echo(f"send at {a.send_at.isoformat()}, expires {a.expires_at.isoformat() if a.expires_at else '-'}")
    click.echo(f"audio: {a.audio.status if a.audio else 'not rendered yet'}")
    if a.sms_text:
        click.echo(f"SMS: {a.sms_text}")
    click.echo(a.body)
    progress = coverage.progress(db, a)
    total = progress.pop("total")
    click.echo(f"deliveries: {total}")
    for channel, statuses in sorted(progress.items()):
        click.echo(f"  {channel}: " + ", ".join(f"{s}={n}" for s, n in sorted(statuses.items())))


@announcements_cli.command("cancel")
@click.argument("announcement_id", type=int)
def cancel(announcement_id):
    """Cancel an announcement that has not started."""
    from gateway.broadcast import service

    db = get_db()
    try:
        service.cancel(db, _announcement(db, announcement_id))
    except service.AnnouncementError as exc:
        db.rollback()
        raise click.ClickException(str(exc)) from None
    db.commit()
    click.echo(f"Announcement {announcement_id} cancelled.")


@announcements_cli.command("coverage")
@click.argument("announcement_id", type=int)
@click.option("--csv", "as_csv", is_flag=True, help="CSV (UTF-8 for Excel) on standard output.")
def coverage_(announcement_id, as_csv):
    """Households targeted, reached, confirmed and failed, per area and audience."""
    from gateway.broadcast import coverage

    db = get_db()
    a = _announcement(db, announcement_id)
    rows = coverage.by_area_and_audience(db, a)
    if as_csv:
        click.echo(coverage.to_csv(rows), nl=False)
        return
    click.echo(f"{'area':<20} {'audience':<14} {'targeted':>8} {'reached':>8} {'confirmed':>9} {'failed':>7} {'waiting':>8} {'not sent':>8}")
    for r in rows:
        area = "TOTAL" if r["area"] == "*" else r["area"]
        click.echo(f"{area[:20]:<20} {r['audience']:<14} {r['targeted']:>8} {r['reached']:>8} {r['confirmed']:>9} "
                   f"{r['failed']:>7} {r['in_progress']:>8} {r['not_sent']:>8}")
    for f in coverage.failure_reasons(db, a):
        click.echo(f"failed {f['channel']} {f['status']} x{f['count']}: {f['code'] or ''} {f['reason']}".rstrip())
    by_language = coverage.by_language(db, a)
    if len(by_language) > 1:
        for r in by_language:
            recorded = "" if r["recorded"] else " (no recording: heard in Vietnamese)"
            click.echo(f"language {r['language']:<4} {r['name'][:24]:<24} {r['targeted']:>8} {r['reached']:>8} "
                       f"{r['confirmed']:>9} {r['failed']:>7} {r['in_progress']:>8} {r['not_sent']:>8}{recorded}")


def init_app(app):
    app.cli.add_command(announcements_cli)
