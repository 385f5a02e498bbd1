"""What the first screen of the gallery costs the browser, and a screenshot for the README."""

from __future__ import annotations

import uuid
from pathlib import Path

from playwright.sync_api import Browser, expect

from tests.e2e.conftest import ITEM, RunningApp, keep_screenshot, open_studio, seed_images

TILES = 24
BUDGET_BYTES = 1_500_000


def test_first_screen_of_24_tiles_fits_the_budget(browser: Browser, app: RunningApp, tmp_path):
    run = uuid.uuid4().hex[:6]
    seed_images(app, [f"full size sample {i} {run}" for i in range(TILES)], size="1024x1024")
    context = browser.new_context(viewport={"width": 1400, "height": 5000})
    page = context.new_page()
    # This screen is taller than a page of tiles, so the gallery would rightly load the next
    # page to fill it, sooner or later as the socket and the first paint race. The budget is
    # for the first page: the paging observer stays out here (tests/e2e/test_gallery_actions
    # pages through everything).
    page.add_init_script(
        "window.IntersectionObserver = class { observe() {} unobserve() {} disconnect() {} }"
    )
    sizes: dict[str, int] = {}
    kinds: dict[str, str] = {}

    def on_response(response) -> None:
        try:
            body = response.body()
        except Exception:
            return
        sizes[response.url] = len(body)
        kinds[response.url] = response.request.resource_type

    page.on("response", on_response)
    # Bytes on the wire (compressed, headers included), as Chromium's network panel counts them.
    wire: list[float] = []
    cdp = context.new_cdp_session(page)
    cdp.send("Network.enable")
    cdp.on("Network.loadingFinished", lambda event: wire.append(event["encodedDataLength"]))
    open_studio(page, app.url)
    tiles = page.locator(ITEM)
    expect(tiles).to_have_count(TILES)
    page.wait_for_function(
        f"() => [...document.querySelectorAll('{ITEM} img')].every(i => i.complete "
        "&& i.naturalWidth > 0)"
    )
    page.wait_for_timeout(500)  # let the last loadingFinished events arrive
    image_bytes = sum(size for url, size in sizes.items() if kinds[url] == "image")
    wire_bytes = sum(wire)
    full_size = sum(row_size for prompt, row_size in _byte_sizes(app) if prompt.endswith(run))
    print(
        f"\nfirst screen of {TILES} tiles: thumbnails {image_bytes / 1e6:.2f} MB, "
        f"everything on the wire (page, scripts, styles, thumbnails) {wire_bytes / 1e6:.2f} MB "
        f"(full-size images alone would be "
        f"{full_size / 1e6:.1f} MB); budget {BUDGET_BYTES / 1e6:.1f} MB"
    )
    assert wire_bytes <= BUDGET_BYTES
    assert image_bytes <= wire_bytes
    assert full_size > 5 * image_bytes

    if app.store_kind == "local":
        shot = tmp_path / "gallery.png"
        page.set_viewport_size({"width": 1280, "height": 860})
        page.evaluate("window.scrollTo(0, 0)")
        page.screenshot(path=str(shot))
        keep_screenshot(shot, "gallery.png")
    context.close()


def _byte_sizes(app: RunningApp) -> list[tuple[str, int]]:
    import contextlib
    import sqlite3

    with contextlib.closing(sqlite3.connect(Path(app.data_dir) / "visionary.db")) as db:
        return db.execute("SELECT prompt, byte_size FROM image").fetchall()


def test_the_prerendered_page_hydrates_without_errors_or_shifts(browser: Browser, app: RunningApp):
    # React throws the prerendered page away and draws it again on any mismatch (error #418),
    # which costs a phone most of its start-up time; an invalid nesting (a <p> in a <p>) did it.
    seed_images(app, [f"hydration sample {uuid.uuid4().hex[:6]}"])
    context = browser.new_context(viewport={"width": 412, "height": 823})
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.on("console", lambda message: message.type == "error" and errors.append(message.text))
    page.add_init_script(
        "window.__shift = 0; new PerformanceObserver(list => list.getEntries().forEach("
        "e => { if (!e.hadRecentInput) window.__shift += e.value })).observe("
        "{type: 'layout-shift', buffered: true})"
    )
    try:
        open_studio(page, app.url)
        expect(page.locator(ITEM).first).to_be_visible()
        page.wait_for_timeout(1_000)
        shift = page.evaluate("window.__shift")
    finally:
        context.close()
    assert errors == []
    # The options' model name arrives after the first paint; it must not push the page down.
    assert shift < 0.01, f"cumulative layout shift {shift:.3f}"
