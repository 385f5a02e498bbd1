"""Server-side time of gallery pages and searches, at a large and a small index.

What one request costs the server: the indexed query for a page of 24 (+1 to know whether
there is more) and a signed URL for each thumbnail. Measured for the first page, a deep page
reached by cursor, and searches for a rare word, a common word and a CJK word, p50 and p95,
on SQLite or (with `--database-url`) in a fresh schema of a PostgreSQL server.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import tempfile
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import sqlalchemy as sa

from benchmarks.databases import fresh_schema
from benchmarks.timing import Timings, timings_ms
from visionary_app.models import Image
from visionary_app.services.blob_names import make_blob_name, thumbnail_blob_name
from visionary_app.services.catalog import Catalog, PageCursor
from visionary_app.services.database import make_engine, upgrade_to_head
from visionary_app.services.local_blob_store import LocalBlobStore
from visionary_app.services.ownership import Viewer
from visionary_app.services.providers.offline import render_png
from visionary_app.services.search_index import postgres_search_schema, postgres_words_added
from visionary_app.services.thumbnails import make_thumbnail
from visionary_app.services.url_signing import UrlSigner

PAGE = 24
TARGET_MS = 5.0  # p50 and p95, and within 2x of the small index
SEEDED_THUMBNAILS = 2 * PAGE
COMMON = "lighthouse"  # in about a third of the prompts
RARE = "zanzibar"  # in about one prompt in a thousand
CJK = "夜景"  # two characters: below the trigram length, so a newest-first scan


def _vocabulary(rng: random.Random) -> list[str]:
    letters = "abcdefghijklmnopqrstuvwxyz"
    return ["".join(rng.choice(letters) for _ in range(rng.randint(3, 9))) for _ in range(3000)]


def _prompt(rng: random.Random, words: list[str]) -> str:
    chosen = [rng.choice(words) for _ in range(rng.randint(8, 25))]
    if rng.random() < 0.33:
        chosen.insert(rng.randrange(len(chosen)), COMMON)
    if rng.random() < 0.001:
        chosen.append(RARE)
    if rng.random() < 0.01:
        chosen.append("東京の" + CJK)
    return " ".join(chosen)


def _rows(count: int, seed: int) -> list[dict]:
    rng = random.Random(seed)  # noqa: S311 (reproducible test data)
    words = _vocabulary(rng)
    start = datetime(2025, 1, 1, tzinfo=UTC)
    rows = []
    for index in range(count):
        created = start + timedelta(seconds=index * 300 + rng.randint(0, 299))
        image_id = uuid.UUID(int=rng.getrandbits(128), version=4)
        name = make_blob_name(image_id, created, "image/png")
        rows.append(
            {
                "id": image_id, "blob_name": name, "prompt": _prompt(rng, words),
                "created_at": created, "provider": "offline", "model": "offline-preview",
                "width": 1024, "height": 1024, "content_type": "image/png",
                "byte_size": 1_500_000, "revised_prompt": None,
                "thumbnail_blob_name": thumbnail_blob_name(name), "thumbnail_width": 512,
                "thumbnail_height": 512, "quality": None, "style": None,
                # Twenty people; one image in ten private to its owner.
                "owner": f"user:u{index % 20}",
                "visibility": "private" if index % 10 == 0 else "shared",
            }
        )  # fmt: skip
    return rows


def _seed(url: str, rows: list[dict]) -> Catalog:
    upgrade_to_head(url)
    engine = make_engine(url)
    postgres = engine.dialect.name == "postgresql"
    with engine.begin() as connection:
        if postgres:  # loaded as an import would be: triggers off, search tables filled after
            connection.exec_driver_sql("SET LOCAL session_replication_role = replica")
        for start in range(0, len(rows), 10_000):
            connection.execute(sa.insert(Image), rows[start : start + 10_000])
        if postgres:
            _fill_postgres_search(connection)
    if postgres:  # fresh statistics, as autovacuum would soon gather
        with engine.connect() as connection:
            connection.execution_options(isolation_level="AUTOCOMMIT").exec_driver_sql("ANALYZE")
    return Catalog(engine)


def _fill_postgres_search(connection: sa.Connection) -> None:
    """Fill the search tables of rows loaded with triggers off, each in one statement."""
    schema = connection.exec_driver_sql("SELECT current_schema()").scalar_one()
    search = postgres_search_schema(schema)
    copy = f'INSERT INTO "{search}".image_prompt SELECT id, prompt FROM "{schema}".image'  # noqa: S608
    connection.exec_driver_sql(copy)
    connection.exec_driver_sql(postgres_words_added(search, f'"{schema}".image'))


def seed_index(url: str, size: int) -> Catalog:
    """A migrated index at `url` holding `size` reproducible rows."""
    return _seed(url, _rows(size, seed=size))


@contextlib.contextmanager
def _database(server_url: str | None, work_dir: Path, size: int) -> Iterator[str]:
    """A fresh index database: a SQLite file, or a new schema on the PostgreSQL server."""
    if not server_url:
        yield f"sqlite:///{work_dir / f'index-{size}.db'}"
        return
    with fresh_schema(server_url, f"bench_gallery_{size}") as url:
        yield url


async def _seed_thumbnails(store: LocalBlobStore, rows: list[dict]) -> None:
    newest = sorted(rows, key=lambda r: (r["created_at"], r["id"]), reverse=True)
    for row in newest[:SEEDED_THUMBNAILS]:
        png = await asyncio.to_thread(render_png, row["prompt"], 256, 256)
        thumbnail = await asyncio.to_thread(make_thumbnail, png, 512)
        await store.put(row["thumbnail_blob_name"], thumbnail.data, "image/webp", {})


# The gallery as one of the twenty sees it: shared images, and their own private ones.
VIEWER = Viewer("user:u0")


async def _page(catalog: Catalog, store: LocalBlobStore, **query) -> list[str]:
    rows = (await catalog.newest(PAGE + 1, viewer=VIEWER, **query))[:PAGE]
    return [(await store.signed_url(r.thumbnail_blob_name or r.blob_name)).url for r in rows]


async def measure(
    size: int, repeats: int, work_dir: Path, log, server_url: str | None = None
) -> dict[str, float]:
    """Seed an index of `size` rows and time each kind of request."""
    with _database(server_url, work_dir, size) as url:
        return await _measure(url, size, repeats, work_dir, log)


async def _measure(url: str, size: int, repeats: int, work_dir: Path, log) -> dict[str, float]:
    rows = _rows(size, seed=size)
    started = time.perf_counter()
    catalog = _seed(url, rows)
    store = LocalBlobStore(
        work_dir / f"blobs-{size}", UrlSigner(b"bench-key-0123456789abcdef", 1800)
    )
    await _seed_thumbnails(store, rows)
    seconds = time.perf_counter() - started
    log(f"seeded {size:,} rows (+{SEEDED_THUMBNAILS} thumbnails) in {seconds:.1f} s")
    ordered = sorted(rows, key=lambda r: (r["created_at"], r["id"]), reverse=True)
    middle = ordered[len(ordered) // 2]
    deep = PageCursor(middle["created_at"], middle["id"])
    await _page(catalog, store, search=RARE)  # builds nothing, but warms the FTS attachment
    timings: dict[str, Timings] = {
        "first_page": await timings_ms(lambda: _page(catalog, store), repeats),
        "deep_page": await timings_ms(lambda: _page(catalog, store, before=deep), repeats),
        "search_rare": await timings_ms(lambda: _page(catalog, store, search=RARE), repeats),
        "search_common": await timings_ms(lambda: _page(catalog, store, search=COMMON), repeats),
        "search_cjk": await timings_ms(lambda: _page(catalog, store, search=CJK), repeats),
    }
    figures: dict[str, float] = {}
    for name, timing in timings.items():
        figures[f"{name}_ms_p50"] = timing.p50
        figures[f"{name}_ms_p95"] = timing.p95
        log(f"  {size:>9,} rows  {name:<14} {timing}")
    for quantile in ("p50", "p95"):
        figures[f"search_ms_{quantile}"] = max(
            figures[f"search_{kind}_ms_{quantile}"] for kind in ("rare", "common", "cjk")
        )
    catalog.dispose()
    return figures


async def run(images: int, baseline: int, repeats: int, log, server_url: str | None = None) -> dict:
    """Both sizes, side by side, with the targets."""
    work = Path(tempfile.mkdtemp(prefix="bench-gallery-"))
    large = await measure(images, repeats, work, log, server_url)
    small = await measure(baseline, repeats, work, log, server_url)
    keys = [
        f"{kind}_ms_{quantile}"
        for kind in ("first_page", "deep_page", "search_rare", "search_common")
        for quantile in ("p50", "p95")
    ]
    result: dict = {
        "benchmark": "gallery",
        "database": "postgresql" if server_url else "sqlite",
        "images": images,
        "page_size": PAGE,
    }
    result.update({key: round(value, 3) for key, value in large.items()})
    result.update({f"{key}_at_{baseline}": round(small[key], 3) for key in large})
    result["target_ms"] = TARGET_MS
    result["ratios_vs_baseline"] = {k: round(large[k] / max(small[k], 0.001), 2) for k in keys}
    result["missed"] = [
        k for k in keys if large[k] > TARGET_MS or large[k] > 2 * max(small[k], 0.001)
    ]
    result["target_met"] = not result["missed"]
    return result
