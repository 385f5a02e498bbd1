"""Browsing and acting on images in a real browser: scrolling, lightbox, download, delete, stars."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid

import pytest
from playwright.sync_api import Page, expect
from playwright.sync_api import TimeoutError as PlaywrightTimeoutError

from tests.e2e.conftest import ITEM, RunningApp, seed_images, visitor_owner
from tests.support.app_server import ROOT
from visionary_app.state.gallery import WINDOW_PAGES

PAGE_SIZE = 24
WINDOW = WINDOW_PAGES * PAGE_SIZE


@pytest.fixture(scope="module")
def many_images(app: RunningApp) -> list[str]:
    """More than a tab's window of pages, oldest first."""
    run = uuid.uuid4().hex[:6]
    prompts = [f"scroll sample {index:03d} {run}" for index in range(WINDOW + 5)]
    seed_images(app, prompts)
    return prompts


def _seed_and_show(page: Page, app: RunningApp, prompt: str):
    """Store one image of this browser's behind the app's back, refresh, return its tile."""
    seed_images(app, [prompt], owner=visitor_owner(page))
    page.click("#refresh-gallery")
    tile = page.locator(ITEM).filter(has_text=prompt)
    expect(tile).to_have_count(1)
    return tile


def _ids(page: Page) -> list[str]:
    return page.locator(ITEM).evaluate_all("els => els.map(e => e.dataset.imageId)")


def test_scrolling_loads_more_without_repeats(many_images: list[str], page: Page):
    # The page opens after the images are stored (fixture order), so its first load has them.
    expect(page.locator(ITEM).first.locator(".tile-prompt")).to_have_text(many_images[-1])
    # A page of tiles shorter than the screen plus the observer's margin loads the next page
    # at once, so the first load shows one page or two.
    page.wait_for_function(f"document.querySelectorAll('{ITEM}').length >= {PAGE_SIZE}")
    loaded = page.locator(ITEM).count()
    assert loaded in (PAGE_SIZE, 2 * PAGE_SIZE)
    page.locator("#gallery-end").scroll_into_view_if_needed()
    expect(page.locator(ITEM)).not_to_have_count(loaded)
    ids = _ids(page)
    assert len(ids) == len(set(ids))
    shown = page.locator(f"{ITEM} .tile-prompt").all_inner_texts()
    newest_first = list(reversed(many_images))
    assert [p for p in shown if p in many_images] == newest_first[: len(shown)]


def _press_until_gone(page: Page, button_id: str, seen: list[str]) -> None:
    """Press a paging button from the keyboard until it goes; `seen` collects new ids in order."""
    for _ in range(20):
        button = page.locator(f"#{button_id}")
        if button.count() == 0:
            return
        before = _ids(page)
        try:
            button.focus(timeout=2_000)
            # Where a keyboard's focus goes, the browser scrolls (Playwright's focus does not).
            button.scroll_into_view_if_needed(timeout=2_000)
        except PlaywrightTimeoutError:
            continue  # the scroll observer loaded the last page first: the button is gone
        page.keyboard.press("Enter")
        page.wait_for_function(
            f"ids => JSON.stringify([...document.querySelectorAll('{ITEM}')]"
            ".map(e => e.dataset.imageId)) !== JSON.stringify(ids) "
            f"|| !document.querySelector('#{button_id}')",
            arg=before,
        )
        if button.count():
            expect(button).to_be_focused()  # the keyboard stays where it was
        after = _ids(page)
        assert len(after) <= WINDOW  # the tab keeps a bounded window
        seen.extend(image_id for image_id in after if image_id not in seen)
    raise AssertionError(f"#{button_id} never went away")


def _visible_from(app: RunningApp, owner: str, top_id: str) -> tuple[set, set]:
    """Ids of the images `owner` may see: those up to `top_id` in the gallery's order, and newer."""
    rows = app.query(
        "SELECT id, created_at FROM image WHERE visibility = 'shared' OR owner = ?", owner
    )
    ranked = {
        uuid.UUID(image_id): (created_at, uuid.UUID(image_id)) for image_id, created_at in rows
    }
    top = ranked[uuid.UUID(top_id)]
    return {i for i, rank in ranked.items() if rank <= top}, {
        i for i, r in ranked.items() if r > top
    }


def test_load_more_and_newer_page_through_everything_from_the_keyboard(
    page: Page, app: RunningApp, many_images: list[str]
):
    expect(page.locator(ITEM)).to_have_count(PAGE_SIZE)
    first_screen = _ids(page)
    # What was indexed when paging began, from the top of the first screen down. (An earlier
    # test's job may still land meanwhile; its image, stamped before it was indexed, may sort
    # below the top: the live feed pushes it, and paging owes it nothing.)
    owed, _ = _visible_from(app, visitor_owner(page), first_screen[0])
    seen = list(first_screen)
    _press_until_gone(page, "load-more", seen)
    assert len(seen) == len(set(seen))  # no repeats
    # No gaps: every image this visitor could see from the top of the first screen down (other
    # visitors' private ones never show), and nothing it may not see.
    may_see, newer = _visible_from(app, visitor_owner(page), first_screen[0])
    assert owed <= {uuid.UUID(image_id) for image_id in seen} <= may_see | newer
    expect(page.locator("#load-newer")).to_have_count(1)  # the top pages were let go
    back: list[str] = []
    _press_until_gone(page, "load-newer", back)
    assert _ids(page)[:PAGE_SIZE] == first_screen  # back at the top, in the same order


def test_lightbox_keyboard(page: Page, many_images: list[str]):
    tiles = page.locator(ITEM)
    first, second = (tiles.nth(i).locator(".tile-prompt").inner_text() for i in (0, 1))
    tiles.first.locator(".tile-open").focus()
    page.keyboard.press("Enter")
    expect(page.locator("#lightbox-prompt")).to_have_text(first)
    page.keyboard.press("ArrowRight")
    expect(page.locator("#lightbox-prompt")).to_have_text(second)
    page.keyboard.press("ArrowLeft")
    expect(page.locator("#lightbox-prompt")).to_have_text(first)
    expect(page.locator("#lightbox-model")).to_have_text("offline-preview")
    page.keyboard.press("Escape")
    expect(page.locator("#lightbox")).to_have_count(0)


def test_download_saves_the_full_image_under_a_readable_name(page: Page, app: RunningApp):
    prompt = f"Download Me {uuid.uuid4().hex[:6]}"
    _seed_and_show(page, app, prompt).locator(".tile-open").click()
    expect(page.locator("#lightbox-prompt")).to_have_text(prompt)
    with page.expect_download() as info:
        page.click("#download-image")
    download = info.value
    assert download.suggested_filename.startswith("download-me-")
    assert download.suggested_filename.endswith(".png")
    with open(download.path(), "rb") as handle:
        assert handle.read(8) == b"\x89PNG\r\n\x1a\n"


def test_use_prompt_and_copy_prompt(page: Page, app: RunningApp):
    prompt = f"reuse me {uuid.uuid4().hex[:6]}"
    _seed_and_show(page, app, prompt).locator(".tile-open").click()
    page.click("#use-prompt")
    expect(page.locator("#lightbox")).to_have_count(0)
    expect(page.locator("#prompt-input")).to_have_value(prompt)
    expect(page.locator('[data-testid="job-card"]')).to_have_count(0)  # nothing generated


def test_delete_removes_every_part_and_sync_does_not_bring_it_back(page: Page, app: RunningApp):
    prompt = f"delete me {uuid.uuid4().hex[:6]}"
    tile = _seed_and_show(page, app, prompt)
    image_id = tile.get_attribute("data-image-id")
    tile.locator(".tile-open").click()
    page.click("#delete-image")
    page.click("#confirm-delete")
    expect(tile).to_have_count(0)
    assert not [name for name in app.blob_names() if image_id in name]
    assert prompt not in [p for p, _ in app.image_rows()]

    env = {**os.environ, **app.env}
    out = subprocess.run(
        [sys.executable, "-m", "visionary_app", "sync", "--grace-seconds", "0"],
        cwd=ROOT, env=env, capture_output=True, text=True, check=True, timeout=120,
    ).stdout  # fmt: skip
    assert "0 indexed" in out
    page.reload()
    page.wait_for_selector("#gallery[data-loaded='true']", state="attached")
    expect(page.locator(ITEM).filter(has_text=prompt)).to_have_count(0)


def test_favourites_survive_reload_and_filter_the_gallery(page: Page, app: RunningApp):
    prompt = f"star me {uuid.uuid4().hex[:6]}"
    tile = _seed_and_show(page, app, prompt)
    tile.locator(".tile-star").click()
    expect(tile.locator(".tile-star")).to_have_attribute("data-favourite", "true")
    page.reload()
    page.wait_for_selector("#gallery[data-loaded='true']", state="attached")
    expect(tile.locator(".tile-star")).to_have_attribute("data-favourite", "true")
    page.click("#favourites-only")
    expect(page.locator(f"{ITEM} .tile-star[data-favourite='false']")).to_have_count(0)
    expect(page.locator(ITEM).filter(has_text=prompt)).to_have_count(1)
    stars = page.locator(f"{ITEM} .tile-star").evaluate_all(
        "els => els.map(e => e.dataset.favourite)"
    )
    assert stars and set(stars) == {"true"}


def test_search_as_you_type_in_any_script(page: Page, app: RunningApp):
    run = uuid.uuid4().hex[:6]
    prompts = [f"夜景の東京 {run}", f"лиса в лесу {run}", f"a quiet harbour {run}"]
    seed_images(app, prompts)
    page.click("#refresh-gallery")
    search = page.locator("#gallery-search")
    for query, expected in [
        (f"東京 {run}", prompts[0]),
        (f"лиса {run}", prompts[1]),
        (f"harbour {run}", prompts[2]),
    ]:
        search.fill(query)
        expect(page.locator(f"{ITEM} .tile-prompt")).to_have_text([expected])
    search.fill(f"no such thing {run}")
    expect(page.locator(ITEM)).to_have_count(0)
    expect(page.locator("#gallery-empty")).to_have_text("No image matches that search.")
    search.fill("")
    expect(page.locator(ITEM)).to_have_count(PAGE_SIZE)
