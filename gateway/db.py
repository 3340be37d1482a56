"""Database engine and sessions: one engine per app, one session per app context."""
import hashlib
import os

import click
from flask.cli import AppGroup
from flask import current_app, g
from sqlalchemy import String, UniqueConstraint, create_engine, event, inspect, text
from sqlalchemy.orm import sessionmaker

from gateway.text import storable

MIGRATIONS_DIR = os.path.join(os.path.dirname(os.path.dirname(__file__)), "migrations")


def make_engine(url):
    """An engine for `url`; SQLite gets WAL, foreign keys and a busy timeout.

    Errors never log parameters (they hold phone numbers and residents' words), and every string
    parameter is made storable (see `storable_rows`), so both databases take the same input."""
    engine = _make_engine(url)
    event.listen(engine, "before_cursor_execute", _storable_parameters, retval=True)
    event.listen(engine, "handle_error", _without_row_data)
    return engine


def _without_row_data(context):
    # PostgreSQL's DETAIL repeats the row or key ("Failing row contains (…, +8491…, <the message>)",
    # "Key (phone)=(+8491…) already exists"): drop it from both exceptions before anyone logs them.
    for exc in (context.original_exception, context.sqlalchemy_exception):
        if exc is not None and exc.args and isinstance(exc.args[0], str) and "\nDETAIL:" in exc.args[0]:
            exc.args = (exc.args[0].split("\nDETAIL:", 1)[0],) + exc.args[1:]


def _make_engine(url):
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"timeout": 30, "check_same_thread": False}, hide_parameters=True)

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_conn, _record):
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.close()

        return engine
    return create_engine(url, pool_pre_ping=True, hide_parameters=True)


def _storable_parameters(_conn, _cursor, statement, parameters, _context, _executemany):
    # PostgreSQL refuses NUL in text and both drivers refuse lone surrogates, in a WHERE as in an
    # INSERT: a query for a message id holding NUL must find nothing, not fail.
    # By shape, not by `executemany`: SQLAlchemy's batched INSERT passes one mapping with it set.
    if isinstance(parameters, list) and parameters and isinstance(parameters[0], (dict, list, tuple)):
        return statement, [_storable_values(p) for p in parameters]
    return statement, _storable_values(parameters)


def _storable_values(parameters):
    if isinstance(parameters, dict):
        return {k: storable(v)[0] for k, v in parameters.items()}
    if isinstance(parameters, (list, tuple)):
        return type(parameters)(storable(v)[0] for v in parameters)
    return parameters


def storable_rows(session, _context=None, _instances=None):
    """Before a flush: NUL and lone surrogates in string columns become U+FFFD and strings are cut to
    their column's length, flagging the row's `sanitized` column where it has one (the same on
    SQLite, which would keep them, and PostgreSQL, which would refuse them). A unique value (an
    idempotency key, a provider's message id) is cut with a digest of the whole, so two long
    values sharing a beginning stay two rows and the same long value is still one."""
    for obj in list(session.new) + list(session.dirty):
        state = inspect(obj)
        changed = False
        for attr in state.mapper.column_attrs:
            value = getattr(obj, attr.key, None) if attr.key in state.dict else None
            if not isinstance(value, str) or (state.persistent and not state.attrs[attr.key].history.added):
                continue
            clean, replaced = storable(value)
            length = getattr(attr.columns[0].type, "length", None) if isinstance(attr.columns[0].type, String) else None
            if length and len(clean) > length:
                clean, replaced = _shorten(clean, length, _unique(attr.columns[0])), True
            if replaced:
                setattr(obj, attr.key, clean)
                changed = True
        if changed and "sanitized" in state.mapper.column_attrs:
            obj.sanitized = True


def _unique(column):
    return column.unique or any(isinstance(c, UniqueConstraint) and column in c.columns.values()
                                for c in column.table.constraints)


def _shorten(text, length, unique):
    if not unique or length < 24:
        return text[:length]
    digest = hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]
    return text[:length - 17] + "~" + digest


def get_db():
    """The session of the current app context, opened on first use."""
    if "db" not in g:
        g.db = current_app.extensions["gateway.sessionmaker"]()
    return g.db


def close_db(_exc=None):
    db = g.pop("db", None)
    if db is not None:
        db.close()


def get_engine(app=None):
    """The app's engine."""
    return (app or current_app).extensions["gateway.engine"]


def alembic_config(url):
    """An Alembic configuration for `url`, with the project's migrations."""
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", MIGRATIONS_DIR)
    cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return cfg


def upgrade(url, revision="head"):
    """Run the migrations on `url` up to `revision`."""
    from alembic import command

    command.upgrade(alembic_config(url), revision)


def ping(app=None):
    """True when the database answers a trivial query."""
    with get_engine(app).connect() as conn:
        conn.execute(text("SELECT 1"))
    return True


db_cli = AppGroup("db", help="Create or upgrade the database.")


@db_cli.command("upgrade")
@click.option("--revision", default="head", show_default=True)
def upgrade_command(revision):
    """Create the database, or bring it up to date (safe to run again)."""
    url = current_app.config["DATABASE_URL"]
    if url.startswith("sqlite:///"):
        os.makedirs(os.path.dirname(url[len("sqlite:///"):]) or ".", exist_ok=True)
    upgrade(url, revision)
    click.echo(f"Database is at revision {revision}.")


@db_cli.command("current")
def current_command():
    """Show the database's migration revision."""
    from alembic.runtime.migration import MigrationContext

    with get_engine().connect() as conn:
        click.echo(MigrationContext.configure(conn).get_current_revision() or "(empty)")


def init_app(app):
    url = app.config["DATABASE_URL"]
    if url.startswith("sqlite:///"):
        os.makedirs(os.path.dirname(url[len("sqlite:///"):]) or ".", exist_ok=True)
    engine = make_engine(url)
    app.extensions["gateway.engine"] = engine
    maker = sessionmaker(bind=engine, expire_on_commit=False)
    event.listen(maker, "before_flush", storable_rows)
    app.extensions["gateway.sessionmaker"] = maker
    app.teardown_appcontext(close_db)
    app.cli.add_command(db_cli)
