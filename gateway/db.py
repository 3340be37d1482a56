"""Database engine and sessions: one engine per app, one session per app context."""
import os

import click
from flask.cli import AppGroup
from flask import current_app, g
from sqlalchemy import create_engine, event, text
from sqlalchemy.orm import sessionmaker

MIGRATIONS_DIR = os.path.join(os.path.dirname(os.path.dirname(__file__)), "migrations")


def make_engine(url):
    """An engine for `url`; SQLite gets WAL, foreign keys and a busy timeout."""
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"timeout": 30, "check_same_thread": False})

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_conn, _record):
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.close()

        return engine
    return create_engine(url, pool_pre_ping=True)


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
    app.extensions["gateway.sessionmaker"] = sessionmaker(bind=engine, expire_on_commit=False)
    app.teardown_appcontext(close_db)
    app.cli.add_command(db_cli)
