"""Quiet hours and who an announcement reaches."""
import datetime as dt

import pytest
from sqlalchemy import select

from gateway.announcements.quiet import held_back, is_quiet, next_allowed, parse_span
from gateway.announcements.targeting import channels_for, recipients
from gateway.models import Announcement, Area, Resident, Subscription

VN = dt.timezone(dt.timedelta(hours=7))


def at(hour, minute=0, day=22):
    return dt.datetime(2026, 11, day, hour, minute, tzinfo=VN)


def commune(db):
    return db.scalar(select(Area).where(Area.parent_id.is_(None)))


@pytest.mark.parametrize("moment, quiet", [
    (at(20, 59), False), (at(21, 0), True), (at(23, 30), True), (at(0, 0), True), (at(6, 29), True),
    (at(6, 30), False), (at(12, 0), False),
])
def test_default_quiet_hours(db, demo, moment, quiet):
    assert is_quiet(commune(db), moment) is quiet


def test_next_allowed_is_the_end_of_the_night(db, demo):
    c = commune(db)
    assert next_allowed(c, at(22, 15)) == at(6, 30, day=23)
    assert next_allowed(c, at(2, 0)) == at(6, 30)
    assert next_allowed(c, at(9, 0)) == at(9, 0)


def test_commune_sets_its_own_hours_and_children_inherit(db, demo):
    c = commune(db)
    c.settings = {"quiet_hours": "22:00-05:00", "timezone": "Asia/Ho_Chi_Minh"}
    kp1 = db.scalar(select(Area).where(Area.code == "KP1"))
    assert is_quiet(kp1, at(21, 30)) is False and is_quiet(kp1, at(22, 30)) is True


@pytest.mark.parametrize("text", ["9pm-6am", "25:00-06:00", "", "21:00"])
def test_bad_quiet_hours_are_refused(text):
    with pytest.raises(ValueError, match="21:00-06:30|impossible"):
        parse_span(text)


@pytest.mark.parametrize("priority, channel, held", [
    ("normal", "sms", True), ("urgent", "sms", False), ("emergency", "sms", False),
    ("normal", "voice", True), ("urgent", "voice", True), ("emergency", "voice", False),
])
def test_what_quiet_hours_hold_back(priority, channel, held):
    assert held_back(priority, channel) is held


def announcement(db, codes, audiences=("everyone",), channels=("sms", "voice")):
    areas = [db.scalar(select(Area).where(Area.code == c, Area.level == "neighbourhood")) for c in codes]
    a = Announcement(title="t", body="b", areas=areas, audiences=list(audiences), channels=list(channels))
    db.add(a)
    db.flush()
    return a


def test_area_includes_its_teams_and_subscribers_once(db, demo):
    a = announcement(db, ["KP1"])
    kp1 = a.areas[0]
    home = {r.id for r in db.scalars(select(Resident).where(Resident.area_id.in_(kp1.descendant_ids(db))))}
    outsider = db.scalar(select(Resident).where(Resident.id.not_in(home)))
    db.add(Subscription(resident_id=outsider.id, area_id=kp1.id))
    insider = db.get(Resident, min(home))
    db.add(Subscription(resident_id=insider.id, area_id=kp1.children[0].id))  # subscribed to their own area too
    opted = db.get(Resident, max(home))
    opted.opted_out_at = dt.datetime.now(dt.timezone.utc)
    db.flush()
    got = [r.resident_id for r in recipients(db, a)]
    assert len(got) == len(set(got))
    assert set(got) == (home | {outsider.id}) - {opted.id}


def test_audiences_are_any_of(db, demo):
    hoods = [f"KP{i}" for i in range(1, 11)]
    a = announcement(db, hoods, audiences=["elderly", "poor"])
    ids = {r.resident_id for r in recipients(db, a)}
    for r in db.scalars(select(Resident).where(Resident.id.in_(ids))):
        assert r.is_elderly or r.is_poor
    everyone = {r.resident_id for r in recipients(db, announcement(db, hoods))}
    expected = {r.id for r in db.scalars(select(Resident).where(Resident.id.in_(everyone)))
                if r.is_elderly or r.is_poor}
    assert ids == expected and ids


@pytest.mark.parametrize("channels, sms, voice, call, expected", [
    (["sms", "voice"], True, False, False, ("sms",)),
    (["sms", "voice"], True, True, False, ("sms", "voice")),
    (["sms", "voice"], False, True, False, ("voice",)),
    (["sms"], False, True, False, ("sms",)),          # better an SMS than nothing
    (["voice"], True, False, False, ()),               # the hotline still has it
    (["sms", "voice"], False, False, False, ("sms",)),
    (["hotline", "group"], True, True, True, ()),
    (["sms", "voice"], True, False, True, ("sms", "voice")),   # elderly / no smartphone: a call too
    (["voice"], True, False, True, ("voice",)),
    (["sms"], True, False, True, ("sms",)),                    # no call unless calls were chosen
])
def test_channels_follow_preferences(channels, sms, voice, call, expected):
    a = Announcement(title="t", body="b", channels=channels)
    assert channels_for(a, prefers_sms=sms, prefers_voice=voice, call=call) == expected
