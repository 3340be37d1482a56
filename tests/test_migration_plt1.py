"""plt1 moves the officials' per-platform id columns into official_accounts and back, data included."""
from alembic import command
from sqlalchemy import create_engine, inspect, text

from gateway.db import alembic_config
from tests.test_migrations import empty_url  # noqa: F401  (fixture: an empty SQLite or PostgreSQL database)


OFFICIALS = [  # login, telegram_user_id, zalo_user_id
    ("both", "111", "z-111"), ("telegram-only", "222", None), ("zalo-only", None, "z-333"), ("none", None, None),
]


def test_accounts_are_copied_over_and_back(empty_url):
    url = empty_url
    command.upgrade(alembic_config(url), "har1")
    engine = create_engine(url)
    try:
        with engine.begin() as conn:
            for login, telegram, zalo in OFFICIALS:
                conn.execute(text("INSERT INTO officials (login, name, role, password_hash, active, telegram_user_id,"
                                  " zalo_user_id, created_at, updated_at) VALUES (:l, '', 'leader', '', :a, :t, :z,"
                                  " CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)"),
                             {"l": login, "a": True, "t": telegram, "z": zalo})
        command.upgrade(alembic_config(url), "plt1")
        with engine.connect() as conn:
            rows = conn.execute(text("SELECT o.login, a.platform, a.user_id FROM official_accounts a"
                                     " JOIN officials o ON o.id = a.official_id ORDER BY o.login, a.platform")).all()
        assert [tuple(r) for r in rows] == [("both", "telegram", "111"), ("both", "zalo", "z-111"),
                                            ("telegram-only", "telegram", "222"), ("zalo-only", "zalo", "z-333")]
        assert "telegram_user_id" not in {c["name"] for c in inspect(engine).get_columns("officials")}

        command.downgrade(alembic_config(url), "har1")
        with engine.connect() as conn:
            back = conn.execute(text("SELECT login, telegram_user_id, zalo_user_id FROM officials ORDER BY login")).all()
        assert sorted(tuple(r) for r in back) == sorted(OFFICIALS)
        assert "official_accounts" not in inspect(engine).get_table_names()
    finally:
        engine.dispose()
