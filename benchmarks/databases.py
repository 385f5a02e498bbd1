"""Fresh PostgreSQL schemas for benchmarks that measure on a real server."""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Iterator

import sqlalchemy as sa

from visionary_app.services.gallery.catalog import make_index_engine
from visionary_app.services.gallery.search_index import postgres_search_schema

__all__ = ["LOCAL_POSTGRES", "fresh_schema"]

LOCAL_POSTGRES = "postgresql+psycopg://root@127.0.0.1:5432/test"


@contextlib.contextmanager
def fresh_schema(server_url: str, prefix: str) -> Iterator[str]:
    """The URL of a new schema on the server (dropped afterwards, with its search schema)."""
    schema = f"{prefix}_{uuid.uuid4().hex[:6]}"
    server = make_index_engine(server_url)
    with server.begin() as connection:
        connection.execute(sa.text(f"CREATE SCHEMA {schema}"))
    try:
        yield f"{server_url}?options=-csearch_path%3D{schema}"
    finally:
        with server.begin() as connection:
            for name in (schema, postgres_search_schema(schema)):
                connection.execute(sa.text(f"DROP SCHEMA IF EXISTS {name} CASCADE"))
        server.dispose()
