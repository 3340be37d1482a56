"""The per-area caches behind the TIN reply and the hotline entry (gateway.announcements.cache):
every change to what they hold shows at the next request, in this app and in another app on the
same database, and the webhooks make only the statements they need."""
import datetime as dt
import itertools
import time

import pytest
from sqlalchemy import event, select, update

from gateway.announcements.cache import current_version
from gateway.db import get_db
from gateway.demo import load_demo
from gateway.models import Announcement, Area, AudioAsset, Resident, utcnow
from gateway.sms.replies import hotline_text
from tests.ivr_helpers import signed_post
from tests.sms_helpers import twilio_post, twiml_messages

_sid = itertools.count(1)
A, B = "a" * 64, "b" * 64  # the content hashes of two renditions


def tin(app, phone):
    """The reply to `TIN` from `phone` through the real webhook."""
    resp = twilio_post(app.test_client(), "/sms/inbound",
                       {"From": phone, "To": "+14155550100", "Body": "TIN", "MessageSid": f"SM{next(_sid):032x}"})
    assert resp.status_code == 200
    return twiml_messages(resp)[0]


def call(app, phone):
    """The played URLs of the hotline's entry for a call from `phone`."""
    resp = signed_post(app.test_client(), "/ivr/inbound", {
        "CallSid": f"CA{next(_sid):032x}", "From": phone, "To": "+14155550100", "CallStatus": "ringing",
        "Direction": "inbound"})
    assert resp.status_code == 200
    return resp.get_data(as_text=True)


def ready_audio(db, name):
    """A rendered phone rendition (as the audio job leaves it); its URL holds `name` * 64."""
    asset = AudioAsset(kind="announcement", content_hash=name * 64, status="ready",
                       phone_path=f"{name}.wav", mp3_path=f"{name}.mp3")
    db.add(asset)
    db.flush()
    return asset


@pytest.fixture
def town(any_app):
    """The demo commune, one household of a neighbourhood, and that neighbourhood's commune."""
    with any_app.app_context():
        db = get_db()
        load_demo(db, households=30)
        resident = db.scalar(select(Resident).where(Resident.area_id.is_not(None)).order_by(Resident.id))
        commune = resident.area.commune()
        db.commit()
        return any_app, resident.phone, commune.id


def add(app, commune_id, title, **fields):
    with app.app_context():
        db = get_db()
        now = utcnow()
        values = {"status": "sent", "send_at": now - dt.timedelta(minutes=5), "expires_at": now + dt.timedelta(days=1)}
        values.update(fields)
        ann = Announcement(title=title, body=f"{title} noi dung", areas=[db.get(Area, commune_id)], **values)
        db.add(ann)
        db.commit()
        return ann.id


def change(app, announcement_id, **fields):
    with app.app_context():
        db = get_db()
        ann = db.get(Announcement, announcement_id)
        for name, value in fields.items():
            setattr(ann, name, value)
        db.commit()


def test_tin_follows_every_change_of_the_announcements(town):
    app, phone, commune_id = town
    assert tin(app, phone).startswith("Chua co thong bao moi")
    first = add(app, commune_id, "Tiem phong")
    assert "Tiem phong" in tin(app, phone)
    assert "Tiem phong" in tin(app, phone)  # a cache hit gives the same answer
    change(app, first, title="Tiem phong dai", body="Sang thu bay tiem phong dai")
    assert "Sang thu bay tiem phong dai" in tin(app, phone)
    change(app, first, status="cancelled")
    assert "Tiem phong" not in tin(app, phone)
    second = add(app, commune_id, "Hop dan")
    assert "Hop dan" in tin(app, phone)
    with app.app_context():  # a bulk UPDATE (as broadcast.service.cancel does) is seen too
        db = get_db()
        db.execute(update(Announcement).where(Announcement.id == second).values(status="cancelled"))
        db.commit()
    assert "Hop dan" not in tin(app, phone)


def test_tin_follows_the_clock(town):
    """Expiry and a send time that comes change nothing in the database: the entry's deadline does."""
    app, phone, commune_id = town
    now = utcnow()
    add(app, commune_id, "Cat dien", expires_at=now + dt.timedelta(seconds=2))
    add(app, commune_id, "Hop to", send_at=now + dt.timedelta(seconds=2))
    reply = tin(app, phone)
    assert "Cat dien" in reply and "Hop to" not in reply
    time.sleep(2.2)
    reply = tin(app, phone)
    assert "Cat dien" not in reply and "Hop to" in reply


def test_an_area_change_reaches_the_digest(town):
    app, phone, commune_id = town
    add(app, commune_id, "Tiem phong")
    assert hotline_text("+842633999888") not in tin(app, phone)
    with app.app_context():
        db = get_db()
        db.get(Area, commune_id).hotline_number = "+842633999888"
        db.commit()
    assert tin(app, phone).endswith(hotline_text("+842633999888"))


def test_two_apps_on_one_database_see_each_others_changes(town, make_app):
    app, phone, commune_id = town
    other = make_app(DATABASE_URL=app.config["DATABASE_URL"], REDIS_URL=app.config["REDIS_URL"])
    ann = add(app, commune_id, "Tiem phong")
    assert "Tiem phong" in tin(app, phone) and "Tiem phong" in tin(other, phone)
    change(other, ann, body="Doi sang chu nhat")
    assert "Doi sang chu nhat" in tin(app, phone)
    change(app, ann, status="cancelled")
    assert "Doi sang chu nhat" not in tin(other, phone)


def test_hotline_entry_follows_changes_in_both_apps(town, make_app):
    app, phone, commune_id = town
    other = make_app(DATABASE_URL=app.config["DATABASE_URL"], REDIS_URL=app.config["REDIS_URL"])
    with app.app_context():
        db = get_db()
        audio_a, audio_b = ready_audio(db, "a"), ready_audio(db, "b")
        db.commit()
        ids = audio_a.id, audio_b.id
    ann = add(app, commune_id, "Tiem phong", audio_id=ids[0])
    assert A in call(app, phone) and A in call(other, phone)
    change(other, ann, audio_id=ids[1])  # rendered again (another text): the other file
    assert B in call(app, phone) and A not in call(app, phone)
    change(app, ann, expires_at=utcnow() - dt.timedelta(seconds=1))
    assert B not in call(other, phone) and B not in call(app, phone)


def test_version_rises_only_when_a_watched_table_changes(town):
    app, phone, commune_id = town
    with app.app_context():
        db = get_db()
        before = current_version(db)
        db.get(Resident, db.scalar(select(Resident.id).where(Resident.phone == phone))).name = "Ba Tu"
        db.commit()
        assert current_version(db) == before  # a resident is looked up each time anyway
    add(app, commune_id, "Tiem phong")
    with app.app_context():
        assert current_version(get_db()) == before + 1


class Statements:
    """The SQL statements and commits an engine runs while active."""

    def __init__(self, engine):
        self.engine, self.sql, self.commits = engine, [], 0

    def __enter__(self):
        event.listen(self.engine, "before_cursor_execute", self._statement)
        event.listen(self.engine, "commit", self._commit)
        return self

    def __exit__(self, *exc):
        event.remove(self.engine, "before_cursor_execute", self._statement)
        event.remove(self.engine, "commit", self._commit)

    def _statement(self, _conn, _cursor, statement, *_args):
        self.sql.append(statement.split()[0].upper())

    def _commit(self, _conn):
        self.commits += 1


def test_tin_is_one_transaction_of_three_statements(town):
    app, phone, commune_id = town
    add(app, commune_id, "Tiem phong")
    tin(app, phone)  # the area's digest is built and kept
    with Statements(app.extensions["gateway.engine"]) as seen:
        assert "Tiem phong" in tin(app, phone)
    # (redelivery?, recent count, version) · the resident with its area · the message with its reply
    assert seen.sql == ["SELECT", "SELECT", "INSERT"] and seen.commits == 1


def test_hotline_entry_is_one_statement_from_the_cache(town):
    app, phone, commune_id = town
    with app.app_context():
        db = get_db()
        audio = ready_audio(db, "a")
        db.commit()
        audio_id = audio.id
    add(app, commune_id, "Tiem phong", audio_id=audio_id)
    call(app, phone)  # (unrendered prompts are queued: that changes the audio, so the entry is built again)
    call(app, phone)
    with Statements(app.extensions["gateway.engine"]) as seen:
        assert A in call(app, phone)
    assert seen.sql == ["SELECT"] and seen.commits == 0
