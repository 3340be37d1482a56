import datetime as dt

from gateway.announcements.current import current_announcements
from gateway.models import Announcement, Area, utcnow


def _area(db, name, parent=None, level="neighbourhood"):
    area = Area(name=name, code=name.lower().replace(" ", ""), level=level if parent else "commune",
                kind="khu_pho" if parent else "thi_tran", parent=parent)
    db.add(area)
    db.flush()
    return area


def test_current_for_area_includes_ancestors_orders_by_priority_and_skips_dead(app, db):
    commune = _area(db, "Tan Lap")
    kp1, kp2 = _area(db, "KP1", commune), _area(db, "KP2", commune)
    now = utcnow()

    def ann(title, areas, **kw):
        kw.setdefault("status", "sent")
        kw.setdefault("send_at", now - dt.timedelta(hours=1))
        kw.setdefault("expires_at", now + dt.timedelta(days=1))
        a = Announcement(title=title, body=title, areas=areas, **kw)
        db.add(a)
        return a

    whole = ann("whole commune", [commune], send_at=now - dt.timedelta(hours=3))
    mine = ann("kp1 newer", [kp1], send_at=now - dt.timedelta(minutes=5))
    urgent = ann("kp1 urgent older", [kp1], priority="urgent", send_at=now - dt.timedelta(hours=5))
    ann("other area", [kp2])
    ann("expired", [kp1], expires_at=now - dt.timedelta(minutes=1))
    ann("future", [kp1], send_at=now + dt.timedelta(hours=1))
    ann("cancelled", [kp1], status="cancelled")
    ann("still scheduled", [kp1], status="scheduled")
    sending = ann("sending now", [kp1], status="sending", send_at=now - dt.timedelta(minutes=1))
    db.flush()

    got = current_announcements(db, kp1, now=now)
    assert [a.title for a in got] == [urgent.title, sending.title, mine.title, whole.title]
    assert [a.title for a in current_announcements(db, kp1, now=now, limit=2)] == [urgent.title, sending.title]
    assert [a.title for a in current_announcements(db, kp2, now=now)] == ["other area", whole.title]
