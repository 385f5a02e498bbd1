"""Search by prompt: any word, any script, newest first, paged like the gallery."""

import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlmodel import Session

from alembic import command
from tests.conftest import ANYONE, indexed_image
from visionary_app.models import Image, Visibility
from visionary_app.services.access.ownership import Viewer
from visionary_app.services.gallery import catalog as catalog_module
from visionary_app.services.gallery import search_index
from visionary_app.services.gallery.catalog import Catalog, PageCursor, make_index_engine
from visionary_app.services.gallery.search_index import postgres_search_schema
from visionary_app.services.kit.database import alembic_config, upgrade_to_head

T0 = datetime(2026, 11, 25, tzinfo=UTC)
PROMPTS = [
    "A red FOX in the snow",
    "東京の夜景、ネオン、雨",
    "лиса в лесу, акварель",
    "🦊 emoji fox on a skateboard",
    "100% pure_cotton texture",
    "a lighthouse at dusk",
]


def _row(prompt: str, seconds: int) -> Image:
    return indexed_image(T0 + timedelta(seconds=seconds), prompt)


@pytest.fixture(params=["sqlite", "postgres"])
def any_catalog(request, catalog):
    if request.param == "sqlite":
        yield catalog
        return
    engine = make_index_engine(request.getfixturevalue("postgres_url"))
    yield Catalog(engine)
    engine.dispose()


async def _found(catalog: Catalog, query: str) -> list[str]:
    return [image.prompt for image in await catalog.newest(50, search=query, viewer=ANYONE)]


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("fox", ["🦊 emoji fox on a skateboard", "A red FOX in the snow"]),
        ("FOX snow", ["A red FOX in the snow"]),
        ("東京", ["東京の夜景、ネオン、雨"]),
        ("夜景", ["東京の夜景、ネオン、雨"]),
        ("ネオン", ["東京の夜景、ネオン、雨"]),
        ("лиса", ["лиса в лесу, акварель"]),
        ("🦊", ["🦊 emoji fox on a skateboard"]),
        ("100%", ["100% pure_cotton texture"]),
        ("pure_cotton", ["100% pure_cotton texture"]),
        ("%", ["100% pure_cotton texture"]),
        ("lighthouse dusk", ["a lighthouse at dusk"]),
        ("zebra", []),
        ("   ", list(reversed(PROMPTS))),
        # Control characters are in no prompt; NUL used to break SQLite's FTS (a 503).
        ("fox\x00", ["🦊 emoji fox on a skateboard", "A red FOX in the snow"]),
        ("\x99lighthouse\tdusk\x1b", ["a lighthouse at dusk"]),
    ],
)
async def test_search_finds_any_word(any_catalog, query, expected):
    await any_catalog.add_many([_row(p, i) for i, p in enumerate(PROMPTS)])
    assert await _found(any_catalog, query) == expected


async def test_common_and_rare_words_take_different_paths_with_the_same_answers(
    any_catalog, monkeypatch
):
    await any_catalog.add_many([_row(f"common word {i} {'rare' if i % 7 == 0 else ''}", i)
                                for i in range(60)])  # fmt: skip
    by_index = await _found(any_catalog, "common rare")
    # Every term is in too many words to walk and counts as common (PostgreSQL), and a
    # walk gives up at once (SQLite).
    monkeypatch.setattr(search_index, "_MAX_WALKED_WORDS", 0)
    monkeypatch.setattr(search_index, "_DENSE_MATCHES", 1)
    monkeypatch.setattr(catalog_module, "_MAX_WALKED", 1)
    by_scan = await _found(any_catalog, "common rare")
    assert by_index == by_scan and len(by_index) == 9


@pytest.mark.parametrize("older", [True, False])
async def test_a_search_walk_pages_images_of_one_microsecond_in_exact_order(any_catalog, older):
    """Images of the same microsecond share a rowid range; pages must still follow (time, id).

    On PostgreSQL the same walk goes word by word ("harbour" and "harbours", so an image
    under both words is met twice).
    """
    catalog = any_catalog
    same = T0 + timedelta(microseconds=123_457)
    rows = [indexed_image(same, f"twin harbour {i} harbours") for i in range(70)]
    rows += [_row(f"harbour {i}", i) for i in range(40)]
    rows += [indexed_image(same, "twin but elsewhere")]
    await catalog.add_many(rows)
    everything = await catalog.newest(500, search="harbour", viewer=ANYONE)
    assert len(everything) == 110
    expected = [image.id for image in everything]
    seen, cursor = [], None
    if not older:  # page upwards from below the oldest
        oldest = everything[-1]
        cursor = PageCursor(oldest.created_at - timedelta(seconds=1), oldest.id)
    for _ in range(100):
        if older:
            page = await catalog.newest(7, before=cursor, search="harbour", viewer=ANYONE)
        else:
            page = await catalog.newer(7, cursor, search="harbour", viewer=ANYONE)
        if not page:
            break
        seen = seen + [image.id for image in page] if older else [image.id for image in page] + seen
        cursor = PageCursor.after(page[-1] if older else page[0])
    assert seen == expected


async def test_search_rowids_are_the_images_times(catalog, database_url):
    """The triggers' SQL and `order_key` agree to the microsecond, before and after a rebuild."""
    times = [T0 + timedelta(microseconds=m) for m in (0, 1, 999_999, 86_400_000_001)]
    await catalog.add_many([indexed_image(t, f"timed {i}") for i, t in enumerate(times)])
    await catalog.add_many([indexed_image(times[0], "timed twin")])
    path = database_url.removeprefix("sqlite:///")

    def rowids() -> dict[str, int]:
        with sqlite3.connect(search_index.search_database_path(path)) as connection:
            return dict(connection.execute("SELECT prompt, rowid FROM image_fts").fetchall())

    expected = {f"timed {i}": search_index.order_key(t) for i, t in enumerate(times)}
    assert {p: r for p, r in rowids().items() if p != "timed twin"} == expected
    assert rowids()["timed twin"] == search_index.order_key(times[0]) + 1
    with sqlite3.connect(search_index.search_database_path(path)) as connection:
        connection.execute("PRAGMA user_version = 1")  # an older layout: rebuilt on first use
    again = Catalog(make_index_engine(database_url))
    listed = [image.prompt for image in await again.newest(50, viewer=ANYONE)]
    assert await _found(again, "timed") == listed  # twins in id order, like the gallery
    rebuilt = rowids()
    twins = {rebuilt.pop("timed 0"), rebuilt.pop("timed twin")}
    first = expected.pop("timed 0")
    assert twins == {first, first + 1}  # in id order now
    assert rebuilt == expected
    again.dispose()


async def test_postgres_trigram_table_follows_the_index_and_serves_ilike(postgres_url):
    engine = make_index_engine(postgres_url)
    catalog = Catalog(engine)
    kept, changed, dropped = _row("kept 夜景", 1), _row("before", 2), _row("dropped", 3)
    await catalog.add_many([kept, changed, dropped])
    await catalog.remove(dropped.id)
    with engine.begin() as connection:
        connection.execute(
            sa.update(Image).where(Image.id == changed.id).values(prompt="after edit")
        )
        schema = connection.exec_driver_sql("SELECT current_schema()").scalar_one()
        table = f'"{postgres_search_schema(schema)}".image_prompt'
        copied = dict(connection.exec_driver_sql(f"SELECT image_id, prompt FROM {table}").all())
        connection.exec_driver_sql("SET LOCAL enable_seqscan = off")
        plan = "\n".join(
            row[0]
            for row in connection.exec_driver_sql(
                f"EXPLAIN SELECT image_id FROM {table} WHERE prompt ILIKE '%%夜景%%'"
            )
        )
    assert copied == {kept.id: "kept 夜景", changed.id: "after edit"}
    assert "ix_image_prompt_trgm" in plan
    assert await _found(catalog, "edit") == ["after edit"]
    engine.dispose()


def _search_rows(engine: sa.Engine, table: str, key: str) -> set[tuple[str, str]]:
    """(key, image id) of every row of one PostgreSQL search table."""
    with engine.begin() as connection:
        schema = connection.exec_driver_sql("SELECT current_schema()").scalar_one()
        name = f'"{postgres_search_schema(schema)}".{table}'
        rows = connection.exec_driver_sql(f"SELECT {key}, image_id FROM {name}").all()
    return {(value, str(image_id)) for value, image_id in rows}


def _words(engine: sa.Engine) -> set[tuple[str, str]]:
    return _search_rows(engine, "image_word", "word")


async def test_postgres_word_table_follows_the_index_and_serves_the_walk(postgres_url):
    engine = make_index_engine(postgres_url)
    catalog = Catalog(engine)
    # One 1,000-character word: kept as overlapping pieces, each under the index's limit.
    long_word = "x" * 640 + "needle" + "y" * 354
    kept, changed = _row("Kept  夜景\tGLOW", 1), _row("before edit", 2)
    dropped, long = _row("dropped", 3), _row(f"a {long_word}", 4)
    await catalog.add_many([kept, changed, dropped, long])
    await catalog.remove(dropped.id)
    await catalog.set_visibility(kept.id, Visibility.PRIVATE)  # touches no word
    with engine.begin() as connection:
        connection.execute(
            sa.update(Image).where(Image.id == changed.id).values(prompt="After edit")
        )
    pieces = {long_word[s : s + 400] for s in (0, 200, 400, 600)}
    expected = {("kept", kept.id), ("夜景", kept.id), ("glow", kept.id)}
    expected |= {("after", changed.id), ("edit", changed.id), ("a", long.id)}
    expected |= {(piece, long.id) for piece in pieces}
    assert _words(engine) == {(word, str(image_id)) for word, image_id in expected}
    assert all(len(piece) <= search_index.WORD_PIECE_CHARS for piece, _ in expected)
    owner = Viewer(kept.owner)
    assert [i.id for i in await catalog.newest(9, search="NEEDLE", viewer=owner)] == [long.id]
    assert [i.id for i in await catalog.newest(9, search="lo 夜", viewer=owner)] == [kept.id]
    assert await catalog.newest(9, search="glow", viewer=ANYONE) == []  # private now
    with Session(engine) as session:
        plan = search_index.PromptSearch(engine).prepare(session, ["dit", "after"])
    assert plan.walk_words in {("edit",), ("after",)} and plan.like_terms == ["dit", "after"]
    engine.dispose()


async def test_postgres_words_of_images_from_before_0010_are_filled_in(postgres_url):
    command.downgrade(alembic_config(postgres_url), "0009")
    engine = make_index_engine(postgres_url)
    older = _row("Harbour lights", 1)
    # As a row was written then: without the columns later migrations added.
    with engine.begin() as connection:
        connection.execute(
            sa.insert(Image.__table__).values(**older.model_dump(exclude={"credentials", "preset"}))
        )
    # (Today's code cannot page the schema of 0009: the image table has gained a column since.)
    upgrade_to_head(postgres_url)
    assert _words(engine) == {("harbour", str(older.id)), ("lights", str(older.id))}
    newer = Catalog(engine)  # a worker started after the upgrade walks the words
    with Session(engine) as session:
        plan = search_index.PromptSearch(engine).prepare(session, ["light"])
    assert plan.walk_words == ("lights",)
    assert await _found(newer, "light") == ["Harbour lights"]
    engine.dispose()


def _bigrams(engine: sa.Engine) -> set[tuple[str, str]]:
    return _search_rows(engine, "image_bigram", "bigram")


async def test_postgres_cjk_pair_table_follows_the_index_and_serves_two_character_terms(
    postgres_url,
):
    engine = make_index_engine(postgres_url)
    catalog = Catalog(engine)
    tokyo, seoul = _row("東京の夜景、雨", 1), _row("서울 야경 photo", 2)
    mixed, changed, dropped = _row("ab夜景cd 桜", 3), _row("before 富士", 4), _row("消える", 5)
    await catalog.add_many([tokyo, seoul, mixed, changed, dropped])
    await catalog.remove(dropped.id)
    await catalog.set_visibility(seoul.id, Visibility.PRIVATE)  # touches no pair
    with engine.begin() as connection:
        connection.execute(sa.update(Image).where(Image.id == changed.id).values(prompt="山と川"))
    # Pairs inside runs of CJK characters only: none across punctuation, spaces or Latin.
    expected = [("東京", tokyo), ("京の", tokyo), ("の夜", tokyo), ("夜景", tokyo)]
    expected += [("서울", seoul), ("야경", seoul), ("夜景", mixed), ("山と", changed)]
    expected += [("と川", changed)]
    assert _bigrams(engine) == {(pair, str(image.id)) for pair, image in expected}
    with Session(engine) as session:
        search = search_index.PromptSearch(engine)
        plan = search.prepare(session, ["夜景"])
        latin = search.prepare(session, ["ab"])
        mixed_pair = search.prepare(session, ["b夜"])
    assert plan.walk_table == "image_bigram" and plan.walk_words == ("夜景",)
    assert latin.walk_words is None and mixed_pair.walk_words is None  # scanned
    assert await _found(catalog, "夜景") == ["ab夜景cd 桜", "東京の夜景、雨"]
    assert await _found(catalog, "夜景 cd") == ["ab夜景cd 桜"]
    assert await _found(catalog, "b夜") == ["ab夜景cd 桜"]
    assert await _found(catalog, "富士") == []  # edited away
    assert await _found(catalog, "야경") == []  # private now
    owner = Viewer(seoul.owner)
    assert [i.id for i in await catalog.newest(9, search="야경", viewer=owner)] == [seoul.id]
    engine.dispose()


@pytest.mark.parametrize("database", ["sqlite", "postgres"])
async def test_a_search_is_one_statement_when_a_batch_of_matches_holds_the_page(request, database):
    url = request.getfixturevalue({"sqlite": "database_url", "postgres": "postgres_url"}[database])
    engine = make_index_engine(url)
    catalog = Catalog(engine)
    rows = [_row(f"harbour {i}", i) for i in range(40)]
    private = {"owner": "user:bob", "visibility": Visibility.PRIVATE.value}
    old = T0 - timedelta(hours=1)
    rows += [indexed_image(old + timedelta(seconds=i), f"Harbours at night {i}", **private)
             for i in range(70)]  # fmt: skip
    rows += [_row(f"a quiet harbour cove {i}", 200 + i) for i in range(3)]
    await catalog.add_many(rows)
    statements: list[str] = []

    def count(_connection, _cursor, statement, *_args) -> None:
        statements.append(statement)

    async def searched(query: str, **page) -> list[str]:
        await _found(catalog, query)  # warm: the search tables' names are looked up once
        statements.clear()
        found = await catalog.newest(10, search=query, viewer=ANYONE, **page)
        return [image.prompt for image in found]

    sa.event.listen(engine, "before_cursor_execute", count)
    try:
        # The newest matches are visible: the words, the walk and the rows at once.
        expected = [f"a quiet harbour cove {i}" for i in (2, 1, 0)]
        expected += [f"harbour {i}" for i in range(39, 32, -1)]
        assert await searched("harbour") == expected and len(statements) == 1
        # The whole walk fits in a batch: a short last page is also one statement.
        assert await searched("quiet") == expected[:3] and len(statements) == 1
        # Bob's private images fill the first batch: the walk goes on, and Bob sees his own.
        assert await searched("harbours") == [] and len(statements) > 1
        bob = await catalog.newest(3, search="harbours", viewer=Viewer("user:bob"))
        assert [image.prompt for image in bob] == [f"Harbours at night {i}" for i in (69, 68, 67)]
        if database == "postgres":  # a CJK pair walks its own table in the same one statement
            await catalog.add_many([_row(f"港の夜景 {i}", 300 + i) for i in range(12)])
            expected = [f"港の夜景 {i}" for i in range(11, 1, -1)]
            assert await searched("夜景") == expected and len(statements) == 1
    finally:
        sa.event.remove(engine, "before_cursor_execute", count)
        engine.dispose()


def test_a_postgres_scan_walks_the_time_index_alone_for_its_transaction_only(postgres_url):
    engine = make_index_engine(postgres_url)
    settings = ("enable_seqscan", "enable_bitmapscan", "max_parallel_workers_per_gather")

    def shown(session: Session) -> list[str]:
        return [session.exec(sa.text(f"SHOW {name}")).scalar_one() for name in settings]

    try:
        with Session(engine) as session:
            before = shown(session)
            catalog_module._scan_in_time_order(session)
            assert shown(session) == ["off", "off", "0"]  # no parallel workers for one page
            session.rollback()
            assert shown(session) == before
    finally:
        engine.dispose()


@pytest.mark.parametrize(
    ("term", "prompt"), [("harbour", "harbour {}"), ("夜景", "東京の夜景{}枚目")]
)
async def test_search_pages_never_repeat_or_skip(any_catalog, term, prompt):
    """Pages of a search, older and newer, are the gallery's order filtered, on both databases.

    A two-character CJK term walks its pairs on PostgreSQL and is scanned on SQLite.
    """
    await any_catalog.add_many([_row(prompt.format(i), i // 2) for i in range(23)])
    await any_catalog.add_many([_row(f"other {i} 夜", i) for i in range(10)])
    everything = await any_catalog.newest(100, viewer=ANYONE)
    expected = [image.id for image in everything if term in image.prompt]
    seen, cursor = [], None
    for _ in range(50):  # bounded: a cursor that does not advance must fail, not hang
        page = await any_catalog.newest(5, before=cursor, search=term, viewer=ANYONE)
        if not page:
            break
        seen += [image.id for image in page]
        cursor = PageCursor.after(page[-1])
    assert seen == expected and len(set(seen)) == 23
    oldest = everything[-1]  # start just below it: pages upwards include it
    upwards, cursor = [], PageCursor(oldest.created_at - timedelta(seconds=1), oldest.id)
    for _ in range(50):
        page = await any_catalog.newer(5, cursor, search=term, viewer=ANYONE)
        if not page:
            break
        upwards = [image.id for image in page] + upwards
        cursor = PageCursor.after(page[0])
    assert upwards == expected


async def test_search_index_is_rebuilt_when_missing(database_url, tmp_path: Path):
    first = Catalog(make_index_engine(database_url))
    await first.add_many([_row("before the search index", 1)])
    first.dispose()
    for path in tmp_path.glob("*.search.db*"):
        path.unlink()
    again = Catalog(make_index_engine(database_url))
    assert await _found(again, "search index") == ["before the search index"]
    await again.remove((await again.newest(1, viewer=ANYONE))[0].id)
    assert await _found(again, "search index") == []
    again.dispose()


def _fts_segments(catalog: Catalog) -> int:
    with catalog._engine.connect() as connection:
        query = "SELECT count(DISTINCT segid) FROM search.image_fts_idx"
        return connection.exec_driver_sql(query).scalar_one()


async def test_tidying_merges_the_search_index_into_one_piece_with_the_same_answers(catalog):
    for i in range(40):  # one transaction each, as images arrive: a new piece each time
        await catalog.add(_row(f"harbour light {i} {'zanzibar' if i % 9 == 0 else ''}", i))
    before = await _found(catalog, "zanzibar"), await _found(catalog, "light")
    assert _fts_segments(catalog) > 1
    assert await catalog.tidy_search(pause_s=0) >= 1
    assert _fts_segments(catalog) == 1
    assert (await _found(catalog, "zanzibar"), await _found(catalog, "light")) == before
    assert len(before[0]) == 5 and len(before[1]) == 40
    assert await catalog.tidy_search(pause_s=0) == 0  # nothing left to do


async def test_tidying_a_postgres_index_does_nothing(postgres_url):
    engine = make_index_engine(postgres_url)
    try:
        assert await Catalog(engine).tidy_search() == 0
    finally:
        engine.dispose()
