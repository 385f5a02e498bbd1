"""Trigram search over prompts on PostgreSQL (nothing to do on SQLite, which uses FTS5).

The searchable copy of each prompt lives in its own schema, `<schema>_image_search`, kept in
step by a trigger on `image` and indexed with pg_trgm's GIN operator class, so `ILIKE '%word%'`
in any script is answered from the index. Keeping it out of the app's schema keeps that schema
exactly the models' (Reflex's start-up check and autogenerate compare only that one). Without
pg_trgm available the migration leaves search to a scan of `image`, which stays correct.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-25
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from visionary_app.services.gallery.search_index import postgres_search_schema

revision: str = "0003"
down_revision: str | Sequence[str] | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _has_trigram(connection: sa.Connection) -> bool:
    available = connection.exec_driver_sql(
        "SELECT 1 FROM pg_available_extensions WHERE name = 'pg_trgm'"
    ).first()
    if available is None:
        return False
    try:
        with connection.begin_nested():
            connection.exec_driver_sql("CREATE EXTENSION IF NOT EXISTS pg_trgm SCHEMA public")
    except sa.exc.DBAPIError:  # no privilege to create it
        pass
    return _trigram_schema(connection) is not None


def _trigram_schema(connection: sa.Connection) -> str | None:
    return connection.exec_driver_sql(
        "SELECT extnamespace::regnamespace::text FROM pg_extension WHERE extname = 'pg_trgm'"
    ).scalar()


def upgrade() -> None:
    connection = op.get_bind()
    if connection.dialect.name != "postgresql" or not _has_trigram(connection):
        return
    schema = connection.exec_driver_sql("SELECT current_schema()").scalar_one()
    search = postgres_search_schema(schema)
    ops = f"{_trigram_schema(connection)}.gin_trgm_ops"
    for statement in (
        f'CREATE SCHEMA IF NOT EXISTS "{search}"',
        f'CREATE TABLE "{search}".image_prompt (image_id uuid PRIMARY KEY, prompt text NOT NULL)',
        f'''CREATE FUNCTION "{search}".follow_image() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN
              IF TG_OP = 'DELETE' THEN
                DELETE FROM "{search}".image_prompt WHERE image_id = OLD.id;
                RETURN OLD;
              ELSIF TG_OP = 'UPDATE' THEN
                UPDATE "{search}".image_prompt SET prompt = NEW.prompt WHERE image_id = NEW.id;
                RETURN NEW;
              END IF;
              INSERT INTO "{search}".image_prompt (image_id, prompt) VALUES (NEW.id, NEW.prompt);
              RETURN NEW;
            END $$''',
        f'''CREATE TRIGGER image_search_follow AFTER INSERT OR DELETE OR UPDATE OF prompt
            ON "{schema}".image FOR EACH ROW EXECUTE FUNCTION "{search}".follow_image()''',
        f'INSERT INTO "{search}".image_prompt (image_id, prompt) SELECT id, prompt FROM "{schema}".image',
        f'CREATE INDEX ix_image_prompt_trgm ON "{search}".image_prompt USING gin (prompt {ops})',
    ):
        connection.exec_driver_sql(statement)


def downgrade() -> None:
    connection = op.get_bind()
    if connection.dialect.name != "postgresql":
        return
    schema = connection.exec_driver_sql("SELECT current_schema()").scalar_one()
    search = postgres_search_schema(schema)
    connection.exec_driver_sql(f'DROP TRIGGER IF EXISTS image_search_follow ON "{schema}".image')
    connection.exec_driver_sql(f'DROP SCHEMA IF EXISTS "{search}" CASCADE')
