"""Database engines for the index and bringing their schema to the latest migration."""

from __future__ import annotations

import asyncio
import fcntl
import sqlite3
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import TypeVar

import sqlalchemy as sa
from alembic.config import Config
from sqlalchemy.engine import make_url
from sqlmodel import Session

from alembic import command
from visionary_app.services.kit.metrics import DB_STATEMENTS

T = TypeVar("T")
PROJECT_ROOT = Path(__file__).resolve().parents[3]
ALEMBIC_INI = PROJECT_ROOT / "alembic.ini"


def make_engine(
    url: str, *, on_sqlite_connect: Callable[[sqlite3.Connection, str], None] | None = None
) -> sa.Engine:
    """Create an engine; SQLite gets its directory created, WAL and a busy timeout.

    `on_sqlite_connect(connection, path)` runs on every new connection to a SQLite file, after
    those settings (the gallery attaches its search index there).
    """
    parsed = make_url(url)
    is_sqlite = parsed.get_backend_name() == "sqlite"
    # A local SQLite file has no connection to lose; a server does.
    kwargs: dict = {"pool_pre_ping": not is_sqlite}
    if is_sqlite:
        kwargs["connect_args"] = {"check_same_thread": False, "timeout": 30}
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
    engine = sa.create_engine(url, **kwargs)

    @sa.event.listens_for(engine, "before_cursor_execute")
    def _count(*_args) -> None:
        DB_STATEMENTS.inc()

    if is_sqlite:
        index_path = parsed.database if parsed.database not in (None, "", ":memory:") else None

        @sa.event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_connection, _record) -> None:
            cursor = dbapi_connection.cursor()
            # WAL lets the gallery read while a generation writes.
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA busy_timeout=30000")
            cursor.close()
            if index_path is not None and on_sqlite_connect is not None:
                on_sqlite_connect(dbapi_connection, index_path)

    return engine


def alembic_config(url: str | None = None) -> Config:
    """The project's Alembic configuration, optionally aimed at a specific database."""
    config = Config(str(ALEMBIC_INI))
    config.attributes["configure_logging"] = False
    if url is not None:
        config.attributes["url"] = url
    return config


# Names the lock every worker takes before migrating, so only one migrates at a time.
_MIGRATION_LOCK = 0x56495347  # "VISG"


def upgrade_to_head(url: str) -> None:
    """Apply every pending migration to the database at `url`, one process at a time.

    Several workers start together and each runs this: on PostgreSQL they queue on an
    advisory lock, on SQLite on a lock file beside the database; the later ones find the
    schema current and do nothing.
    """
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite" and parsed.database not in (None, "", ":memory:"):
        lock_path = Path(f"{parsed.database}.migrate.lock")
        lock_path.parent.mkdir(parents=True, exist_ok=True)
        with lock_path.open("a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            try:
                command.upgrade(alembic_config(url), "head")
            finally:
                fcntl.flock(lock, fcntl.LOCK_UN)
        return
    engine = make_engine(url)
    try:
        with engine.connect() as connection:
            is_postgres = connection.dialect.name == "postgresql"
            if is_postgres:
                connection.execute(sa.select(sa.func.pg_advisory_lock(_MIGRATION_LOCK)))
                connection.commit()
            try:
                config = alembic_config(url)
                config.attributes["connection"] = connection
                command.upgrade(config, "head")
                connection.commit()
            finally:
                if is_postgres:
                    connection.rollback()
                    connection.execute(sa.select(sa.func.pg_advisory_unlock(_MIGRATION_LOCK)))
                    connection.commit()
    finally:
        engine.dispose()


def in_session_now(
    engine: sa.Engine, work: Callable[[Session], T], failure: Callable[[str], Exception]
) -> T:
    """Run `work` with a session here and now, blocking: only for work that cannot wait long.

    A database error becomes `failure(<error class name>)`, raised from it.
    """
    try:
        with Session(engine, expire_on_commit=False) as session:
            return work(session)
    except sa.exc.SQLAlchemyError as exc:
        raise failure(exc.__class__.__name__) from exc


def in_connection_now(
    engine: sa.Engine, work: Callable[[sa.Connection], T], failure: Callable[[str], Exception]
) -> T:
    """`in_session_now` on a plain connection, for a read.

    An ORM session's set-up and tear-down cost a tenth of a page of 50.
    """
    try:
        with engine.connect() as connection:
            return work(connection)
    except sa.exc.SQLAlchemyError as exc:
        raise failure(exc.__class__.__name__) from exc


async def in_session(
    engine: sa.Engine, work: Callable[[Session], T], failure: Callable[[str], Exception]
) -> T:
    """Run `work` with a session in a worker thread (database calls block).

    A database error becomes `failure(<error class name>)`, raised from it.
    """
    return await asyncio.to_thread(in_session_now, engine, work, failure)


def database_now(session: Session) -> datetime:
    """The database server's clock, in UTC: the one clock every worker reads the same.

    Heartbeats are written and judged stale by it, so a worker whose own clock runs fast or
    slow cannot make another worker's live jobs look abandoned.
    """
    if session.get_bind().dialect.name == "sqlite":
        text = session.exec(sa.select(sa.func.strftime("%Y-%m-%d %H:%M:%f", "now"))).one()[0]
        return datetime.fromisoformat(text).replace(tzinfo=UTC)
    (value,) = session.exec(sa.select(sa.func.clock_timestamp())).one()
    return value.astimezone(UTC)
