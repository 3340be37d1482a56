"""`python -m gateway sms …`: check a text's segments, send a test SMS, recover stuck ones."""
import datetime as dt

import click
from flask import current_app
from flask.cli import AppGroup
from sqlalchemy import select

from gateway.db import get_db
from gateway.models import Delivery

sms_cli = AppGroup("sms", help="SMS: segments, test sends, stuck deliveries.")


@sms_cli.command("segments")
@click.argument("text")
def segments_command(text):
    """Show TEXT as residents get it (GSM-7, no diacritics) and what it costs."""
    from gateway.sms.encoding import count_segments, to_gsm

    plain = to_gsm(text)
    click.echo(plain)
    for label, value in (("as written", text), ("as sent", plain)):
        encoding, n = count_segments(value)
        click.echo(f"{label}: {encoding}, {len(value)} characters, {n} SMS")


@sms_cli.command("send")
@click.argument("phone")
@click.argument("text")
def send_command(phone, text):
    """Queue a test SMS to PHONE through the configured provider."""
    from gateway.phone import PhoneError, normalize
    from gateway.sms.outbound import queue_sms

    try:
        e164 = normalize(phone)
    except PhoneError as exc:
        raise click.ClickException(str(exc)) from None
    db = get_db()
    key = f"cli:{e164}:{dt.datetime.now(dt.timezone.utc).isoformat()}"
    delivery = queue_sms(db, phone=e164, body=text, key=key)
    db.commit()
    click.echo(f"Queued delivery {delivery.id} to {e164} via {current_app.config['SMS_PROVIDER']}.")


@sms_cli.command("requeue-stuck")
@click.option("--minutes", default=10, show_default=True, help="Left 'sending' for at least this long.")
def requeue_stuck_command(minutes):
    """Recover SMS a crashed worker left 'sending' (never sending one twice)."""
    from gateway.sms.outbound import requeue_stuck

    counts = requeue_stuck(get_db(), current_app.config, older_than=dt.timedelta(minutes=minutes))
    click.echo(f"Found at the provider: {counts['found']}; sent again: {counts['resent']}; "
               f"for an operator: {counts['operator']}; overdue and queued again: {counts['requeued']}.")
    if counts["operator"]:
        click.echo("Check those in the provider's log; `sms resend ID` sends one that did not go out.")


@sms_cli.command("stuck")
def stuck_command():
    """List SMS whose outcome is unknown (left for an operator)."""
    from gateway.sms.outbound import NEEDS_OPERATOR

    from gateway.cli import echo_lines

    rows = get_db().scalars(select(Delivery).where(Delivery.error_code == NEEDS_OPERATOR, Delivery.status == "failed"))
    echo_lines(f"{d.id}\t{d.provider}\t{d.updated_at:%Y-%m-%d %H:%M}\t{d.idempotency_key}" for d in rows)


@sms_cli.command("resend")
@click.argument("delivery_id", type=int)
def resend_command(delivery_id):
    """Send a failed or stuck SMS again (after checking it did not go out)."""
    from gateway.sms.outbound import resend

    db = get_db()
    delivery = db.get(Delivery, delivery_id)
    if delivery is None:
        raise click.ClickException(f"No delivery {delivery_id}.")
    try:
        resend(db, delivery)
    except ValueError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"Delivery {delivery_id} queued again.")
