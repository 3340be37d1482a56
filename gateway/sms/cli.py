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
    from gateway.sms_queue import queue_sms

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


senders_cli = AppGroup("senders", help="A commune's SMS senders: phones, SIMs, Kannel SMSCs.")


def _commune(db, code):
    from gateway.models import Area

    found = db.scalars(select(Area).where(Area.level == "commune")).all()
    matches = [a for a in found if a.code.lower() == code.strip().lower() or str(a.id) == code.strip()]
    if len(matches) != 1:
        raise click.ClickException(f"Không có xã/phường mã '{code}'." if not matches else
                                   f"Mã '{code}' trùng ở nhiều tỉnh; dùng số id của xã.")
    return matches[0]


def _sender(db, sender_id):
    from gateway.models import Sender

    sender = db.get(Sender, sender_id)
    if sender is None:
        raise click.ClickException(f"Không có người gửi số {sender_id}.")
    return sender


def _options(pairs):
    options = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise click.ClickException(f"Tùy chọn '{pair}' phải có dạng TÊN=GIÁ_TRỊ (ví dụ SMS_ANDROID_URL=http://…).")
        options[key.strip()] = value.strip()
    return options


def _limits(f):
    for name, what in (("per_day", "day"), ("per_hour", "hour"), ("per_minute", "minute")):
        f = click.option(f"--per-{what}", name, type=click.IntRange(min=1), help=f"Most SMS per {what}.")(f)
    return f


@senders_cli.command("add")
@click.argument("commune")
@click.option("--name", required=True, help="What officials call it, e.g. 'Điện thoại 1 (SIM Viettel)'.")
@click.option("--provider", required=True, help="android, kannel, twilio, esms or outbox.")
@click.option("--number", help="The number residents see and text back (or a short code).")
@click.option("--sim", "sim_number", type=int, help="Android: which SIM slot (1-3) sends.")
@click.option("--smsc", "smsc_id", help="Kannel: the smsc-id to route through.")
@click.option("--option", "options", multiple=True, metavar="KEY=VALUE",
              help="This sender's own provider settings, e.g. SMS_ANDROID_URL=http://192.168.1.21:8080.")
@_limits
def senders_add(commune, name, provider, number, sim_number, smsc_id, options, per_minute, per_hour, per_day):
    """Add a sender to COMMUNE (its code or id)."""
    from gateway.models import Sender
    from gateway.sms.senders import validate

    db = get_db()
    try:
        fields = validate(db, commune=_commune(db, commune), name=name, provider=provider, number=number,
                          sim_number=sim_number, smsc_id=smsc_id, options=_options(options), per_minute=per_minute,
                          per_hour=per_hour, per_day=per_day, config=current_app.config)
    except ValueError as exc:
        raise click.ClickException(str(exc)) from None
    sender = Sender(**fields)
    db.add(sender)
    db.commit()
    what = " ".join(filter(None, (sender.provider, sender.number)))
    click.echo(f"Đã thêm người gửi {sender.id}: {sender.name} ({what}).")


@senders_cli.command("edit")
@click.argument("sender_id", type=int)
@click.option("--name")
@click.option("--number")
@click.option("--sim", "sim_number", type=int)
@click.option("--smsc", "smsc_id")
@click.option("--option", "options", multiple=True, metavar="KEY=VALUE", help="Set one of its provider settings.")
@_limits
@click.option("--no-limit", "unlimited", multiple=True, type=click.Choice(["minute", "hour", "day"]),
              help="Remove a limit.")
def senders_edit(sender_id, name, number, sim_number, smsc_id, options, per_minute, per_hour, per_day, unlimited):
    """Change a sender's name, number, SIM, SMSC, settings or limits."""
    from gateway.sms.senders import validate

    db = get_db()
    sender = _sender(db, sender_id)
    limits = {k: getattr(sender, k) for k in ("per_minute", "per_hour", "per_day")}
    limits.update({k: v for k, v in (("per_minute", per_minute), ("per_hour", per_hour), ("per_day", per_day))
                   if v is not None})
    for what in unlimited:
        limits[f"per_{what}"] = None
    try:
        fields = validate(db, commune=sender.commune, name=name or sender.name, provider=sender.provider,
                          number=sender.number if number is None else number,
                          sim_number=sender.sim_number if sim_number is None else sim_number,
                          smsc_id=sender.smsc_id if smsc_id is None else smsc_id,
                          options={**(sender.options or {}), **_options(options)}, config=current_app.config,
                          **limits)
    except ValueError as exc:
        raise click.ClickException(str(exc)) from None
    for key, value in fields.items():
        setattr(sender, key, value)
    db.commit()
    click.echo(f"Đã sửa người gửi {sender.id}.")


@senders_cli.command("list")
@click.option("--commune", help="Only this commune (code or id).")
def senders_list(commune):
    """Every sender: health, and today's count against its limits."""
    from gateway.models import Sender
    from gateway.queue import get_connection
    from gateway.sms.senders import usage

    db = get_db()
    query = select(Sender).order_by(Sender.commune_id, Sender.id)
    if commune:
        query = query.where(Sender.commune_id == _commune(db, commune).id)
    rows = list(db.scalars(query))
    if not rows:
        click.echo("Chưa có người gửi nào: tin nhắn đi qua SMS_PROVIDER (%s)." % current_app.config["SMS_PROVIDER"])
        return
    click.echo("id\txã/phường\ttên\tnhà cung cấp\tsố\ttình trạng\thôm nay/ngày\tgiờ này/giờ\t/phút")
    for s in rows:
        used = usage(get_connection(), db, s)
        state = ("tắt" if not s.enabled else s.health) + (f" ({s.health_reason})" if s.health_reason else "")
        click.echo("\t".join(str(v) for v in (
            s.id, s.commune.name, s.name, s.provider + (f" SIM {s.sim_number}" if s.sim_number else "")
            + (f" smsc {s.smsc_id}" if s.smsc_id else ""), s.number or "—", state,
            f"{used['day']}/{s.per_day or '∞'}", f"{used['hour']}/{s.per_hour or '∞'}", s.per_minute or "∞")))


@senders_cli.command("disable")
@click.argument("sender_id", type=int)
def senders_disable(sender_id):
    """Stop sending through a sender; its waiting messages go to the commune's other senders."""
    from gateway.sms.senders import disable

    db = get_db()
    moved = disable(db, _sender(db, sender_id))
    click.echo(f"Đã tắt người gửi {sender_id}; {moved} tin đang chờ chuyển sang người gửi khác.")


@senders_cli.command("enable")
@click.argument("sender_id", type=int)
def senders_enable(sender_id):
    """Send through a sender again (its health is reset)."""
    from gateway.sms.senders import enable

    db = get_db()
    enable(db, _sender(db, sender_id))
    click.echo(f"Đã bật người gửi {sender_id}.")


@senders_cli.command("check")
@click.argument("sender_id", type=int, required=False)
def senders_check(sender_id):
    """Check senders' health now (an Android phone's /health); all enabled ones by default."""
    from gateway.models import Sender
    from gateway.sms.senders import check_sender

    db = get_db()
    rows = [_sender(db, sender_id)] if sender_id else list(db.scalars(select(Sender).where(Sender.enabled.is_(True))))
    for s in rows:
        check_sender(db, current_app.config, s)
        click.echo(f"{s.id}\t{s.name}\t{s.health}\t{s.health_reason or ''}".rstrip())


@sms_cli.command("gammu-receive")
@click.argument("message_ids", nargs=-1)
@click.option("--to", "to_number", help="The modem's own number (what residents texted).")
def gammu_receive_command(message_ids, to_number):
    """gammu-smsd's RunOnReceive: take the SMS it received (from its environment) as inbound."""
    import os

    from gateway.sms.inbound import receive
    from gateway.sms.providers.gammu import inbound_from_environment

    try:
        sender, text = inbound_from_environment(os.environ)
    except ValueError as exc:
        raise click.ClickException(str(exc)) from None
    result = receive(get_db(), provider="gammu", sender=sender, body=text, to=to_number,
                     provider_message_id=(message_ids[0][:100] if message_ids else None), reply_by_sms=True,
                     config=current_app.config)
    click.echo(f"inbound {result.message.id} {result.intent or ''}".rstrip())


@sms_cli.command("gammu-status")
@click.argument("status", type=click.Choice(["sent", "failed"]))
@click.argument("message_id", required=False)
def gammu_status_command(status, message_id):
    """gammu-smsd's RunOnSent (`gammu-status sent`) and RunOnFailure (`gammu-status failed`)."""
    from gateway.sms.outbound import apply_status, find_by_reference
    from gateway.sms.providers.gammu import reference_of

    if not message_id or message_id == "INIT":
        click.echo("modem failure, no message")  # RunOnFailure for the phone itself
        return
    db = get_db()
    delivery = find_by_reference(db, reference_of(message_id))
    if delivery is None:
        click.echo(f"no delivery for {message_id}")
        return
    moved = apply_status(db, delivery, status, error_code="gammu_error" if status == "failed" else None)
    db.commit()
    click.echo(f"delivery {delivery.id} {delivery.status}" + ("" if moved else " (unchanged)"))


@senders_cli.command("coding")
@click.argument("commune")
@click.argument("coding", type=click.Choice(["gsm", "ucs2"]), required=False)
def senders_coding(commune, coding):
    """Show or choose how COMMUNE's SMS are written: gsm (no diacritics, 160 a part; the default)
    or ucs2 (Vietnamese with diacritics, 70 a part, for providers that carry it)."""
    from gateway.sms.senders import set_coding, unicode_chosen

    db = get_db()
    area = _commune(db, commune)
    if coding:
        set_coding(db, area, coding)
    chosen = "ucs2" if unicode_chosen(area) else "gsm"
    click.echo(f"{area.name}: {chosen} " + ("(có dấu, 70 ký tự một tin)" if chosen == "ucs2" else
                                           "(không dấu, 160 ký tự một tin)"))
