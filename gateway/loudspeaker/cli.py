"""`flask loudspeaker ...`: operator links and daily bulletins."""

import click
from flask.cli import AppGroup
from sqlalchemy import select

from gateway.db import get_db
from gateway.loudspeaker.bulletin import request_bulletin
from gateway.loudspeaker.links import create_link, link_url, revoke
from gateway.loudspeaker.listing import local_day
from gateway.models import Official, OperatorLink, utcnow

loudspeaker_cli = AppGroup("loudspeaker", help="Loudspeaker operators' links and daily bulletins.")


def _area(db, code):
    from gateway.areas.manage import AreaError, resolve

    try:
        return resolve(db, code)  # an active area: "KP5", or "TANLAP/KP5" when several communes have one
    except AreaError as exc:
        raise click.BadParameter(str(exc), param_hint="--area") from None


@loudspeaker_cli.command("link")
@click.option("--area", "area_code", required=True, help="Area code, e.g. kp5.")
@click.option("--label", required=True, help="Who holds the link, e.g. 'Ông Ba – loa khu phố 5'.")
@click.option("--official", "login", help="The operator's login, when they have one.")
def link_command(area_code, label, login):
    """Make a private link for an operator; the URL is shown once."""
    db = get_db()
    official = None
    if login:
        official = db.scalar(select(Official).where(Official.login == login))
        if official is None:
            raise click.BadParameter(f"no official '{login}'", param_hint="--official")
    link, token = create_link(db, area=_area(db, area_code), label=label, official=official)
    db.commit()
    click.echo(f"link {link.id} for {link.area.name} ({label})")
    click.echo(f"  page: {link_url(token)}")
    click.echo(f"  feed: {link_url(token, 'loudspeaker.feed_xml')}")
    click.echo("Give it to the operator now: it is not stored and cannot be shown again.")


@loudspeaker_cli.command("links")
def links_command():
    """List operator links (without their tokens)."""
    from gateway.cli import echo_lines

    def line(link):
        state = f"revoked {link.revoked_at:%Y-%m-%d}" if link.revoked_at else "active"
        used = f"{link.last_used_at:%Y-%m-%d %H:%M}" if link.last_used_at else "never"
        return f"{link.id}\t{link.area.name}\t{link.label}\t{state}\tlast used {used}"

    echo_lines(line(link) for link in get_db().scalars(select(OperatorLink).order_by(OperatorLink.id)))


@loudspeaker_cli.command("revoke")
@click.argument("link_id", type=int)
def revoke_command(link_id):
    """Revoke a link: its page, feed and downloads stop working at once."""
    db = get_db()
    link = db.get(OperatorLink, link_id)
    if link is None:
        raise click.BadParameter(f"no link {link_id}", param_hint="LINK_ID")
    revoke(db, link)
    db.commit()
    click.echo(f"link {link.id} ({link.label}) revoked")


@loudspeaker_cli.command("bulletin")
@click.option("--area", "area_code", required=True, help="Area code, e.g. kp5.")
@click.option("--day", type=click.DateTime(["%Y-%m-%d"]), help="The day (default: today in Vietnam).")
def bulletin_command(area_code, day):
    """Request the area's daily bulletin (joined by a worker)."""
    db = get_db()
    day = day.date() if day else local_day(utcnow())
    bulletin = request_bulletin(db, _area(db, area_code), day)
    click.echo(f"bulletin {bulletin.id} for {day:%Y-%m-%d}: {bulletin.status}, "
               f"{len(bulletin.announcement_ids)} announcements")
