"""Full-text search over prompts: trigram indexes beside the index, on SQLite and PostgreSQL.

On SQLite an FTS5 table lives in its own attached database file (`<index>.search.db`), kept in
step by temporary triggers on every connection. It is derived data: rebuilt from the `image`
table whenever the two disagree, and invisible to Alembic, so the migrated schema stays exactly
the models'. The trigram tokenizer matches any script, including ones written without spaces.

On PostgreSQL, migration 0003 keeps a copy of each prompt in `<schema>_image_search`, indexed
by pg_trgm for `ILIKE`, for the same reasons.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

__all__ = [
    "MIN_TRIGRAM_CHARS",
    "fts_phrase",
    "install_sqlite_search",
    "like_pattern",
    "postgres_search_schema",
    "search_terms",
]

MIN_TRIGRAM_CHARS = 3

# Trigger bodies may not qualify table names; `image_fts` resolves to the attached one.
_TRIGGERS = (
    """CREATE TEMP TRIGGER IF NOT EXISTS image_search_insert AFTER INSERT ON main.image
       BEGIN INSERT INTO image_fts(prompt, image_id) VALUES (new.prompt, new.id); END""",
    """CREATE TEMP TRIGGER IF NOT EXISTS image_search_delete AFTER DELETE ON main.image
       BEGIN DELETE FROM image_fts WHERE image_id = old.id; END""",
    """CREATE TEMP TRIGGER IF NOT EXISTS image_search_update AFTER UPDATE OF prompt ON main.image
       BEGIN UPDATE image_fts SET prompt = new.prompt WHERE image_id = old.id; END""",
)


def search_database_path(index_path: str) -> str:
    """Where the search table of an index database lives."""
    return str(Path(index_path).with_suffix(".search.db"))


def install_sqlite_search(connection: sqlite3.Connection, index_path: str) -> None:
    """Attach the search database and keep it in step with `main.image` on this connection."""
    cursor = connection.cursor()
    try:
        cursor.execute("ATTACH DATABASE ? AS search", (search_database_path(index_path),))
        cursor.execute("PRAGMA search.journal_mode=WAL")
        cursor.execute(
            "CREATE VIRTUAL TABLE IF NOT EXISTS search.image_fts "
            "USING fts5(prompt, image_id UNINDEXED, tokenize='trigram')"
        )
        has_images = cursor.execute(
            "SELECT 1 FROM main.sqlite_master WHERE type='table' AND name='image'"
        ).fetchone()
        if has_images:  # before the first migration there is nothing to follow yet
            for trigger in _TRIGGERS:
                cursor.execute(trigger)
    finally:
        cursor.close()


def postgres_search_schema(schema: str) -> str:
    """The schema holding the trigram-indexed prompts of the app's `schema` (fixed by 0003)."""
    return f"{schema}_image_search"


def search_terms(query: str) -> list[str]:
    """The words of a search box entry, without empties or duplicates, in order."""
    seen: dict[str, None] = {}
    for word in query.split():
        seen.setdefault(word, None)
    return list(seen)[:8]


def fts_phrase(term: str) -> str:
    """One term as an FTS5 string literal (matched as a substring by the trigram tokenizer)."""
    return '"' + term.replace('"', '""') + '"'


def like_pattern(term: str) -> str:
    """One term as a LIKE pattern, escaping backslash, percent and underscore."""
    escaped = term.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"
