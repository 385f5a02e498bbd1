"""Database engines for the index and bringing their schema to the latest migration."""

from __future__ import annotations

from pathlib import Path

import sqlalchemy as sa
from alembic.config import Config
from sqlalchemy.engine import make_url

from alembic import command
from visionary_app.services.search_index import install_sqlite_search

PROJECT_ROOT = Path(__file__).resolve().parents[2]
ALEMBIC_INI = PROJECT_ROOT / "alembic.ini"


def make_engine(url: str) -> sa.Engine:
    """Create an engine; SQLite gets its directory created, WAL and a busy timeout."""
    parsed = make_url(url)
    is_sqlite = parsed.get_backend_name() == "sqlite"
    # A local SQLite file has no connection to lose; a server does.
    kwargs: dict = {"pool_pre_ping": not is_sqlite}
    if is_sqlite:
        kwargs["connect_args"] = {"check_same_thread": False, "timeout": 30}
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
    engine = sa.create_engine(url, **kwargs)
    if is_sqlite:
        index_path = parsed.database if parsed.database not in (None, "", ":memory:") else None

        @sa.event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_connection, _record) -> None:
            cursor = dbapi_connection.cursor()
            # WAL lets the gallery read while a generation writes.
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA busy_timeout=30000")
            cursor.close()
            if index_path is not None:
                install_sqlite_search(dbapi_connection, index_path)

    return engine


def alembic_config(url: str | None = None) -> Config:
    """The project's Alembic configuration, optionally aimed at a specific database."""
    config = Config(str(ALEMBIC_INI))
    config.attributes["configure_logging"] = False
    if url is not None:
        config.attributes["url"] = url
    return config


def upgrade_to_head(url: str) -> None:
    """Apply every pending migration to the database at `url`."""
    command.upgrade(alembic_config(url), "head")
