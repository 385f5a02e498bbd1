"""What the original app did per gallery request against what we do, on Azurite.

Baseline: what the Next.js ancestor's `getImages` Azure Function did, step for step. It signs
one container SAS token (read-write, with the account key), lists every blob's name (no
metadata), glues each name to the token, sorts by the timestamp in the name, and returns every
URL. The earlier stand-in listed metadata and signed each blob, which the original did not, and
so made it look about three times slower than it was. Ours: one indexed query for the first
page of 50, then a signed read-only URL per image (from the worker's URL cache, as in the app).
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
from azure.storage.blob import ContainerSasPermissions, generate_container_sas
from azure.storage.blob.aio import ContainerClient

from benchmarks.gallery import seed_index
from benchmarks.timing import interleaved_timings_ms, timings_ms
from tests.support.azurite import Azurite
from visionary_app.models import Image
from visionary_app.services.access.ownership import Viewer
from visionary_app.services.gallery.catalog import Catalog, make_index_engine
from visionary_app.services.kit.database import upgrade_to_head
from visionary_app.services.storage.azure_blob_store import AzureBlobStore
from visionary_app.services.storage.blob_metadata import encode_image
from visionary_app.services.storage.blob_names import make_blob_name

PAGE = 50
PAGE_TARGET_MS = 0.8  # a page of 50 with its URLs, on the server
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
    engine = make_index_engine(url)
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


async def listing_page(container: ContainerClient) -> list[str]:
    """The baseline, as the original's handler: one container SAS, names only, all URLs.

    The original's names ended in `_<milliseconds>.png` and it sorted on that number; ours
    carry the time in their date folders and the index row, so this sorts on the name, which
    costs the same. Every URL is returned, as the original did (its page showed them all).
    """
    credential = container.credential
    token = generate_container_sas(
        credential.account_name,
        container.container_name,
        account_key=credential.account_key,
        permission=ContainerSasPermissions(read=True, add=True, create=True, write=True),
        expiry=datetime.now(UTC) + timedelta(minutes=30),
    )
    urls = [
        (blob.name, f"{container.url}/{blob.name}?{token}")
        async for blob in container.list_blobs(name_starts_with="images/")
    ]
    urls.sort(reverse=True)
    return [url for _, url in urls]


async def list_only(container: ContainerClient) -> int:
    """Just the listing of names, for reference: no token, no URLs, no sorting."""
    return len([blob async for blob in container.list_blobs(name_starts_with="images/")])


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
        container = ContainerClient.from_connection_string(azurite.connection_string, "images")
        try:
            records = _records(images, rng)
            started = time.perf_counter()
            await _upload(store, records)
            log(f"seeded {images} blobs in Azurite in {time.perf_counter() - started:.1f} s")
            catalog = _index(f"sqlite:///{work / 'index.db'}", records)

            baseline = await listing_page(container)
            ours = await index_page(store, catalog)
            # The original returned every image (ordered by the time in its names; ours carry
            # the day only, so the order within a day differs, at the same cost).
            listed = {url.split("?")[0] for url in baseline}
            assert len(baseline) == images and len(ours) == PAGE
            assert all(url.split("?")[0] in listed for url in ours)

            listing = await timings_ms(lambda: listing_page(container), repeats, warmup=1)
            log(f"original's handler on {images} blobs: p50 {listing.p50:.1f} ms")
            list_only_ms = (await timings_ms(lambda: list_only(container), 3, warmup=1)).p50
            log(f"  of which listing alone: p50 {list_only_ms:.1f} ms")
            ours_ms = await timings_ms(lambda: index_page(store, catalog), repeats * 20)
            log(f"index page of {PAGE} + {PAGE} URLs: p50 {ours_ms.p50:.3f} ms")
            catalog.dispose()

            catalogs = {}
            for size in index_sizes:
                started = time.perf_counter()
                catalogs[size] = seed_index(f"sqlite:///{work / f'index-{size}.db'}", size)
                log(f"seeded {size:,} rows in {time.perf_counter() - started:.0f} s")
            # In turns, so the sizes share whatever else the machine is doing.
            by_size = await interleaved_timings_ms(
                {size: (lambda c=c: index_page(store, c)) for size, c in catalogs.items()}, 1000
            )
            for size, figures in by_size.items():
                log(f"index page at {size:,} rows: {figures}")
                catalogs[size].dispose()
        finally:
            await container.close()
            await store.close()
    speedup = listing.p50 / ours_ms.p50
    result = {
        "benchmark": "gallery-vs-listing",
        "images": images,
        "page_size": PAGE,
        "repeats": repeats,
        "listing_ms_p50": round(listing.p50, 2),
        "index_ms_p50": round(ours_ms.p50, 3),
        "speedup": round(speedup, 1),
        "list_only_ms_p50": round(list_only_ms, 2),
    }
    for size, figures in by_size.items():
        result[f"index_ms_p50_at_{size}"] = round(figures.p50, 3)
        result[f"index_ms_p95_at_{size}"] = round(figures.p95, 3)
    result["target_ms"] = PAGE_TARGET_MS
    result["target_met"] = all(f.p50 <= PAGE_TARGET_MS for f in by_size.values())
    result["cpu_count"] = os.cpu_count()
    return result
