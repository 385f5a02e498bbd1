"""What the original app did per gallery request against what we do, on Azurite.

Baseline (the Next.js ancestor): list every blob with metadata, sign a SAS for each, sort newest
first. Ours: one indexed query for the first page of 50, then 50 SAS.
"""

from __future__ import annotations

import asyncio
import os
import random
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import sqlalchemy as sa

from benchmarks.timing import p50_ms
from tests.support.azurite import Azurite
from visionary_app.models import Image
from visionary_app.services.azure_blob_store import AzureBlobStore
from visionary_app.services.blob_metadata import decode_image, encode_image
from visionary_app.services.blob_names import make_blob_name
from visionary_app.services.catalog import Catalog
from visionary_app.services.database import make_engine, upgrade_to_head
from visionary_app.services.ownership import Viewer

PAGE = 50
WORDS = "fox lighthouse neon city watercolour dusk forest robot ocean 狐 東京 🦊".split()
# Blob bytes do not change what listing costs; a small payload keeps seeding quick.
PAYLOAD = b"\x89PNG\r\n\x1a\n" + bytes(56)


def _records(count: int, rng: random.Random) -> list[Image]:
    start = datetime(2026, 1, 1, tzinfo=UTC)
    images = []
    for _ in range(count):
        created = start + timedelta(seconds=rng.randrange(0, 330 * 86400))
        image_id = uuid.UUID(int=rng.getrandbits(128), version=4)
        prompt = " ".join(rng.choice(WORDS) for _ in range(rng.randint(4, 30)))
        images.append(
            Image(
                id=image_id,
                blob_name=make_blob_name(image_id, created, "image/png"),
                prompt=prompt,
                created_at=created,
                provider="offline",
                model="offline-preview",
                width=1024,
                height=1024,
                content_type="image/png",
                byte_size=len(PAYLOAD),
            )
        )
    return images


def _index(url: str, images: list[Image]) -> Catalog:
    upgrade_to_head(url)
    engine = make_engine(url)
    rows = [image.model_dump() for image in images]
    with engine.begin() as connection:
        for start in range(0, len(rows), 10_000):
            connection.execute(sa.insert(Image), rows[start : start + 10_000])
    return Catalog(engine)


async def _upload(store: AzureBlobStore, images: list[Image]) -> None:
    await store.ensure_container()
    gate = asyncio.Semaphore(32)

    async def one(image: Image) -> None:
        async with gate:
            await store.put(
                image.blob_name, PAYLOAD, image.content_type, encode_image(image).metadata
            )

    await asyncio.gather(*(one(image) for image in images))


async def listing_page(store: AzureBlobStore) -> list[str]:
    """The baseline: every blob listed with metadata and signed, then sorted newest first."""
    tiles = []
    async for blob in store.list_blobs():
        image = decode_image(
            blob.name, blob.metadata, byte_size=blob.size, content_type=blob.content_type
        )
        tiles.append((image.created_at, (await store.signed_url(blob.name)).url))
    tiles.sort(reverse=True)
    return [url for _, url in tiles[:PAGE]]


async def list_only(store: AzureBlobStore) -> int:
    """Just the listing with metadata, for reference: no decoding, signing or sorting."""
    return len([blob async for blob in store.list_blobs()])


VIEWER = Viewer("visitor:benchmark")


async def index_page(store: AzureBlobStore, catalog: Catalog) -> list[str]:
    """Ours: the first page from the index, signed."""
    return [
        (await store.signed_url(i.blob_name)).url for i in await catalog.newest(PAGE, viewer=VIEWER)
    ]


async def run(images: int, repeats: int, index_sizes: list[int], log) -> dict:
    """Seed Azurite and SQLite, measure both ways, and return the figures."""
    rng = random.Random(2026)  # noqa: S311 (reproducible test data)
    work = Path(tempfile.mkdtemp(prefix="bench-gallery-"))
    with Azurite(work / "azurite") as azurite:
        store = AzureBlobStore.from_connection_string(
            azurite.connection_string, "images", 1800, timeout_s=30, retries=2
        )
        try:
            records = _records(images, rng)
            started = time.perf_counter()
            await _upload(store, records)
            log(f"seeded {images} blobs in Azurite in {time.perf_counter() - started:.1f} s")
            catalog = _index(f"sqlite:///{work / 'index.db'}", records)

            baseline = await listing_page(store)
            ours = await index_page(store, catalog)
            assert [u.split("?")[0] for u in baseline] == [u.split("?")[0] for u in ours]

            listing_ms = await p50_ms(lambda: listing_page(store), repeats, warmup=1)
            log(f"listing + sign + sort of {images}: p50 {listing_ms:.1f} ms")
            list_only_ms = await p50_ms(lambda: list_only(store), 3, warmup=1)
            log(f"  of which listing alone: p50 {list_only_ms:.1f} ms")
            index_ms = await p50_ms(lambda: index_page(store, catalog), repeats * 20)
            log(f"index page of {PAGE} + {PAGE} SAS: p50 {index_ms:.3f} ms")
            catalog.dispose()

            by_size = {}
            for size in index_sizes:
                url = f"sqlite:///{work / f'index-{size}.db'}"
                seeded = random.Random(size)  # noqa: S311 (reproducible test data)
                sized = _index(url, _records(size, seeded))
                by_size[size] = await p50_ms(lambda c=sized: index_page(store, c), 200)
                log(f"index page at {size:,} rows: p50 {by_size[size]:.3f} ms")
                sized.dispose()
        finally:
            await store.close()
    speedup = listing_ms / index_ms
    result = {
        "benchmark": "gallery-vs-listing",
        "images": images,
        "page_size": PAGE,
        "repeats": repeats,
        "listing_ms_p50": round(listing_ms, 2),
        "index_ms_p50": round(index_ms, 3),
        "speedup": round(speedup, 1),
        "list_only_ms_p50": round(list_only_ms, 2),
        "target_speedup": 200,
        "target_met": speedup >= 200,
    }
    for size, value in by_size.items():
        result[f"index_ms_p50_at_{size}"] = round(value, 3)
    result["cpu_count"] = os.cpu_count()
    return result
