"""PostgreSQL: every pair of CJK characters of every prompt, so two-character searches walk.

A two-character term is below pg_trgm's trigram length, so 0003 and 0010 leave it to a
newest-first scan of `image`: quick for a common term, the whole index for a rare one. In
scripts written without spaces (Chinese, Japanese; Korean words are often two syllables)
such terms are the usual search. Beside 0010's `image_word`, in the same search schema:

- `image_bigram` holds (bigram, created_at, image_id) for every pair of adjacent CJK
  characters (kana, ideographs, Hangul syllables) in every prompt, with the primary key in
  that order: a pair's images, newest first, are one index range, rare or common.

Statement-level triggers keep it in step with `image`, as 0010's do for words.

Revision ID: 0021
Revises: 0020
Create Date: 2026-12-05
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from visionary_app.services.gallery.search_index import (
    postgres_bigrams_added,
    postgres_bigrams_dropped,
    postgres_search_schema,
)

revision: str = "0021"
down_revision: str | Sequence[str] | None = "0020"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_TRIGGERS = ("image_bigrams_insert", "image_bigrams_delete", "image_bigrams_update")
_FUNCTIONS = ("add_bigrams()", "drop_bigrams()", "move_bigrams()")


def _statements(schema: str, search: str) -> list[str]:
    # An update moves the pairs of rows whose prompt, time or id changed.
    changed_old = """(SELECT o.* FROM old_rows AS o WHERE NOT EXISTS (
                         SELECT 1 FROM new_rows AS n WHERE n.id = o.id AND n.prompt = o.prompt
                         AND n.created_at = o.created_at))"""
    changed_new = """(SELECT n.* FROM new_rows AS n WHERE NOT EXISTS (
                         SELECT 1 FROM old_rows AS o WHERE o.id = n.id AND o.prompt = n.prompt
                         AND o.created_at = n.created_at))"""
    return [
        f"""CREATE TABLE "{search}".image_bigram (
              bigram text NOT NULL, created_at timestamptz NOT NULL, image_id uuid NOT NULL,
              PRIMARY KEY (bigram, created_at, image_id))""",
        f"""CREATE FUNCTION "{search}".add_bigrams() RETURNS trigger LANGUAGE plpgsql
            SET jit = off AS $$
            BEGIN {postgres_bigrams_added(search, "added")}; RETURN NULL; END $$""",
        f"""CREATE FUNCTION "{search}".drop_bigrams() RETURNS trigger LANGUAGE plpgsql
            SET jit = off AS $$
            BEGIN {postgres_bigrams_dropped(search, "dropped")}; RETURN NULL; END $$""",
        f"""CREATE FUNCTION "{search}".move_bigrams() RETURNS trigger LANGUAGE plpgsql
            SET jit = off AS $$
            BEGIN
              {postgres_bigrams_dropped(search, changed_old)};
              {postgres_bigrams_added(search, changed_new)};
              RETURN NULL;
            END $$""",
        f"""CREATE TRIGGER image_bigrams_insert AFTER INSERT ON "{schema}".image
            REFERENCING NEW TABLE AS added
            FOR EACH STATEMENT EXECUTE FUNCTION "{search}".add_bigrams()""",
        f"""CREATE TRIGGER image_bigrams_delete AFTER DELETE ON "{schema}".image
            REFERENCING OLD TABLE AS dropped
            FOR EACH STATEMENT EXECUTE FUNCTION "{search}".drop_bigrams()""",
        f"""CREATE TRIGGER image_bigrams_update AFTER UPDATE ON "{schema}".image
            REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
            FOR EACH STATEMENT EXECUTE FUNCTION "{search}".move_bigrams()""",
        postgres_bigrams_added(search, f'"{schema}".image'),
        f'ANALYZE "{search}".image_bigram',
    ]


def upgrade() -> None:
    connection = op.get_bind()
    if connection.dialect.name != "postgresql":
        return
    schema = connection.exec_driver_sql("SELECT current_schema()").scalar_one()
    search = postgres_search_schema(schema)
    words = connection.execute(
        sa.text("SELECT to_regclass(:name)"), {"name": f'"{search}".image_word'}
    ).scalar()
    if words is None:  # no search schema (no pg_trgm): searches scan, as before
        return
    for statement in _statements(schema, search):
        connection.exec_driver_sql(statement)


def downgrade() -> None:
    connection = op.get_bind()
    if connection.dialect.name != "postgresql":
        return
    schema = connection.exec_driver_sql("SELECT current_schema()").scalar_one()
    search = postgres_search_schema(schema)
    for trigger in _TRIGGERS:
        connection.exec_driver_sql(f'DROP TRIGGER IF EXISTS {trigger} ON "{schema}".image')
    connection.exec_driver_sql(f'DROP TABLE IF EXISTS "{search}".image_bigram')
    for function in _FUNCTIONS:
        connection.exec_driver_sql(f'DROP FUNCTION IF EXISTS "{search}".{function}')
