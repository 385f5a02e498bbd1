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
import uuid
from dataclasses import dataclass
from pathlib import Path

import sqlalchemy as sa
from sqlmodel import Session, col

from visionary_app.models import Image

__all__ = [
    "MAX_QUERY_CHARS",
    "MIN_TRIGRAM_CHARS",
    "PromptSearch",
    "SearchPlan",
    "clean_query",
    "fts_phrase",
    "install_sqlite_search",
    "like_pattern",
    "postgres_search_schema",
    "search_terms",
]

# Longer searches are cut to this many characters (the box says so), and stored so in state.
MAX_QUERY_CHARS = 200
MIN_TRIGRAM_CHARS = 3
# Above this many trigram matches a term is common: scanning newest-first with LIKE finds a
# page sooner than collecting every match. Below it, the match set is small and quick to use.
_DENSE_MATCHES = 300

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
    """The words of a search box entry, without empties or duplicates, in order.

    Any string gets an answer: lone surrogates (which no database can store or compare) are
    dropped, and only the first MAX_QUERY_CHARS characters count.
    """
    seen: dict[str, None] = {}
    for word in clean_query(query).split():
        seen.setdefault(word, None)
    return list(seen)[:8]


def _searchable(ch: str) -> bool:
    code = ord(ch)
    # Lone surrogates cannot be encoded; control characters (NUL breaks SQLite's FTS) are in
    # no prompt, since prompts refuse them.
    return not (0xD800 <= code <= 0xDFFF or code < 0x20 or 0x7F <= code <= 0x9F)


def clean_query(query: str) -> str:
    """The part of a search entry that is searched, at most the cap.

    Without lone surrogates or control characters; a tab or new line counts as a space.
    """
    query = query.replace("\t", " ").replace("\n", " ").replace("\r", " ")
    if not all(_searchable(ch) for ch in query):
        query = "".join(ch for ch in query if _searchable(ch))
    return query[:MAX_QUERY_CHARS]


def fts_phrase(term: str) -> str:
    """One term as an FTS5 string literal (matched as a substring by the trigram tokenizer)."""
    return '"' + term.replace('"', '""') + '"'


def like_pattern(term: str) -> str:
    """One term as a LIKE pattern, escaping backslash, percent and underscore."""
    escaped = term.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


@dataclass(frozen=True)
class SearchPlan:
    """The conditions of one search: a few ids from the index (or None), and LIKE terms."""

    found: list[uuid.UUID] | None
    like_terms: list[str]
    dialect: str

    def apply(self, query):
        """`query` narrowed to images whose prompt contains every term."""
        if self.found is not None:
            query = query.where(col(Image.id).in_(self.found))
        for term in self.like_terms:
            pattern = like_pattern(term)
            if self.dialect == "sqlite":
                query = query.where(col(Image.prompt).like(pattern, escape="\\"))
            else:
                query = query.where(col(Image.prompt).ilike(pattern, escape="\\"))
        return query


class PromptSearch:
    """Adds "prompt contains every word" to an image query, using whichever index exists."""

    def __init__(self, engine: sa.Engine) -> None:
        self._engine = engine
        url = engine.url
        self._has_fts = url.get_backend_name() == "sqlite" and url.database not in (
            None,
            "",
            ":memory:",
        )
        self._fts_checked = False
        self._pg_search_table: str | None = None  # "" once known to be missing

    def prepare(self, session: Session, terms: list[str]) -> SearchPlan:
        """How to search: the trigram index for rare words, a newest-first scan else.

        The index is looked up once here; the plan then adds its conditions to any query.
        """
        like_terms = list(terms)
        long_terms = [t for t in terms if len(t) >= MIN_TRIGRAM_CHARS]
        found = self._trigram_matches(session, long_terms) if long_terms else None
        if found is not None and len(found) <= _DENSE_MATCHES:
            # Few matches: look them up by primary key and sort just those.
            like_terms = [t for t in terms if len(t) < MIN_TRIGRAM_CHARS]
        else:
            found = None
        return SearchPlan(found, like_terms, self._engine.dialect.name)

    def _trigram_matches(self, session: Session, terms: list[str]) -> list[uuid.UUID] | None:
        """Up to _DENSE_MATCHES + 1 ids of images matching every term; None without an index."""
        limit = _DENSE_MATCHES + 1
        if self._has_fts:
            self._ensure_search_index(session)  # may commit, so take the connection after
            match = " AND ".join(fts_phrase(term) for term in terms)
            rows = (
                session.connection()
                .exec_driver_sql(
                    "SELECT image_id FROM search.image_fts WHERE image_fts MATCH ? LIMIT ?",
                    (match, limit),
                )
                .all()
            )
            return [uuid.UUID(hex=row[0]) for row in rows]
        connection = session.connection()
        table = self._postgres_search_table(connection)
        if table is None:
            return None
        conditions = " AND ".join(f"prompt ILIKE :p{i} ESCAPE '\\'" for i in range(len(terms)))
        params: dict = {f"p{i}": like_pattern(term) for i, term in enumerate(terms)}
        # The table name comes from the schema, never from input; the terms are bound.
        statement = f"SELECT image_id FROM {table} WHERE {conditions} LIMIT :limit"  # noqa: S608
        rows = connection.execute(sa.text(statement), {**params, "limit": limit}).all()
        return [row[0] for row in rows]

    def _postgres_search_table(self, connection: sa.Connection) -> str | None:
        """The trigram-indexed prompt table migration 0003 made, if it could (PostgreSQL)."""
        if self._engine.dialect.name != "postgresql":
            return None
        if self._pg_search_table is None:
            schema = connection.exec_driver_sql("SELECT current_schema()").scalar_one()
            search = postgres_search_schema(schema)
            exists = connection.execute(
                sa.text("SELECT to_regclass(:name)"), {"name": f'"{search}".image_prompt'}
            ).scalar()
            self._pg_search_table = f'"{search}".image_prompt' if exists else ""
        return self._pg_search_table or None

    def _ensure_search_index(self, session: Session) -> None:
        """Rebuild the derived FTS table once if it disagrees with the index (e.g. an upgrade)."""
        if self._fts_checked:
            return
        connection = session.connection()
        images = connection.exec_driver_sql("SELECT count(*) FROM main.image").scalar_one()
        indexed = connection.exec_driver_sql("SELECT count(*) FROM search.image_fts").scalar_one()
        if images != indexed:
            connection.exec_driver_sql("DELETE FROM search.image_fts")
            connection.exec_driver_sql(
                "INSERT INTO search.image_fts(prompt, image_id) SELECT prompt, id FROM main.image"
            )
            session.commit()
        self._fts_checked = True
