"""Full-text search over prompts: trigram indexes beside the index, on SQLite and PostgreSQL.

On SQLite an FTS5 table lives in its own attached database file (`<index>.search.db`), kept in
step by temporary triggers on every connection. It is derived data: rebuilt from the `image`
table whenever the two disagree, and invisible to Alembic, so the migrated schema stays exactly
the models'. The trigram tokenizer matches any script, including ones written without spaces.

Each row's FTS rowid is its image's time, in microseconds, times 1,024, plus a counter for
images of the same microsecond (`order_key`). FTS5 walks a match newest first by rowid and
stops after a page, so a search costs about the same for a rare word among a million prompts
as among a thousand, instead of collecting every match and sorting it.

On PostgreSQL, migration 0010 keeps each prompt's words in `<schema>_image_search.image_word`,
keyed by (word, created_at, image_id), and every distinct word once, indexed by pg_trgm: a
term finds the words containing it, and the walk follows those words' images newest first,
as on SQLite. A term found in very many different words (a common fragment, or text written
without spaces) falls back to 0003's trigram-indexed copy of each prompt, or to a scan.
Two-character terms are below the trigram length; where both characters belong to a script
written without spaces (CJK: Han, kana, and Hangul, whose words are often two syllables),
migration 0021's `image_bigram` holds every such pair of every prompt as (bigram, created_at,
image_id), so the term is walked newest first the same way, rare or common.
"""

from __future__ import annotations

import functools
import re
import sqlite3
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql
from sqlmodel import Session, col

from visionary_app.models import Image

__all__ = [
    "MAX_QUERY_CHARS",
    "MIN_TRIGRAM_CHARS",
    "WORD_PIECE_CHARS",
    "WORD_PIECE_STEP",
    "FirstBatch",
    "PromptSearch",
    "SearchPlan",
    "clean_query",
    "fts_phrase",
    "install_sqlite_search",
    "is_cjk_bigram",
    "like_pattern",
    "order_key",
    "postgres_bigrams_added",
    "postgres_bigrams_dropped",
    "postgres_search_schema",
    "postgres_words_added",
    "postgres_words_dropped",
    "prompt_holds",
    "search_terms",
]

# Longer searches are cut to this many characters (the box says so), and stored so in state.
MAX_QUERY_CHARS = 200
MIN_TRIGRAM_CHARS = 3
# PostgreSQL keeps a word longer than this as pieces this long, starting every STEP
# characters: any term (at most MAX_QUERY_CHARS) inside the word lies wholly in one piece.
WORD_PIECE_STEP = MAX_QUERY_CHARS
WORD_PIECE_CHARS = 2 * MAX_QUERY_CHARS
# A term found in more distinct words than this is not walked word by word (PostgreSQL).
_MAX_WALKED_WORDS = 64
# How many of a term's images are counted to pick the rarest term to walk (PostgreSQL).
_COUNTED_MATCHES = 1000
_LATEST = datetime(9999, 12, 31, tzinfo=UTC)
_EARLIEST = datetime(1, 1, 2, tzinfo=UTC)
# Above this many trigram matches (PostgreSQL) a term is common: scanning newest-first with
# LIKE finds a page sooner than collecting every match. Below it, the matches are read by key.
_DENSE_MATCHES = 300

# The characters of scripts written without spaces between words, whose pairs PostgreSQL
# indexes (0021): hiragana and katakana, CJK ideographs (extension A, the unified block and the
# compatibility ideographs) and Hangul syllables. The same ranges in SQL and here.
_CJK_RANGES = "\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af\uf900-\ufaff"
_CJK_CHARACTER = re.compile(f"[{_CJK_RANGES}]")
# The column each PostgreSQL walk table is keyed by, before (created_at, image_id).
_WALK_KEYS = {"image_word": "word", "image_bigram": "bigram"}

# Rowids per microsecond: images stored in the same microsecond get consecutive ones.
_PER_MICROSECOND = 1024
# The layout of the FTS table; an older one is rebuilt on first use.
_SEARCH_VERSION = 2
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def _micro_key_sql(row: str) -> str:
    """SQL for `order_key` of a row's created_at, as SQLAlchemy stores it on SQLite.

    That is 'YYYY-MM-DD HH:MM:SS.ffffff', in UTC.
    """
    return (
        f"((CAST(strftime('%s', substr({row}.created_at, 1, 19)) AS INTEGER) * 1000000"
        f" + CAST(substr({row}.created_at, 21, 6) AS INTEGER)) * {_PER_MICROSECOND})"
    )


def _insert_sql(row: str) -> list[str]:
    key = _micro_key_sql(row)
    # The next free rowid of the image's microsecond comes from `image_slot`, a plain table:
    # reading FTS5 itself would flush its pending writes on every insert.
    return [
        f"""INSERT INTO image_slot(image_id, fts_rowid) VALUES ({row}.id,
            coalesce((SELECT max(fts_rowid) + 1 FROM image_slot
                      WHERE fts_rowid BETWEEN {key} AND {key} + {_PER_MICROSECOND - 1}), {key}))""",
        f"""INSERT INTO image_fts(rowid, prompt, image_id) VALUES (
            (SELECT fts_rowid FROM image_slot WHERE image_id = {row}.id),
            {row}.prompt, {row}.id)""",
    ]


def _delete_sql(row: str) -> list[str]:
    return [
        f"""DELETE FROM image_fts
            WHERE rowid = (SELECT fts_rowid FROM image_slot WHERE image_id = {row}.id)""",
        f"DELETE FROM image_slot WHERE image_id = {row}.id",
    ]


def _body(*statements: list[str]) -> str:
    return " ".join(f"{one};" for group in statements for one in group)


# Trigger bodies may not qualify table names; `image_fts` and `image_slot` resolve to the
# attached ones.
_TRIGGERS = (
    # A leftover entry for the same id (an index deleted and rebuilt by `sync` beside an
    # old search file) goes first, so an image is never found twice.
    f"""CREATE TEMP TRIGGER IF NOT EXISTS image_search_insert AFTER INSERT ON main.image
        BEGIN {_body(_delete_sql("new"), _insert_sql("new"))} END""",
    f"""CREATE TEMP TRIGGER IF NOT EXISTS image_search_delete AFTER DELETE ON main.image
        BEGIN {_body(_delete_sql("old"))} END""",
    f"""CREATE TEMP TRIGGER IF NOT EXISTS image_search_update
        AFTER UPDATE OF prompt, created_at, id ON main.image
        BEGIN {_body(_delete_sql("old"), _insert_sql("new"))} END""",
)
_REBUILD = (
    "DELETE FROM search.image_fts",
    "DELETE FROM search.image_slot",
    f"""INSERT INTO search.image_slot(image_id, fts_rowid)
        SELECT image.id, {_micro_key_sql("image")}
               + row_number() OVER (PARTITION BY image.created_at ORDER BY image.id) - 1
        FROM main.image""",
    """INSERT INTO search.image_fts(rowid, prompt, image_id)
        SELECT slot.fts_rowid, image.prompt, image.id
        FROM main.image AS image JOIN search.image_slot AS slot ON slot.image_id = image.id
        ORDER BY slot.fts_rowid""",
)


# Pages of the FTS index one merge step writes (about 35 ms here, at most 90 ms seen).
_MERGE_PAGES = 500


def order_key(created_at: datetime) -> int:
    """The first FTS rowid of images made at `created_at` (to the microsecond)."""
    micros = (created_at.astimezone(UTC) - _EPOCH) // timedelta(microseconds=1)
    return micros * _PER_MICROSECOND


def search_database_path(index_path: str) -> str:
    """Where the search table of an index database lives."""
    return str(Path(index_path).with_suffix(".search.db"))


def install_sqlite_search(connection: sqlite3.Connection, index_path: str) -> None:
    """Attach the search database and keep it in step with `main.image` on this connection."""
    cursor = connection.cursor()
    try:
        cursor.execute("ATTACH DATABASE ? AS search", (search_database_path(index_path),))
        cursor.execute("PRAGMA search.journal_mode=WAL")
        exists = cursor.execute(
            "SELECT 1 FROM search.sqlite_master WHERE type='table' AND name='image_fts'"
        ).fetchone()
        if not exists:  # new, so filled by this layout's triggers from the start
            cursor.execute(
                "CREATE VIRTUAL TABLE IF NOT EXISTS search.image_fts "
                "USING fts5(prompt, image_id UNINDEXED, tokenize='trigram')"
            )
            cursor.execute(f"PRAGMA search.user_version = {_SEARCH_VERSION}")
        # Which FTS rowid each image has (an older layout lacks it, and is rebuilt).
        cursor.execute(
            "CREATE TABLE IF NOT EXISTS search.image_slot "
            "(image_id TEXT PRIMARY KEY, fts_rowid INTEGER NOT NULL UNIQUE)"
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


def _word_pieces(rows: str) -> str:
    """SQL for (word, created_at, image_id) of every word of `rows`' prompts, once each.

    The words are split as the search box splits (any run of spaces, tabs or line breaks)
    and lower-cased; a long word becomes overlapping pieces.
    """
    return f"""SELECT DISTINCT substr(w, s, {WORD_PIECE_CHARS}) AS word, r.created_at,
                      r.id AS image_id
               FROM {rows} AS r,
                    regexp_split_to_table(lower(r.prompt), '[ \\t\\n\\r]+') AS w,
                    generate_series(1, greatest(length(w) - {WORD_PIECE_STEP}, 1),
                                    {WORD_PIECE_STEP}) AS s
               WHERE w <> ''"""


def postgres_words_added(search: str, rows: str) -> str:
    """One statement adding the words of `rows` (0010's triggers; sorted, for local writes)."""
    return f"""WITH pieces AS MATERIALIZED ({_word_pieces(rows)}),
                    vocabulary AS (INSERT INTO "{search}".word (word)
                                   SELECT DISTINCT word FROM pieces ORDER BY word
                                   ON CONFLICT DO NOTHING)
               INSERT INTO "{search}".image_word (word, created_at, image_id)
               SELECT word, created_at, image_id FROM pieces ORDER BY word, created_at
               ON CONFLICT DO NOTHING"""


def postgres_words_dropped(search: str, rows: str) -> str:
    """One statement removing the words of `rows` (migration 0010's triggers)."""
    return f"""DELETE FROM "{search}".image_word AS iw USING ({_word_pieces(rows)}) AS gone
               WHERE iw.word = gone.word AND iw.created_at = gone.created_at
                 AND iw.image_id = gone.image_id"""


def _bigram_pieces(rows: str) -> str:
    """SQL for (bigram, created_at, image_id) of every CJK character pair of `rows`' prompts.

    Pairs are read inside runs of CJK characters only (no pair spans a space, a Latin letter
    or punctuation), once per image.
    """
    return f"""SELECT DISTINCT substr(m.run[1], s, 2) AS bigram, r.created_at,
                      r.id AS image_id
               FROM {rows} AS r,
                    regexp_matches(r.prompt, '[{_CJK_RANGES}]{{2,}}', 'g') AS m(run),
                    generate_series(1, length(m.run[1]) - 1) AS s"""


def postgres_bigrams_added(search: str, rows: str) -> str:
    """One statement adding the CJK pairs of `rows` (0021's triggers)."""
    return f"""INSERT INTO "{search}".image_bigram (bigram, created_at, image_id)
               SELECT bigram, created_at, image_id FROM ({_bigram_pieces(rows)}) AS pieces
               ORDER BY bigram, created_at ON CONFLICT DO NOTHING"""


def postgres_bigrams_dropped(search: str, rows: str) -> str:
    """One statement removing the CJK pairs of `rows` (0021's triggers)."""
    return f"""DELETE FROM "{search}".image_bigram AS ib USING ({_bigram_pieces(rows)}) AS gone
               WHERE ib.bigram = gone.bigram AND ib.created_at = gone.created_at
                 AND ib.image_id = gone.image_id"""


def is_cjk_bigram(term: str) -> bool:
    """Whether `term` is two CJK characters (a pair PostgreSQL's `image_bigram` holds)."""
    return len(term) == 2 and all(_CJK_CHARACTER.fullmatch(ch) for ch in term)


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


def _words_walk_sql(table: str, words: str, *, older: bool, key: str = "word") -> str:
    """Images of each word of `words` (a FROM item with a `word` column) from (:at, :id).

    Each word's newest (or oldest) :size, strictly after the bound in walking order, as
    (edge, image_id), `edge` their time; the caller orders and limits the merge. `table`
    (keyed by its `key` column: `image_word`'s word, `image_bigram`'s bigram) comes from
    the schema, never from input.
    """
    direction, compare = ("DESC", "<") if older else ("ASC", ">")
    return f"""SELECT m.created_at AS edge, m.image_id FROM {words}
        CROSS JOIN LATERAL (
          SELECT iw.created_at, iw.image_id FROM {table} AS iw
          WHERE iw.{key} = w.word AND (iw.created_at, iw.image_id) {compare} (:at, :id)
          ORDER BY iw.created_at {direction}, iw.image_id {direction} LIMIT :size
        ) AS m"""


def _walk_order(older: bool) -> str:
    direction = "DESC" if older else "ASC"
    return f"ORDER BY m.created_at {direction}, m.image_id {direction}"


def _walked_by_time(statement: sa.TextClause) -> sa.CTE:
    """A PostgreSQL walk (`_words_walk_sql`) as the `walked` CTE of a `FirstBatch`."""
    columns = (sa.column("edge", sa.DateTime(timezone=True)), sa.column("image_id", sa.Uuid()))
    return statement.columns(*columns).cte("walked")


def _walk_bound_types() -> tuple:
    return (
        sa.bindparam("at", type_=sa.DateTime(timezone=True)),
        sa.bindparam("id", type_=sa.Uuid()),
    )


def _first_bound(after: datetime | None, *, older: bool) -> tuple[datetime, uuid.UUID]:
    """Where a word walk starts: `after`'s own time included (the caller compares exact keys)."""
    at = after if after is not None else (_LATEST if older else _EARLIEST)
    return at, uuid.UUID(int=(1 << 128) - 1) if older else uuid.UUID(int=0)


@functools.cache
def _fts_batch(older: bool) -> sa.CTE:
    """`FirstBatch.walked` on SQLite, from just before :bound's microsecond (as `_walk_fts`)."""
    direction, compare = ("DESC", "<") if older else ("ASC", ">")
    statement = sa.text(
        "SELECT rowid AS edge, image_id FROM search.image_fts WHERE image_fts MATCH :match "
        f"AND rowid {compare} :bound ORDER BY rowid {direction} LIMIT :size"
    )
    columns = (sa.column("edge", sa.BigInteger()), sa.column("image_id", sa.Uuid()))
    return statement.columns(*columns).cte("walked")


def prompt_holds(dialect: str, count: int) -> list:
    """Conditions "the prompt contains :like_0 … :like_<count-1>" (`like_pattern`s)."""
    prompt = col(Image.prompt)
    patterns = [sa.bindparam(f"like_{index}", type_=sa.String()) for index in range(count)]
    if dialect == "sqlite":
        return [prompt.like(pattern, escape="\\") for pattern in patterns]
    return [prompt.ilike(pattern, escape="\\") for pattern in patterns]


@dataclass(frozen=True)
class FirstBatch:
    """The first matches of a search's walk, for one statement to read a page from.

    `walked` has a row per match (`image_id`, and `edge`, its place in the walk); the
    caller reads the visible rows among them that hold `like_terms` too. PostgreSQL walks
    in the page's exact order; SQLite's rowids order matches by microsecond only, so
    `rowid_of` (`order_key`) tells whether the batch ended inside the page's last microsecond.
    """

    walked: sa.CTE  # built once per index and direction; takes `params`
    params: dict
    size: int
    like_terms: list[str]
    rowid_of: Callable[[datetime], int] | None

    def holds_page(self, matches: int, edge, rows: list, limit: int) -> bool:
        """Whether `rows`, read from `matches` matches ending at `edge`, are the page."""
        if matches < self.size:
            return True  # every match there is
        if len(rows) < limit:
            return False
        if self.rowid_of is None:
            return True
        # Matches of the edge's microsecond beyond the batch may sort before the last row.
        last = rows[limit - 1].created_at
        return self.rowid_of(last) // _PER_MICROSECOND != edge // _PER_MICROSECOND


@dataclass(frozen=True)
class SearchPlan:
    """The conditions of one search.

    `walk_terms`: terms to follow through the search index in time order (see
    `PromptSearch.walk`), on PostgreSQL through the images of `walk_words` (words of
    `image_word`, or one CJK pair of `image_bigram`: `walk_table`); `found`: a few
    ids from PostgreSQL's trigram index; `like_terms`: terms left to LIKE (too short for
    trigrams, every term when there is no index, and on PostgreSQL every term, since the
    words only narrow the search).
    """

    found: list[uuid.UUID] | None
    like_terms: list[str]
    dialect: str
    walk_terms: tuple[str, ...] = ()
    walk_words: tuple[str, ...] | None = None
    walk_table: str = "image_word"

    def scanning(self, terms: list[str]) -> SearchPlan:
        """The same search with every term as a LIKE condition (a newest-first scan)."""
        return SearchPlan(None, list(terms), self.dialect)

    def among(self, ids: list[uuid.UUID]):
        """The condition "the image is one of `ids`"."""
        if self.dialect == "postgresql":  # one array parameter, not one per id
            array = sa.bindparam("among_ids", ids, type_=postgresql.ARRAY(sa.Uuid()))
            return col(Image.id) == sa.any_(array)
        return col(Image.id).in_(ids)

    def apply(self, query):
        """`query` narrowed to images whose prompt contains every term."""
        if self.found is not None:
            query = query.where(self.among(self.found))
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
        self._pg_tables: dict[str, str] = {}  # "" once known to be missing
        self._words_batches: dict[bool, sa.CTE] = {}
        self._bigram_batches: dict[bool, sa.CTE] = {}

    def prepare(self, session: Session, terms: list[str]) -> SearchPlan:
        """How to search: the trigram index for rare words, a newest-first scan else.

        The index is looked up once here; the plan then adds its conditions to any query.
        """
        like_terms = list(terms)
        long_terms = [t for t in terms if len(t) >= MIN_TRIGRAM_CHARS]
        if long_terms and self._has_fts:
            self._ensure_search_index(session)
            short_terms = [t for t in terms if len(t) < MIN_TRIGRAM_CHARS]
            return SearchPlan(None, short_terms, self._engine.dialect.name, tuple(long_terms))
        words = self._words_to_walk(session, long_terms) if long_terms else None
        if words is not None:
            term, walk_words = words
            return SearchPlan(None, like_terms, self._engine.dialect.name, (term,), walk_words)
        found = self._trigram_matches(session, long_terms) if long_terms else None
        if found is not None and len(found) <= _DENSE_MATCHES:
            # Few matches: look them up by primary key and sort just those.
            like_terms = [t for t in terms if len(t) < MIN_TRIGRAM_CHARS]
            return SearchPlan(found, like_terms, self._engine.dialect.name)
        pair = self._bigram_to_walk(session, terms)
        if pair is not None:  # every term is checked with ILIKE: the pair only narrows
            walk = (pair,)
            dialect = self._engine.dialect.name
            return SearchPlan(None, like_terms, dialect, walk, walk, "image_bigram")
        return SearchPlan(None, like_terms, self._engine.dialect.name)

    def _bigram_to_walk(self, session: Session, terms: list[str]) -> str | None:
        """The first two-character CJK term, where PostgreSQL indexes CJK pairs (0021)."""
        pair = next((term for term in terms if is_cjk_bigram(term)), None)
        if pair is None or self._postgres_table(session.connection(), "image_bigram") is None:
            return None
        return pair

    def walk(
        self, session: Session, plan: SearchPlan, after: datetime | None, *, older: bool
    ) -> Iterator[list[uuid.UUID]]:
        """Ids of images that may match the plan, in time order from `after`.

        On SQLite exactly the images whose prompt holds every walked term (`_walk_fts`); on
        PostgreSQL those with a word holding the walked term, from just before `after`'s
        exact time when `older`, else just after it (`_walk_words`).
        """
        if plan.walk_words is not None:
            return self._walk_words(
                session, plan.walk_words, after, older=older, table=plan.walk_table
            )
        return self._walk_fts(session, plan.walk_terms, after, older=older)

    def _walk_fts(
        self, session: Session, terms: tuple[str, ...], after: datetime | None, *, older: bool
    ) -> Iterator[list[uuid.UUID]]:
        """Ids of images matching every term, in time order from `after` (SQLite FTS).

        Newest first from just before `after`'s microsecond when `older`, else oldest first
        from it (the caller compares exact keys, since the microsecond is included); all
        from the start without `after`. Batches grow and always end on a whole microsecond,
        so sorting what was read by (created_at, id) puts it in exact keyset order.
        """
        match = " AND ".join(fts_phrase(term) for term in terms)
        connection = session.connection()
        direction, compare = ("DESC", "<") if older else ("ASC", ">")
        if after is None:
            bound = None
        else:
            start = order_key(after)
            bound = start + _PER_MICROSECOND if older else start - 1
        size = 32
        while True:
            where = "image_fts MATCH ?" + ("" if bound is None else f" AND rowid {compare} ?")
            params = (match,) if bound is None else (match, bound)
            rows = connection.exec_driver_sql(
                f"SELECT rowid, image_id FROM search.image_fts WHERE {where} "
                f"ORDER BY rowid {direction} LIMIT ?",
                (*params, size + 1),
            ).all()
            more = len(rows) > size
            batch = rows[:size]
            if more and rows[size][0] // _PER_MICROSECOND == batch[-1][0] // _PER_MICROSECOND:
                batch += self._rest_of_microsecond(connection, match, batch[-1][0], older=older)
            yield [uuid.UUID(hex=row[1]) for row in batch]
            if not more:
                return
            bound = batch[-1][0]
            size = min(size * 4, 1024)

    def _walk_words(
        self,
        session: Session,
        words: tuple[str, ...],
        after: datetime | None,
        *,
        older: bool,
        table: str = "image_word",
    ) -> Iterator[list[uuid.UUID]]:
        """Ids of images with any of `words`, in time order from `after` (PostgreSQL).

        Each word's images are one range of the primary key of `table` (`image_word`, or
        `image_bigram` for CJK pairs); the newest (or oldest) of each are merged, a batch at a
        time, each batch continuing strictly after the last row.
        """
        if not words:
            return
        connection = session.connection()
        walk = _words_walk_sql(
            self._postgres_table(connection, table), "unnest(:words) AS w(word)",
            older=older, key=_WALK_KEYS[table],
        )  # fmt: skip
        statement = sa.text(f"{walk} {_walk_order(older)} LIMIT :size").bindparams(
            sa.bindparam("words", type_=postgresql.ARRAY(sa.Text())), *_walk_bound_types()
        )
        at, image_id = _first_bound(after, older=older)
        size = 32
        while True:
            params = {"words": list(words), "at": at, "id": image_id, "size": size}
            rows = connection.execute(statement, params).all()
            yield list(dict.fromkeys(row[1] for row in rows))  # an image under two words
            if len(rows) < size:
                return
            at, image_id = rows[-1][0], rows[-1][1]
            size = min(size * 4, 1024)

    def first_batch(
        self, session: Session, terms: list[str], after: datetime | None, *, older: bool, size: int
    ) -> FirstBatch | None:
        """The first `size` matches of the search's walk from `after`, for one statement.

        On SQLite, images whose prompt holds every term of trigram length (FTS); on
        PostgreSQL, with one such term, images with a word holding it, the words looked up
        in the same statement (none if more than _MAX_WALKED_WORDS words hold it). None
        where neither applies (no term long enough; several terms on PostgreSQL).
        """
        long_terms = [term for term in terms if len(term) >= MIN_TRIGRAM_CHARS]
        if not long_terms:
            return self._bigram_first_batch(session, terms, after, older=older, size=size)
        if self._has_fts:
            self._ensure_search_index(session)
            if after is None:
                bound = 1 << 62 if older else -1
            else:
                start = order_key(after)
                bound = start + _PER_MICROSECOND if older else start - 1
            match = " AND ".join(fts_phrase(term) for term in long_terms)
            short_terms = [term for term in terms if len(term) < MIN_TRIGRAM_CHARS]
            params = {"match": match, "bound": bound, "size": size}
            return FirstBatch(_fts_batch(older), params, size, short_terms, order_key)
        if self._engine.dialect.name != "postgresql" or len(long_terms) != 1:
            return None
        walked = self._words_batch(session.connection(), older)
        if walked is None:
            return None
        at, image_id = _first_bound(after, older=older)
        params = {
            "pattern": like_pattern(long_terms[0]), "word_cap": _MAX_WALKED_WORDS + 1,
            "max_words": _MAX_WALKED_WORDS, "at": at, "id": image_id, "size": size,
        }  # fmt: skip
        # Every term is checked with ILIKE: the words only narrow the search.
        return FirstBatch(walked, params, size, list(terms), None)

    def _bigram_first_batch(
        self, session: Session, terms: list[str], after: datetime | None, *, older: bool, size: int
    ) -> FirstBatch | None:
        """`first_batch` of terms too short for trigrams: a CJK pair's images (PostgreSQL)."""
        pair = self._bigram_to_walk(session, terms)
        if pair is None:
            return None
        walked = self._bigram_batches.get(older)
        if walked is None:
            table = self._postgres_table(session.connection(), "image_bigram")
            walk = _words_walk_sql(
                table,
                "(SELECT CAST(:bigram AS text) AS word) AS w",
                older=older,
                key=_WALK_KEYS["image_bigram"],
            )
            statement = sa.text(f"{walk} {_walk_order(older)} LIMIT :size").bindparams(
                sa.bindparam("bigram", type_=sa.Text()), *_walk_bound_types()
            )
            walked = self._bigram_batches[older] = _walked_by_time(statement)
        at, image_id = _first_bound(after, older=older)
        params = {"bigram": pair, "at": at, "id": image_id, "size": size}
        return FirstBatch(walked, params, size, list(terms), None)

    def _words_batch(self, connection: sa.Connection, older: bool) -> sa.CTE | None:
        """`walked` on PostgreSQL: the words holding :pattern, and their images from :at."""
        if older not in self._words_batches:
            table = self._postgres_table(connection, "image_word")
            vocabulary = self._postgres_table(connection, "word")
            if table is None or vocabulary is None:
                return None
            walk = _words_walk_sql(table, "words AS w", older=older)
            # The table names come from the schema; everything else is bound.
            statement = sa.text(
                f"""WITH words AS MATERIALIZED (
                      SELECT word FROM {vocabulary}
                      WHERE word LIKE (SELECT lower(:pattern)) ESCAPE '\\' LIMIT :word_cap)
                    {walk} WHERE (SELECT count(*) FROM words) <= :max_words
                    {_walk_order(older)} LIMIT :size"""
            ).bindparams(*_walk_bound_types())
            self._words_batches[older] = _walked_by_time(statement)
        return self._words_batches[older]

    def _words_to_walk(
        self, session: Session, terms: list[str]
    ) -> tuple[str, tuple[str, ...]] | None:
        """The term to walk and the words holding it, or None to search another way.

        PostgreSQL only. Of the terms found in few enough distinct words, the one with the
        fewest images (counted up to a cap) is walked; the others are checked on its rows.
        """
        connection = session.connection()
        table = self._postgres_table(connection, "image_word")
        vocabulary = self._postgres_table(connection, "word")
        if table is None or vocabulary is None:
            return None
        # Words are kept lower-cased by the database's own lower(), so the pattern is too:
        # once (a prepared statement's generic plan would otherwise lower it on every row).
        lookup = sa.text(
            f"SELECT word FROM {vocabulary} "
            "WHERE word LIKE (SELECT lower(:pattern)) ESCAPE '\\' LIMIT :n"
        )
        candidates: list[tuple[str, tuple[str, ...]]] = []
        for term in terms:
            params = {"pattern": like_pattern(term), "n": _MAX_WALKED_WORDS + 1}
            words = tuple(row[0] for row in connection.execute(lookup, params))
            if not words:
                return term, ()  # no prompt holds this term: nothing matches
            if len(words) <= _MAX_WALKED_WORDS:
                candidates.append((term, words))
        if len(candidates) <= 1:
            return candidates[0] if candidates else None
        count = sa.text(
            f"SELECT count(*) FROM (SELECT 1 FROM {table} WHERE word = ANY(:words) "
            "LIMIT :cap) AS found"
        ).bindparams(sa.bindparam("words", type_=postgresql.ARRAY(sa.Text())))
        return min(
            candidates,
            key=lambda candidate: connection.execute(
                count, {"words": list(candidate[1]), "cap": _COUNTED_MATCHES}
            ).scalar_one(),
        )

    @staticmethod
    def _rest_of_microsecond(
        connection: sa.Connection, match: str, rowid: int, *, older: bool
    ) -> list:
        """The matches beyond `rowid` in its microsecond, in walking order."""
        first = rowid - rowid % _PER_MICROSECOND
        low, high, direction = (
            (first, rowid - 1, "DESC")
            if older
            else (rowid + 1, first + _PER_MICROSECOND - 1, "ASC")
        )
        # The direction is one of two constants.
        statement = (
            "SELECT rowid, image_id FROM search.image_fts WHERE image_fts MATCH ? "
            f"AND rowid BETWEEN ? AND ? ORDER BY rowid {direction}"
        )
        return connection.exec_driver_sql(statement, (match, low, high)).all()

    def _trigram_matches(self, session: Session, terms: list[str]) -> list[uuid.UUID] | None:
        """Up to _DENSE_MATCHES + 1 ids of images matching every term; None without an index.

        The index is PostgreSQL's pg_trgm table (SQLite walks its FTS index instead).
        """
        limit = _DENSE_MATCHES + 1
        connection = session.connection()
        table = self._postgres_table(connection, "image_prompt")
        if table is None:
            return None
        conditions = " AND ".join(f"prompt ILIKE :p{i} ESCAPE '\\'" for i in range(len(terms)))
        params: dict = {f"p{i}": like_pattern(term) for i, term in enumerate(terms)}
        # The table name comes from the schema, never from input; the terms are bound.
        statement = f"SELECT image_id FROM {table} WHERE {conditions} LIMIT :limit"
        rows = connection.execute(sa.text(statement), {**params, "limit": limit}).all()
        return [row[0] for row in rows]

    def _postgres_table(self, connection: sa.Connection, name: str) -> str | None:
        """`<schema>_image_search.<name>`, if a migration could make it (PostgreSQL).

        0003 makes `image_prompt` and 0010 `image_word` and `word`, where pg_trgm exists.
        """
        if self._engine.dialect.name != "postgresql":
            return None
        if name not in self._pg_tables:
            schema = connection.exec_driver_sql("SELECT current_schema()").scalar_one()
            table = f'"{postgres_search_schema(schema)}".{name}'
            exists = connection.execute(
                sa.text("SELECT to_regclass(:name)"), {"name": table}
            ).scalar()
            self._pg_tables[name] = table if exists else ""
        return self._pg_tables[name] or None

    def merge_step(self, connection: sa.Connection) -> bool:
        """Merge some of the FTS index's segments; False once it is one (or there is none).

        Every write adds a segment, and FTS5's own merging leaves a dozen or more at a million
        images, each of which every search reads (a rare word: 0.50 ms over 14 segments, 0.14
        ms over one). A step writes at most `_MERGE_PAGES` pages, so it holds the search
        database's write lock for tens of milliseconds, not the seconds of one 'optimize'.
        """
        if not self._has_fts:
            return False
        dbapi = connection.connection.dbapi_connection
        before = dbapi.total_changes
        connection.exec_driver_sql(
            f"INSERT INTO search.image_fts(image_fts, rank) VALUES('merge', -{_MERGE_PAGES})"
        )
        connection.commit()
        return dbapi.total_changes - before > 1  # the command itself counts as one change

    def ensure_ready(self, session: Session) -> None:
        """Build or rebuild the search index now if it needs it (at start-up, not mid-search)."""
        if self._has_fts:
            self._ensure_search_index(session)

    def _ensure_search_index(self, session: Session) -> None:
        """Rebuild the derived FTS table once if it disagrees with the index (e.g. an upgrade).

        At a million images a rebuild takes about two minutes, which is why start-up does it.
        """
        if self._fts_checked:
            return
        connection = session.connection()
        images = connection.exec_driver_sql("SELECT count(*) FROM main.image").scalar_one()
        indexed = connection.exec_driver_sql("SELECT count(*) FROM search.image_fts").scalar_one()
        version = connection.exec_driver_sql("PRAGMA search.user_version").scalar_one()
        if images != indexed or version != _SEARCH_VERSION:
            for statement in _REBUILD:
                connection.exec_driver_sql(statement)
            connection.exec_driver_sql(f"PRAGMA search.user_version = {_SEARCH_VERSION}")
            session.commit()
        self._fts_checked = True
