"""Gallery layout in a real browser: columns per screen width, newest larger, prompt on focus."""

from __future__ import annotations

import uuid

import pytest
from playwright.sync_api import Browser, Page, expect

from tests.e2e.conftest import ITEM, RunningApp, open_studio

COLUMNS_JS = "el => getComputedStyle(el).gridTemplateColumns.split(' ').length"


@pytest.fixture(scope="module", autouse=True)
def _at_least_three_images(browser: Browser, app: RunningApp) -> None:
    context = browser.new_context()
    page = open_studio(context.new_page(), app.url)
    for index in range(max(0, 3 - len(app.image_rows()))):
        prompt = f"layout sample {index} {uuid.uuid4().hex[:6]}"
        page.fill("#prompt-input", prompt)
        page.click("#generate-button")
        expect(page.locator(ITEM).filter(has_text=prompt)).to_have_count(1, timeout=30_000)
    context.close()


@pytest.mark.parametrize(
    ("width", "columns"), [(320, 2), (390, 2), (700, 2), (1100, 3), (1400, 4), (1700, 5)]
)
def test_columns_follow_screen_width(browser: Browser, app: RunningApp, width: int, columns: int):
    context = browser.new_context(viewport={"width": width, "height": 900})
    page = open_studio(context.new_page(), app.url)
    grid = page.locator("#gallery")
    expect(grid.locator(ITEM).first).to_be_visible()
    assert grid.evaluate(COLUMNS_JS) == columns
    context.close()


def test_newest_tile_is_larger_on_wide_screens(page: Page):
    tiles = page.locator(ITEM)
    expect(tiles.nth(2)).to_be_visible()
    first, second = tiles.nth(0).bounding_box(), tiles.nth(1).bounding_box()
    assert first["width"] > 1.8 * second["width"]
    assert first["height"] > 1.8 * second["height"]


def test_prompt_appears_on_keyboard_focus_and_hover(page: Page):
    tile = page.locator(ITEM).nth(1)
    caption = tile.locator(".tile-caption")
    expect(tile).to_be_visible()
    expect(caption).to_have_css("opacity", "0")
    tile.locator(".tile-open").focus()
    expect(caption).to_have_css("opacity", "1")
    page.locator("#prompt-input").focus()
    expect(caption).to_have_css("opacity", "0")
    tile.hover()
    expect(caption).to_have_css("opacity", "1")


def test_images_made_elsewhere_arrive_on_their_own_and_refresh_keeps_them(
    browser: Browser, app: RunningApp, page: Page
):
    prompt = f"made in another tab {uuid.uuid4().hex[:6]}"
    other = open_studio(browser.new_context().new_page(), app.url)
    other.fill("#prompt-input", prompt)
    other.click("#generate-button")
    expect(other.locator(ITEM).filter(has_text=prompt)).to_have_count(1, timeout=30_000)
    other.context.close()

    # No click: the open gallery picks up new images within a few seconds.
    expect(page.locator(ITEM).first.locator(".tile-prompt")).to_have_text(prompt, timeout=10_000)
    page.click("#refresh-gallery")
    expect(page.locator(ITEM).first.locator(".tile-prompt")).to_have_text(prompt)
    expect(page.locator(ITEM).filter(has_text=prompt)).to_have_count(1)
