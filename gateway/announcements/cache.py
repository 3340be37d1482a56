"""Per-area answers the webhooks give again and again (the SMS digest, the hotline's entry), kept
in each web process and checked against one number in the database.

Every transaction that changes an announcement, its areas or audio, an area, an audio asset or a poll
raises `policy_versions.value` as its last statement before it commits (so the row is the last
lock it takes and two such transactions cannot deadlock on it). A webhook reads the number in a
query it makes anyway (`version_column()`); an entry made under another number is not used, so
every gunicorn worker and every machine sees a change at its next request. Time changes what is
current too (an announcement expires, a scheduled one starts): each entry also carries the
moment it stops being true, and none lives longer than MAX_AGE.
"""
import datetime as dt
import functools
import threading

from flask import current_app
from sqlalchemy import event, func, select
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from gateway.models import PolicyVersion

NAME = "announcements"
WATCHED = frozenset({"announcements", "announcement_areas", "areas", "audio_assets", "polls", "poll_areas"})
MAX_AGE = dt.timedelta(minutes=5)  # a bound for changes made outside the ORM (a hand-run SQL fix)
MAX_ENTRIES = 20_000
_CHANGED = "gateway.policy_changed"
_INSERTS = {"postgresql": postgresql_insert, "sqlite": sqlite_insert}


@functools.cache
def version_column():
    """A scalar subquery of the current version, to add to a query the caller makes anyway (built
    once: statements are immutable, and building one costs more than running it)."""
    return func.coalesce(select(PolicyVersion.value).where(PolicyVersion.name == NAME).scalar_subquery(), 0)


def current_version(session):
    """The version now (one statement)."""
    return session.scalar(select(version_column()))


class AreaCache:
    """Values per key, each valid under one version and until its deadline (thread-safe)."""

    def __init__(self):
        self._entries = {}
        self._lock = threading.Lock()

    def get(self, key, version, now):
        """The value stored for `key` under `version` and still valid at `now`, else None."""
        entry = self._entries.get(key)
        if entry is None or version is None or entry[0] != version or now >= entry[1]:
            return None
        return entry[2]

    def put(self, key, version, value, *, now, until=None):
        """Keep `value` for `key` under `version` until `until` (at most MAX_AGE from `now`)."""
        if version is None:
            return
        deadline = min(until, now + MAX_AGE) if until is not None else now + MAX_AGE
        with self._lock:
            if len(self._entries) >= MAX_ENTRIES:
                self._entries.clear()
            self._entries[key] = (version, deadline, value)

    def clear(self):
        with self._lock:
            self._entries.clear()


def area_cache():
    """The current app's cache (one per app: two apps on two databases never share entries)."""
    return current_app.extensions["gateway.area_cache"]


def _touches(objects):
    return any(getattr(obj, "__tablename__", None) in WATCHED for obj in objects)


def _after_flush(session, _context):
    if _touches(session.new) or _touches(session.dirty) or _touches(session.deleted):
        session.info[_CHANGED] = True


def _after_execute(state):
    # Bulk statements (session.execute(insert(announcement_areas)…)) skip the flush.
    if state.is_insert or state.is_update or state.is_delete:
        table = getattr(state.statement, "table", None)
        if getattr(table, "name", None) in WATCHED:
            state.session.info[_CHANGED] = True


def _before_commit(session):
    session.flush()  # what is still pending is written first: the version row is the last lock taken
    if session.info.pop(_CHANGED, False):
        connection = session.connection()
        insert = _INSERTS[connection.dialect.name]  # an upsert: the row may be missing (a truncated table)
        connection.execute(insert(PolicyVersion).values(name=NAME, value=1).on_conflict_do_update(
            index_elements=[PolicyVersion.name], set_={"value": PolicyVersion.value + 1}))


def _forget(session, _previous=None):
    session.info.pop(_CHANGED, None)


def init_app(app):
    """The app's cache, and the version raised by the app's sessions."""
    app.extensions["gateway.area_cache"] = AreaCache()
    maker = app.extensions["gateway.sessionmaker"]
    event.listen(maker, "after_flush", _after_flush)
    event.listen(maker, "do_orm_execute", _after_execute)
    event.listen(maker, "before_commit", _before_commit)
    event.listen(maker, "after_soft_rollback", _forget)
