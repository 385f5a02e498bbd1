"""A team's library in a real browser: boards made, filled from the page and the lightbox."""

from __future__ import annotations

import io
import json
import uuid
import zipfile

from playwright.sync_api import Browser, Page, expect

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


def _png() -> bytes:
    from PIL import Image

    buffer = io.BytesIO()
    Image.new("RGB", (64, 48), (200, 120, 40)).save(buffer, format="PNG")
    return buffer.getvalue()


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

    # A new image made from the page joins the board shown, and so does an upload.
    made = unique("made into the board")
    generate(page, made)
    expect(_tile(page, made)).to_have_count(1, timeout=30_000)
    upload = f"{unique('uploaded-into-board')}.png"
    page.set_input_files(
        "#upload-image input[type=file]",
        files=[{"name": upload, "mimeType": "image/png", "buffer": _png()}],
    )
    expect(page.locator("#lightbox-prompt")).to_have_text(upload, timeout=20_000)
    page.keyboard.press("Escape")
    expect(page.locator("#lightbox")).to_have_count(0)
    expect(_tile(page, upload)).to_have_count(1)
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
    expect(_tile(page, upload)).to_have_count(1)
    expect(_tile(page, other)).to_have_count(0)
    expect(page.locator(ITEM)).to_have_count(3)

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


def test_tiles_selected_by_shift_click_download_as_a_zip_of_the_originals(
    page: Page, app: RunningApp
):
    prompts = [unique("zip one"), unique("zip two"), unique("zip three")]
    seed_images(app, prompts, owner=visitor_owner(page))
    page.click("#refresh-gallery")
    tiles = [_tile(page, prompt) for prompt in prompts]
    expect(tiles[0]).to_have_count(1)
    # Newest first: three, two, one. Tick "three" from the keyboard, shift-click "two".
    tiles[2].locator('[data-testid="tile-select"]').focus()
    page.keyboard.press("Space")
    expect(page.locator("#selection-count")).to_have_text("1 selected")
    tiles[1].locator('[data-testid="tile-select"]').click(modifiers=["Shift"])
    expect(page.locator("#selection-count")).to_have_text("2 selected")
    expect(tiles[0].locator('[data-testid="tile-select"]')).not_to_be_checked()
    assert_no_axe_violations(page, "two tiles selected")

    with page.expect_download() as info:
        page.click("#bulk-download")
    download = info.value
    assert download.suggested_filename.endswith(".zip")
    with zipfile.ZipFile(download.path()) as archive:
        manifest = json.loads(archive.read("manifest.json"))
        assert sorted(row["prompt"] for row in manifest["images"]) == sorted(prompts[1:])
        members = {row["id"]: archive.read(row["file"]) for row in manifest["images"]}
    rows = app.query(
        "SELECT id, blob_name FROM image WHERE id IN (?, ?)", *[uuid.UUID(i).hex for i in members]
    )
    originals = [app.read_blob(name) for _, name in rows]
    assert len(originals) == 2
    assert sorted(members.values()) == sorted(originals)  # byte for byte

    # Delete after one confirmation; the rest stays.
    page.click("#bulk-delete")
    page.click("#bulk-delete-confirm")
    expect(page.locator(toast("success")).filter(has_text="2 deleted")).to_be_visible()
    expect(tiles[1]).to_have_count(0)
    expect(tiles[2]).to_have_count(0)
    expect(tiles[0]).to_have_count(1)
    expect(page.locator("#selection-bar")).to_have_count(0)


def test_a_share_link_opens_in_a_fresh_browser_and_then_is_revoked(
    page: Page, app: RunningApp, browser: Browser
):
    prompt = unique("shared fox")
    seed_images(app, [prompt], owner=visitor_owner(page))
    page.click("#refresh-gallery")
    _tile(page, prompt).locator(".tile-open").click()
    page.click("#share-image")
    page.click("#share-expiry")
    page.get_by_role("option", name="A week", exact=True).click()
    page.click("#share-create")
    url = page.locator("#share-url").input_value()
    assert "/s/" in url
    assert_no_axe_violations(page, "the share dialog")

    stranger = browser.new_context()  # no cookies, no session: anyone
    try:
        shared = stranger.new_page()
        answer = shared.goto(url)
        assert answer.status == 200
        expect(shared.locator("img#shared-image")).to_be_visible()
        loaded = shared.locator("img#shared-image").evaluate("i => i.naturalWidth")
        assert loaded > 0  # its bytes came
        expect(shared.locator("#shared-prompt")).to_have_text(prompt)
        og_title = shared.locator('meta[property="og:title"]').get_attribute("content")
        assert og_title == prompt
        assert shared.locator('meta[property="og:image"]').get_attribute("content")
        assert_no_axe_violations(shared, "the public share page")

        page.click("#share-revoke")
        expect(page.locator("#share-url")).to_have_count(0)
        gone = shared.goto(url)
        assert gone.status == 410
        expect(shared.locator("#share-gone")).to_contain_text("revoked")
    finally:
        stranger.close()

    # The owner's list shows it, revoked.
    page.keyboard.press("Escape")
    expect(page.locator("#share-create")).to_have_count(0)
    if page.locator("#lightbox").count():
        page.keyboard.press("Escape")
    expect(page.locator(".rt-DialogOverlay")).to_have_count(0)
    page.click("#share-links-button")
    expect(page.locator("#share-links")).to_contain_text(prompt)
    expect(page.locator("#share-links")).to_contain_text("revoked")


def test_a_style_preset_is_named_in_the_lightbox(page: Page):
    page.click("#style-preset")
    page.get_by_role("option", name="Watercolour", exact=True).click()
    expect(page.locator("#preset-words-shown")).to_contain_text("watercolour painting")
    prompt = unique("preset harbour")
    generate(page, prompt)
    tile = _tile(page, prompt)
    expect(tile).to_have_count(1, timeout=30_000)
    tile.locator(".tile-open").click()
    expect(page.locator("#lightbox-preset")).to_have_text("Watercolour")
    expect(page.locator("#lightbox-prompt")).to_have_text(prompt)  # the prompt as typed
    page.keyboard.press("Escape")
    expect(page.locator("#lightbox")).to_have_count(0)

    # One's own preset, saved from the keyboard and chosen at once.
    page.click("#preset-new")
    page.fill("#preset-name", "Pastel")
    page.fill("#preset-words", "pastel colours, soft light")
    page.click("#preset-save")
    expect(page.locator("#style-preset")).to_have_text("Pastel")
    expect(page.locator("#preset-words-shown")).to_have_text("pastel colours, soft light")
    assert_no_axe_violations(page, "a preset chosen")
