"""How big one tab's gallery state is after scrolling N images, against an unbounded list.

The gallery keeps a bounded window of pages in its state; this drives the real
`GalleryState` handlers (load, then "Load more" until N images have gone by) on a seeded
SQLite index and measures, after every page, the state as Reflex stores it per tab in Redis
(pickled) and as it is sent to the browser (JSON). Beside it: what a list that keeps every
row scrolled past (the previous behaviour) would weigh at the same point.
"""

from __future__ import annotations

import json
import os
import pickle
import tempfile
from pathlib import Path

from benchmarks.gallery import _rows, _seed
from tests.support.states import run_handler

_TARGET_BYTES = 100_000


async def run(images: int, log) -> dict:
    """Scroll `images` images in one tab; sizes per page, flat-ness and the target."""
    work = Path(tempfile.mkdtemp(prefix="bench-tab-state-"))
    os.environ["VISIONARY_DATA_DIR"] = str(work / "data")
    for key in ("VISIONARY_DATABASE_URL", "AZURE_STORAGE_CONNECTION_STRING", "REFLEX_REDIS_URL"):
        os.environ.pop(key, None)
    # Imported after the environment is set: the studio is built from it on first use.
    from reflex.state import State

    from visionary_app.settings import get_settings
    from visionary_app.state.gallery import WINDOW_PAGES, GalleryState

    get_settings.cache_clear()
    url = get_settings().resolved_database_url
    _seed(url, _rows(images + 100, seed=7)).dispose()
    tab = State(_reflex_internal_init=True)
    gallery = tab.get_substate(GalleryState.get_full_name().split("."))
    await run_handler(gallery, GalleryState.load)
    everything = list(gallery.images)
    pages: list[dict] = []
    while len(everything) < images and gallery.has_more:
        await run_handler(gallery, GalleryState.load_more)
        known = {tile.id for tile in everything}
        everything.extend(tile for tile in gallery.images if tile.id not in known)
        pages.append(
            {
                "scrolled": len(everything),
                "window": len(gallery.images),
                "pickled_bytes": len(pickle.dumps(gallery)),
                "json_bytes": len(json.dumps(gallery.dict(), default=str)),
                "unbounded_bytes": len(pickle.dumps(everything)),
            }
        )
        page = pages[-1]
        if len(pages) % 5 == 0 or len(everything) >= images:
            log(
                f"scrolled {page['scrolled']:>5}: window {page['window']:>3} tiles, "
                f"state {page['pickled_bytes'] / 1000:6.1f} KB pickled, "
                f"{page['json_bytes'] / 1000:6.1f} KB JSON; an unbounded list would be "
                f"{page['unbounded_bytes'] / 1000:7.1f} KB"
            )
    full = pages[WINDOW_PAGES:]
    last = pages[-1]
    return {
        "benchmark": "tab-state",
        "images_scrolled": last["scrolled"],
        "window_tiles": last["window"],
        "state_bytes": last["pickled_bytes"],
        "state_json_bytes": last["json_bytes"],
        "unbounded_bytes": last["unbounded_bytes"],
        "state_bytes_max": max(p["pickled_bytes"] for p in pages),
        "flat_after_window": max(p["pickled_bytes"] for p in full)
        <= 1.05 * min(p["pickled_bytes"] for p in full),
        "target_bytes": _TARGET_BYTES,
        "target_met": max(p["pickled_bytes"] for p in pages) < _TARGET_BYTES,
    }
