"""Shared set-up for the broadcast tests: the demo commune, an announcement, what was sent."""
import datetime as dt
from collections import Counter
from zoneinfo import ZoneInfo

from sqlalchemy import func, select

from gateway.broadcast import service
from gateway.announcements.targeting import recipients
from gateway.models import Area, Delivery, Official, OutboxMessage

VN = ZoneInfo("Asia/Ho_Chi_Minh")


def commune(db):
    return db.scalar(select(Area).where(Area.parent_id.is_(None)))


def set_quiet(db, *, quiet_now):
    """Quiet hours that cover now (quiet_now) or never apply, whatever the clock says."""
    c = commune(db)
    if quiet_now:
        local = dt.datetime.now(VN)
        start, end = local - dt.timedelta(hours=1), local + dt.timedelta(hours=2)
        span = f"{start:%H:%M}-{end:%H:%M}"
    else:
        span = "00:00-00:00"  # start == end: never quiet
    c.settings = {**(c.settings or {}), "quiet_hours": span}
    db.commit()
    return span


def announce(db, *, codes=("KP1", "KP2"), login="admin", **kw):
    """An announcement created through the service (as the API and CLI do), committed."""
    official = db.scalar(select(Official).where(Official.login == login))
    kw.setdefault("title", "Tiêm phòng dại cho chó mèo")
    kw.setdefault("body", "Sáng 14/8 tiêm phòng dại miễn phí tại nhà văn hóa khu phố, lúc 8h30.")
    kw.setdefault("channels", ["sms"])
    a = service.create(db, official=official, areas=service.resolve_areas(db, list(codes)), **kw)
    db.commit()
    return a


def targeted_phones(db, announcement, channel="sms"):
    return {r.phone for r in recipients(db, announcement) if channel in r.channels}


def sms_sent_per_phone(db):
    """How many SMS the provider (the outbox) got for each phone."""
    return Counter(dict(db.execute(select(OutboxMessage.recipient, func.count())
                                   .where(OutboxMessage.channel == "sms").group_by(OutboxMessage.recipient)).all()))


def deliveries(db, announcement, channel=None):
    query = select(Delivery).where(Delivery.announcement_id == announcement.id).order_by(Delivery.id)
    if channel:
        query = query.where(Delivery.channel == channel)
    return list(db.scalars(query))


def children(pid):
    """Every process below `pid` (from /proc)."""
    found, todo = [], [pid]
    while todo:
        parent = todo.pop()
        try:
            with open(f"/proc/{parent}/task/{parent}/children") as f:
                kids = [int(k) for k in f.read().split()]
        except FileNotFoundError:
            continue
        found += kids
        todo += kids
    return found
