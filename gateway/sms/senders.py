"""A commune's pool of SMS senders (Android phones or their SIMs, Kannel SMSCs, accounts): which
one sends a delivery, within each sender's limits per minute, hour and day, and its health.

    choose(session, delivery, config) -> Choice   (a provider ready to send, or a time to wait until)
    after_send(session, sender, delivery, outcome) (errors in a row take a sender out)
    take_out / check_sender                        (health; a sender's pending messages move on)

Limits live in Redis, shared by every worker: the minute limit spaces sends evenly (one every
60/per_minute seconds, the GCRA schedule of gateway.sms.ratelimit), the hour and day
limits count sends per clock hour and per Vietnamese calendar day. The day count starts from
the database when Redis has none (a flushed Redis does not reset a SIM's daily cap).

A commune without senders sends through the configured SMS_PROVIDER, as before pools existed.
A resident's replies and report threads go from the number they texted (sticky), while it is
usable. A delivery whose last try on a sender timed out may have reached it, so it stays on that
sender (whose provider refuses a repeated reference) and is never handed to another one.
"""
import datetime as dt
import logging
import time
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from redis.exceptions import WatchError
from sqlalchemy import func, select, update

from gateway import queue
from gateway.models import Area, Delivery, InboundMessage, Report, Resident, Sender, utcnow
from gateway.sms.providers import SMS_PROVIDERS, get_provider

log = logging.getLogger(__name__)
LOCAL = ZoneInfo("Asia/Ho_Chi_Minh")
KEY = "gateway:sender:{}:{}"
MAX_WAIT = 5.0  # seconds a send may wait for its sender's next slot; longer, the delivery is held
JOB_TIME_SHARE = 0.7  # a job waits for slots only within this share of its RQ timeout
ERRORS_IN_A_ROW = 3  # transient errors in a row that take a sender out
COOL_OFF = dt.timedelta(minutes=10)  # a sender taken out is tried again after this
HEALTH_EVERY = dt.timedelta(minutes=5)  # an Android phone in use has its /health read this often
NO_SENDER_WAIT = dt.timedelta(minutes=5)  # every sender of the commune is out: look again then
UNCERTAIN = "timeout"  # TransportError code when the request may have reached the provider


@dataclass
class Choice:
    """Where a delivery goes: `provider` (with `sender`, None for the configured provider), or
    `hold_until` when every usable sender is at its limit; `unicode` keeps diacritics (UCS-2)."""

    provider: object = None
    sender: Sender | None = None
    hold_until: dt.datetime | None = None
    unicode: bool = False
    reason: str = ""


# --- which sender -------------------------------------------------------------------------

def commune_of(session, delivery):
    """The commune a delivery belongs to: its area's, else its report's, else its resident's."""
    area = session.get(Area, delivery.area_id) if delivery.area_id else None
    if area is None and delivery.report_id:
        report = session.get(Report, delivery.report_id)
        area = session.get(Area, report.commune_id) if report is not None else None
    if area is None and delivery.resident_id:
        resident = session.get(Resident, delivery.resident_id)
        area = resident.area if resident is not None else None
    return area.commune() if area is not None else None


def texted_number(session, delivery):
    """The number the resident texted, for a reply or a report thread; None for announcements."""
    if delivery.announcement_id is not None or not delivery.phone:
        return None
    query = select(InboundMessage.to_number).where(InboundMessage.phone == delivery.phone,
                                                   InboundMessage.to_number.is_not(None))
    key = delivery.idempotency_key or ""
    if key.startswith("sms:in:") and key.split(":")[2].isdigit():
        query = query.where(InboundMessage.id == int(key.split(":")[2]))
    elif delivery.report_id:
        query = query.where(InboundMessage.report_id == delivery.report_id)
    return session.scalar(query.order_by(InboundMessage.id.desc()).limit(1))


def same_number(a, b):
    """True when two ways of writing a number are the same number ("+84912…", "0912…", "84912…")."""
    if not a or not b:
        return False
    def national_digits(text):
        digits = "".join(c for c in text if c.isdigit())
        return digits[2:] if digits.startswith("84") and len(digits) > 9 else digits.lstrip("0") or digits

    x, y = national_digits(a), national_digits(b)
    return x == y and (len(x) >= 8 or a.strip() == b.strip())


def unicode_chosen(commune):
    """True when the commune chose to send with diacritics (UCS-2; `sms_coding: ucs2` in its settings)."""
    return commune is not None and str(commune.inherited("sms_coding") or "").lower() in ("ucs2", "ucs-2", "unicode")


def set_coding(session, commune, coding):
    """Choose how a commune's SMS are written: "gsm" (no diacritics) or "ucs2" (with them)."""
    if coding not in ("gsm", "ucs2"):
        raise ValueError("Chọn gsm (không dấu) hoặc ucs2 (có dấu).")
    commune.settings = {**(commune.settings or {}), "sms_coding": coding}
    session.commit()


def provider_for(config, sender):
    """The provider object of `sender`: its registry name, with its own options over the app's settings."""
    options = dict(sender.options or {})
    if sender.sim_number:
        options["SMS_ANDROID_SIM"] = sender.sim_number
    if sender.smsc_id:
        options["KANNEL_SMSC"] = sender.smsc_id
    if sender.number:
        options["KANNEL_FROM"] = options.get("KANNEL_FROM") or sender.number
    return get_provider({**config, **options}, sender.provider)


def usable(sender):
    return sender.enabled and sender.health == "ok"


def choose(session, delivery, config, *, connection=None, now=None, sleep=time.sleep):
    """The provider (and sender) to send `delivery` through now, or a time to hold it until.

    Raises TransportError (permanent) when the configured provider cannot be built."""
    connection = connection or queue.get_connection()
    commune = commune_of(session, delivery)
    number = texted_number(session, delivery)
    sticky = None
    if number:
        query = select(Sender).where(Sender.enabled.is_(True), Sender.number.is_not(None))
        if commune is not None:
            query = query.where(Sender.commune_id == commune.id)
        sticky = next((s for s in session.scalars(query) if same_number(s.number, number)), None)
        if commune is None and sticky is not None:
            commune = sticky.commune
    pool = [] if commune is None else list(session.scalars(
        select(Sender).where(Sender.commune_id == commune.id, Sender.enabled.is_(True)).order_by(Sender.id)))
    wide = unicode_chosen(commune)
    if not pool:
        return Choice(provider=get_provider(config), unicode=wide)
    pinned = session.get(Sender, delivery.sender_id) if (delivery.sender_id and delivery.error_code == UNCERTAIN) \
        else None
    if pinned is not None:
        # It may have reached this sender: only this sender may try again (it refuses a repeat).
        if not usable(pinned):
            return Choice(hold_until=(now or utcnow()) + NO_SENDER_WAIT, reason=f"waiting for sender {pinned.id}")
        order = [pinned]
    else:
        order = _by_free_slot(connection, [s for s in pool if usable(s)])
        if sticky is not None and usable(sticky):
            order = [sticky] + [s for s in order if s.id != sticky.id]
    if not order:
        return Choice(hold_until=(now or utcnow()) + NO_SENDER_WAIT, reason="every sender is out")
    earliest = None
    max_wait = _wait_allowed()
    for sender in order:
        wait = reserve(connection, session, sender, max_wait=max_wait)
        if isinstance(wait, dt.datetime):
            earliest = wait if earliest is None else min(earliest, wait)
            if sender is sticky and wait - utcnow() <= dt.timedelta(hours=1):
                return Choice(hold_until=wait, reason=f"sender {sender.id} (the number texted) is busy")
            continue
        if wait > 0:
            sleep(wait)
        _maybe_check_health(connection, sender)
        return Choice(provider=provider_for(config, sender), sender=sender, unicode=wide)
    return Choice(hold_until=earliest, reason="every sender is at its limit")


def _by_free_slot(connection, senders):
    """Senders with the soonest free slot first; among equals, the least used today for what it
    can send in a day (an unlimited sender counts as a very large one)."""
    if len(senders) < 2:
        return senders
    now = time.time()
    keys = []
    for s in senders:
        keys += [KEY.format(s.id, "tat"), _day_key(s.id)]
    values = connection.mget(keys)

    def rank(pair):
        index, sender = pair
        tat, day = values[2 * index], values[2 * index + 1]
        wait = max(0.0, float(tat or 0) - now)
        return (round(wait / 0.05), int(day or 0) / daily_capacity(sender), index)

    return [s for _, s in sorted(enumerate(senders), key=rank)]


def daily_capacity(sender):
    """The most `sender` can send in a day under its limits (a large number when it has none)."""
    limits = [n for n in (sender.per_day, (sender.per_hour or 0) * 24, (sender.per_minute or 0) * 1440) if n]
    return min(limits) if limits else 1_000_000


# --- limits -------------------------------------------------------------------------------

def _local_now():
    return dt.datetime.now(LOCAL)


def _day_key(sender_id, moment=None):
    return KEY.format(sender_id, "d:" + (moment or _local_now()).strftime("%Y%m%d"))


def _hour_key(sender_id, moment=None):
    return KEY.format(sender_id, "h:" + (moment or _local_now()).strftime("%Y%m%d%H"))


def sent_today(session, sender_id):
    """SMS this sender has sent since local midnight, from the database."""
    midnight = _local_now().replace(hour=0, minute=0, second=0, microsecond=0).astimezone(dt.timezone.utc)
    return session.scalar(select(func.count()).select_from(Delivery).where(
        Delivery.sender_id == sender_id, Delivery.sent_at >= midnight)) or 0


def _wait_allowed():
    """Seconds a send may wait for a slot now: MAX_WAIT, less inside an RQ job near its timeout
    (a broadcast chunk sends hundreds of SMS in one job; killed mid-send, it would leave one stuck)."""
    from rq import get_current_job

    job = get_current_job()
    if job is None or not job.timeout or job.started_at is None:
        return MAX_WAIT
    started = job.started_at if job.started_at.tzinfo else job.started_at.replace(tzinfo=dt.timezone.utc)
    left = float(job.timeout) * JOB_TIME_SHARE - (utcnow() - started).total_seconds()
    return max(0.0, min(MAX_WAIT, left))


def reserve(connection, session, sender, *, max_wait=MAX_WAIT):
    """Take `sender`'s next send slot: seconds to wait for it (at most `max_wait`), or the time
    (aware UTC) its limits allow a send again, when that is later."""
    local = _local_now()
    tat_key, hour_key, day_key = KEY.format(sender.id, "tat"), _hour_key(sender.id, local), _day_key(sender.id, local)
    if sender.per_day and not connection.exists(day_key):
        connection.set(day_key, sent_today(session, sender.id), nx=True, ex=2 * 86400)
    with connection.pipeline() as pipe:
        while True:
            try:
                pipe.watch(tat_key, hour_key, day_key)
                seconds, micros = pipe.time()
                now = seconds + micros / 1e6
                tat, in_hour, in_day = pipe.get(tat_key), pipe.get(hour_key), pipe.get(day_key)
                if sender.per_day and int(in_day or 0) >= sender.per_day:
                    pipe.unwatch()
                    midnight = (local + dt.timedelta(days=1)).replace(hour=0, minute=0, second=0, microsecond=0)
                    return midnight.astimezone(dt.timezone.utc)
                if sender.per_hour and int(in_hour or 0) >= sender.per_hour:
                    pipe.unwatch()
                    return (local + dt.timedelta(hours=1)).replace(minute=0, second=0, microsecond=0) \
                        .astimezone(dt.timezone.utc)
                slot = max(float(tat or 0), now)
                wait = slot - now
                if wait > max_wait:
                    pipe.unwatch()
                    return utcnow() + dt.timedelta(seconds=wait)
                pipe.multi()
                if sender.per_minute:
                    interval = 60.0 / sender.per_minute
                    pipe.set(tat_key, repr(slot + interval), px=int((wait + interval) * 1000) + 1000)
                pipe.incr(hour_key)
                pipe.expire(hour_key, 2 * 3600)
                pipe.incr(day_key)
                pipe.expire(day_key, 2 * 86400)
                pipe.execute()
                return wait
            except WatchError:
                continue  # another worker took a slot meanwhile; look again


def usage(connection, session, sender):
    """Today's and this hour's sends of `sender`: {"day": n, "hour": n} (day from the database)."""
    hour = connection.get(_hour_key(sender.id))
    return {"day": sent_today(session, sender.id), "hour": int(hour or 0)}


# --- health -------------------------------------------------------------------------------

def after_send(session, sender, delivery, outcome):
    """Count a send's outcome against its sender: errors in a row take it out; success resets."""
    if sender is None:
        return
    if outcome in ("sent", "queued"):
        if sender.errors_in_a_row:
            session.execute(update(Sender).where(Sender.id == sender.id).values(errors_in_a_row=0))
            session.commit()
        return
    if outcome != "retry":
        return  # skipped, or refused for this message only (a bad number): not the sender's fault
    session.execute(update(Sender).where(Sender.id == sender.id)
                    .values(errors_in_a_row=Sender.errors_in_a_row + 1))
    session.commit()
    session.refresh(sender)
    if sender.errors_in_a_row >= ERRORS_IN_A_ROW and sender.health == "ok":
        take_out(session, sender, "failing", f"{sender.errors_in_a_row} errors in a row: {delivery.last_error or ''}")


def take_out(session, sender, health, reason):
    """Stop sending through `sender`; its pending messages go to the commune's other senders now
    (except those that may have reached it), and it is looked at again after COOL_OFF."""
    sender.health, sender.health_reason, sender.health_checked_at = health, reason[:300], utcnow()
    moved = release_pending(session, sender)
    queue.enqueue_on_commit(session, "gateway.sms.jobs.check_sender", sender.id, queue="default",
                            at=utcnow() + COOL_OFF)
    session.commit()
    log.warning("sender taken out sender=%s commune=%s health=%s moved=%s reason=%s", sender.id, sender.commune_id,
                health, moved, reason[:120])
    return moved


def refused_for_limit(session, delivery, reason):
    """A phone of the pool reported that it did not send `delivery` because its SIM hit a carrier
    or Android limit (RESULT_ERROR_LIMIT_EXCEEDED): the phone is taken out for its cool-off and
    the message, which did not go, is sent again through another sender. True when it was."""
    if delivery.sender_id is None or delivery.channel != "sms" or "limit" not in str(reason or "").lower():
        return False
    sender = session.get(Sender, delivery.sender_id)
    delivery.status, delivery.provider_id, delivery.sender_id = "pending", None, None
    delivery.error_code, delivery.last_error, delivery.next_attempt_at = "sender_limit", str(reason)[:1000], None
    queue.enqueue_on_commit(session, "gateway.sms.jobs.send_delivery", delivery.id, queue="high",
                            job_id=f"sms-{delivery.id}-limit-{sender.id}")
    if sender.health == "ok":
        take_out(session, sender, "failing", f"SIM limit reached: {reason}")
    else:
        session.commit()
    return True


def disable(session, sender):
    """An official's decision: no more SMS through `sender`; its pending messages move on."""
    sender.enabled = False
    moved = release_pending(session, sender)
    session.commit()
    log.info("sender disabled sender=%s moved=%s", sender.id, moved)
    return moved


def enable(session, sender):
    """Send through `sender` again, its health reset (its next errors or probe decide)."""
    sender.enabled, sender.health, sender.health_reason, sender.errors_in_a_row = True, "ok", None, 0
    session.commit()


def release_pending(session, sender):
    """Pending deliveries waiting for a retry on `sender` are sent again now, through whichever
    sender `choose` picks; those whose last try timed out stay (it may have reached this one).
    Not committed; returns how many moved."""
    moved = list(session.scalars(select(Delivery.id).where(
        Delivery.sender_id == sender.id, Delivery.status == "pending", Delivery.channel == "sms",
        (Delivery.error_code.is_(None)) | (Delivery.error_code != UNCERTAIN))))
    if moved:
        session.execute(update(Delivery).where(Delivery.id.in_(moved))
                        .values(sender_id=None, next_attempt_at=None, updated_at=utcnow()))
    for delivery_id in moved:
        # A new job id: the delivery's scheduled retry (on the old sender) finds it sent and stops.
        queue.enqueue_on_commit(session, "gateway.sms.jobs.send_delivery", delivery_id, queue="high",
                                job_id=f"sms-{delivery_id}-moved-{sender.id}-{int(time.time())}")
    return len(moved)


def _maybe_check_health(connection, sender):
    """Queue a look at an Android phone's /health at most once every HEALTH_EVERY, across workers."""
    if sender.provider != "android":
        return
    if connection.set(KEY.format(sender.id, "health-due"), 1, nx=True, ex=int(HEALTH_EVERY.total_seconds())):
        queue.enqueue("gateway.sms.jobs.check_sender", sender.id, queue="default")


def probe(config, sender):
    """(healthy, reason) from the sender itself: an Android phone's /health; others have no probe
    and count as healthy (their errors take them out)."""
    provider = provider_for(config, sender)
    check = getattr(provider, "health", None)
    if check is None:
        return True, ""
    return check()


def check_sender(session, config, sender):
    """Look at one sender now: take it out when its probe fails; bring it back when it passes
    (a sender taken out for errors comes back after COOL_OFF, on probation)."""
    healthy, reason = probe(config, sender)
    now = utcnow()
    if not healthy:
        if sender.health == "ok":
            take_out(session, sender, "down", reason)
        else:
            sender.health_reason, sender.health_checked_at = reason[:300], now
            queue.enqueue_on_commit(session, "gateway.sms.jobs.check_sender", sender.id, queue="default",
                                    at=now + COOL_OFF)
            session.commit()
        return False
    if sender.health == "failing" and sender.health_checked_at is not None \
            and now - sender.health_checked_at < COOL_OFF:
        return False  # its errors took it out, whatever its probe says: it waits out the cool-off
    if sender.health != "ok":
        log.info("sender back sender=%s was=%s", sender.id, sender.health)
        # On probation: one more error takes it out again.
        sender.errors_in_a_row = ERRORS_IN_A_ROW - 1 if sender.health == "failing" else 0
    sender.health, sender.health_reason, sender.health_checked_at = "ok", reason[:300] or None, now
    session.commit()
    return True


# --- adding and checking ------------------------------------------------------------------

def validate(session, *, commune, name, provider, number=None, sim_number=None, smsc_id=None, options=None,
             per_minute=None, per_hour=None, per_day=None, config=None):
    """The fields of a new or edited sender, checked; ValueError with a reason officials can act on."""
    from gateway.config import NAMES
    from gateway.phone import PhoneError, normalize

    if commune is None or commune.level != "commune":
        raise ValueError("Người gửi phải thuộc một xã/phường.")
    if not (name or "").strip():
        raise ValueError("Cần đặt tên cho người gửi (ví dụ: Điện thoại 1, SIM 2).")
    if provider not in SMS_PROVIDERS.names():
        raise ValueError(f"Nhà cung cấp '{provider}' không có; chọn một trong: {', '.join(SMS_PROVIDERS.names())}.")
    clean_number = None
    if number:
        number = number.strip()
        if number.isdigit() and len(number) <= 6:
            clean_number = number  # a short code
        else:
            try:
                clean_number = normalize(number)
            except PhoneError as exc:
                raise ValueError(f"Số gửi '{number}' không đúng: {exc}") from None
    if sim_number is not None and sim_number not in (1, 2, 3):
        raise ValueError("Khe SIM phải là 1, 2 hoặc 3.")
    for label, value in (("phút", per_minute), ("giờ", per_hour), ("ngày", per_day)):
        if value is not None and (not isinstance(value, int) or value < 1):
            raise ValueError(f"Giới hạn mỗi {label} phải là số nguyên từ 1 trở lên.")
    limits = dict(per_minute=per_minute, per_hour=per_hour, per_day=per_day)
    options = dict(options or {})
    unknown = [k for k in options if k not in NAMES]
    if unknown:
        raise ValueError(f"Tùy chọn không có: {', '.join(unknown)} (tên cài đặt như SMS_ANDROID_URL).")
    fields = dict(commune_id=commune.id, name=name.strip()[:80], provider=provider, number=clean_number,
                  sim_number=sim_number, smsc_id=(smsc_id or None), options=options, **limits)
    cls = SMS_PROVIDERS.get(provider)
    # What the provider needs, from the sender's own options or else the install's settings.
    missing = [k for k in cls.required_settings if not options.get(k) and not (config or {}).get(k)]
    if missing:
        raise ValueError(f"Người gửi '{provider}' cần: {', '.join(missing)} (--option {missing[0]}=… "
                         "hoặc trong cấu hình).")
    return fields
