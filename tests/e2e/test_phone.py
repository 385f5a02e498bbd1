"""The studio at 390 px, as a new user holds a phone: one row of actions, a folded notice,
toasts clear of the lightbox's buttons, the library's controls within reach."""

from __future__ import annotations

from playwright.sync_api import Browser, expect

from tests.e2e.conftest import (
    ITEM,
    RunningApp,
    assert_no_axe_violations,
    keep_screenshot,
    open_studio,
    seed_images,
    toast,
    unique,
)

PHONE = {"width": 390, "height": 844}


def _box(page, selector: str) -> dict:
    box = page.locator(selector).bounding_box()
    assert box is not None, f"{selector} is not laid out"
    return box


def _overlaps(a: dict, b: dict) -> bool:
    return not (
        a["x"] + a["width"] <= b["x"]
        or b["x"] + b["width"] <= a["x"]
        or a["y"] + a["height"] <= b["y"]
        or b["y"] + b["height"] <= a["y"]
    )


def test_on_a_phone_the_actions_are_one_row_and_toasts_cover_no_control(
    browser: Browser, app: RunningApp, tmp_path
):
    prompt = unique("phone sample")
    seed_images(app, [prompt])
    context = browser.new_context(viewport=PHONE, is_mobile=True, has_touch=True)
    page = context.new_page()
    try:
        open_studio(page, app.url)
        # One row under the prompt, Generate at its end, under the right thumb.
        rows = {round(_box(page, f"#{i}")["y"] + _box(page, f"#{i}")["height"] / 2) for i in (
            "upload-button", "suggest-button", "use-suggestion-button",
            "prompt-history-button", "generate-button")}  # fmt: skip
        assert len(rows) == 1, rows
        generate = _box(page, "#generate-button")
        assert generate["x"] + generate["width"] > PHONE["width"] - 40
        for name in ("Upload", "Suggest", "Use suggestion", "History"):
            expect(page.get_by_role("button", name=name, exact=True)).to_be_visible()
        # The offline notice is folded to a line or two (it was a third of the screen), and opens.
        notice = page.locator("#offline-notice")
        if notice.count():
            assert _box(page, "#offline-notice")["height"] < 80
            page.locator("#offline-notice summary").click()
            expect(notice).to_contain_text("OPENAI_API_KEY")
            page.locator("#offline-notice summary").click()
        assert_no_axe_violations(page, "the studio at 390 px")
        shot = tmp_path / "phone.png"
        page.screenshot(path=str(shot))
        keep_screenshot(shot, "phone.png", width=390)

        # A toast from the lightbox does not cover its buttons.
        page.locator(ITEM).filter(has_text=prompt).locator(".tile-open").click()
        page.click("#copy-prompt")
        shown = page.locator(toast("info")).first
        expect(shown).to_be_visible()
        toast_box = shown.bounding_box()
        for control in ("#copy-prompt", "#download-image", "#use-prompt", "#add-to-board"):
            button = page.locator(control)
            if button.count() and button.is_visible():
                assert not _overlaps(toast_box, button.bounding_box()), control
    finally:
        context.close()
