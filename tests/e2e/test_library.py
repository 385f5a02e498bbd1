"""A team's library in a real browser: boards made, filled from the page and the lightbox."""

from __future__ import annotations

from playwright.sync_api import Page, expect

from tests.e2e.conftest import (
    ITEM,
    RunningApp,
    assert_no_axe_violations,
    generate,
    seed_images,
    toast,
    unique,
    visitor_owner,
)


def _tile(page: Page, prompt: str):
    return page.locator(ITEM).filter(has=page.locator(".tile-prompt", has_text=prompt))


def _pick_board(page: Page, label: str) -> None:
    page.click("#board-picker")
    page.get_by_role("option", name=label, exact=True).click()
    expect(page.locator("#board-picker")).to_have_text(label)


def test_a_board_is_made_filled_and_filtered(page: Page, app: RunningApp):
    kept, other = unique("board kept"), unique("board other")
    seed_images(app, [kept, other], owner=visitor_owner(page))
    page.click("#refresh-gallery")
    expect(_tile(page, other)).to_have_count(1)

    # Made from the keyboard: the dialog's name field has the focus, Enter creates it.
    page.locator("#new-board").focus()
    page.keyboard.press("Enter")
    expect(page.locator("#board-name")).to_be_focused()
    name = unique("Forest")
    page.keyboard.type(name)
    page.keyboard.press("Enter")
    expect(page.locator(toast("success")).filter(has_text=name)).to_be_visible()
    expect(page.locator("#board-picker")).to_have_text(name)  # the new board is showing
    expect(page.locator(ITEM)).to_have_count(0)

    # A new image made from the page joins the board shown.
    made = unique("made into the board")
    generate(page, made)
    expect(_tile(page, made)).to_have_count(1, timeout=30_000)
    assert_no_axe_violations(page, "a board chosen")

    # The lightbox adds an image to it.
    _pick_board(page, "All images")
    _tile(page, kept).locator(".tile-open").click()
    page.click("#add-to-board")
    choice = page.get_by_role("checkbox", name=name)
    expect(choice).not_to_be_checked()
    choice.click()
    expect(choice).to_be_checked()
    assert_no_axe_violations(page, "the lightbox's boards")
    page.keyboard.press("Escape")  # the popover
    expect(page.locator("#board-menu")).to_have_count(0)
    expect(page.locator("#add-to-board")).to_be_focused()
    page.keyboard.press("Escape")  # the lightbox
    expect(page.locator("#lightbox")).to_have_count(0)

    _pick_board(page, name)
    expect(_tile(page, kept)).to_have_count(1)
    expect(_tile(page, made)).to_have_count(1)
    expect(_tile(page, other)).to_have_count(0)
    expect(page.locator(ITEM)).to_have_count(2)

    # Renamed, then deleted: its images stay.
    page.click("#board-rename")
    page.fill("#board-name", f"{name} renamed")
    page.click("#board-create")
    expect(page.locator("#board-picker")).to_have_text(f"{name} renamed")
    page.click("#board-delete")
    page.click("#board-delete-confirm")
    expect(page.locator("#board-picker")).to_have_text("All images")
    expect(_tile(page, kept)).to_have_count(1)
    expect(_tile(page, other)).to_have_count(1)
