"""Peak memory of a streamed zip of N images, against building the same zip in memory.

Stores N images of `--kb` KiB each (random bytes: as incompressible as real PNGs and JPEGs)
in a local blob store, then downloads them as one zip the way the app does
(`gallery.zip_images`, stream-zip), consuming the chunks as a socket would. Python's own
allocation peak (tracemalloc) is measured for 1/100, 1/10 and all of N: a streamed zip's peak
stays flat (one image and stream-zip's buffers), while the baseline (`zipfile` into a
BytesIO, the whole archive in memory) grows with N.
"""

from __future__ import annotations

import io
import os
import tempfile
import time
import tracemalloc
import uuid
import zipfile
from datetime import UTC, datetime, timedelta
from pathlib import Path


async def _stored(count: int, kb: int, work: Path):
    from visionary_app.models import Image
    from visionary_app.services.storage.blob_names import make_blob_name
    from visionary_app.services.storage.local_blob_store import LocalBlobStore
    from visionary_app.services.storage.url_signing import UrlSigner

    store = LocalBlobStore(work / "blobs", UrlSigner(b"bench-key-0123456789abcdef012345", 1800))
    images = []
    start = datetime(2026, 12, 1, tzinfo=UTC)
    for index in range(count):
        image_id = uuid.uuid4()
        created = start + timedelta(seconds=index)
        name = make_blob_name(image_id, created, "image/png")
        await store.put(name, os.urandom(kb * 1024), "image/png", {})
        images.append(
            Image(
                id=image_id, blob_name=name, prompt=f"benchmark image {index}",
                created_at=created, provider="offline", model="offline-preview", width=1024,
                height=1024, content_type="image/png", byte_size=kb * 1024,
            )
        )  # fmt: skip
    return store, images


async def _streamed(store, images) -> tuple[int, int, float]:
    from visionary_app.services.gallery import zip_images

    tracemalloc.reset_peak()
    started, total = time.perf_counter(), 0
    async for chunk in zip_images(store, images):
        total += len(chunk)  # sent on, then dropped, as a socket does
    return total, tracemalloc.get_traced_memory()[1], time.perf_counter() - started


async def _in_memory(store, images) -> tuple[int, int, float]:
    tracemalloc.reset_peak()
    started, buffer = time.perf_counter(), io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_STORED) as archive:
        for image in images:
            archive.writestr(image.blob_name.rsplit("/", 1)[1], await store.read(image.blob_name))
    total = len(buffer.getvalue())
    return total, tracemalloc.get_traced_memory()[1], time.perf_counter() - started


async def run(images: int, kb: int, log) -> dict:
    """Zip 1/100, 1/10 and all of `images`; peaks side by side, and whether they stay flat."""
    work = Path(tempfile.mkdtemp(prefix="bench-zip-"))
    store, stored = await _stored(images, kb, work)
    counts = sorted({max(1, images // 100), max(1, images // 10), images})
    rows = []
    tracemalloc.start()
    for count in counts:
        size, streamed_peak, streamed_s = await _streamed(store, stored[:count])
        _, memory_peak, memory_s = await _in_memory(store, stored[:count])
        rows.append(
            {
                "images": count,
                "zip_mb": round(size / 1e6, 1),
                "streamed_peak_mb": round(streamed_peak / 1e6, 2),
                "in_memory_peak_mb": round(memory_peak / 1e6, 1),
                "streamed_mb_per_s": round(size / 1e6 / streamed_s, 1),
                "in_memory_mb_per_s": round(size / 1e6 / memory_s, 1),
            }
        )
        row = rows[-1]
        log(
            f"{count:>5} images, zip {row['zip_mb']:>7.1f} MB: streamed peak "
            f"{row['streamed_peak_mb']:>6.2f} MB ({row['streamed_mb_per_s']} MB/s); built in "
            f"memory (baseline) peak {row['in_memory_peak_mb']:>7.1f} MB"
        )
    tracemalloc.stop()
    flat = rows[-1]["streamed_peak_mb"] <= 1.5 * rows[0]["streamed_peak_mb"] + 1
    log(
        f"streamed peak {'stays flat' if flat else 'GROWS'} from {rows[0]['images']} to "
        f"{rows[-1]['images']} images: {rows[0]['streamed_peak_mb']} -> "
        f"{rows[-1]['streamed_peak_mb']} MB (baseline {rows[0]['in_memory_peak_mb']} -> "
        f"{rows[-1]['in_memory_peak_mb']} MB)"
    )
    return {"benchmark": "zip", "image_kb": kb, "runs": rows, "streamed_peak_flat": flat}
