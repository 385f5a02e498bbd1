"""The whole journey in a real browser: prompt, job card, toast, gallery, reload, image URL."""

from __future__ import annotations

import re
import uuid

from playwright.sync_api import Page, expect

from tests.e2e.conftest import (
    ITEM,
    JOB_CARD,
    RunningApp,
    assert_no_axe_violations,
    generate,
    unique,
)

SUCCESS_TOAST = '[data-sonner-toast][data-type="success"]'
ERROR_TOAST = '[data-sonner-toast][data-type="error"]'


def _tile(page: Page, prompt: str):
    return page.locator(ITEM).filter(has=page.locator(".tile-prompt", has_text=prompt))


def test_prompt_to_gallery_and_back_after_reload(page: Page, app: RunningApp):
    prompt = unique("a lighthouse on a cliff at dusk")
    generate(page, prompt)

    job = page.locator(JOB_CARD).filter(has_text=prompt)
    expect(job).to_be_visible()
    expect(page.locator(SUCCESS_TOAST).filter(has_text=prompt)).to_be_visible(timeout=30_000)
    expect(job).to_have_count(0)

    first = page.locator(ITEM).first
    expect(first.locator(".tile-prompt")).to_have_text(prompt)
    expect(first).to_have_attribute("data-featured", "true")
    image = first.locator("img")
    # The tile's button is named by the prompt; the picture inside adds no second reading.
    expect(first.locator(".tile-open")).to_have_attribute("aria-label", prompt)
    expect(image).to_have_attribute("alt", "")
    page.wait_for_function(
        "img => img.complete && img.naturalWidth === 512", arg=image.element_handle()
    )

    thumbnail = page.request.get(image.evaluate("img => img.currentSrc"))
    assert thumbnail.status == 200
    assert thumbnail.headers["content-type"] == "image/webp"
    assert thumbnail.body()[8:12] == b"WEBP"

    # The full image loads only when the tile is opened.
    first.locator(".tile-open").click()
    expect(page.locator("#lightbox-prompt")).to_have_text(prompt)
    full = page.locator("#lightbox-image")
    page.wait_for_function(
        "img => img.complete && img.naturalWidth === 512", arg=full.element_handle()
    )
    src = full.evaluate("img => img.currentSrc")
    response = page.request.get(src)
    assert response.status == 200
    assert response.headers["content-type"] == "image/png"
    assert response.body().startswith(b"\x89PNG\r\n\x1a\n")
    if app.store_kind == "azure":
        assert src.startswith("http://127.0.0.1:") and "sp=r&" in src
    page.keyboard.press("Escape")
    expect(page.locator("#lightbox")).to_have_count(0)

    page.reload()
    expect(page.locator(ITEM).first.locator(".tile-prompt")).to_have_text(prompt)
    assert [row for row in app.image_rows() if row[0] == prompt]


def test_job_card_shows_prompt_and_elapsed_time(page: Page):
    prompt = unique("a slow watercolour harbour")
    generate(page, prompt)
    job = page.locator(JOB_CARD).filter(has_text=prompt)
    expect(job.locator(".job-prompt")).to_have_text(prompt)
    expect(job.locator(".job-detail")).to_have_text(re.compile(r"^\d+ s$"), timeout=5_000)
    expect(job.locator(".job-detail")).not_to_have_text("0 s", timeout=5_000)
    expect(page.locator(SUCCESS_TOAST).filter(has_text=prompt)).to_be_visible(timeout=30_000)


def test_two_generations_back_to_back_both_land(page: Page, app: RunningApp):
    first, second = unique("first: a red balloon"), unique("second: a blue kite")
    generate(page, first)
    generate(page, second)
    expect(page.locator(JOB_CARD)).to_have_count(2)
    expect(_tile(page, first)).to_have_count(1, timeout=30_000)
    expect(_tile(page, second)).to_have_count(1, timeout=30_000)
    expect(page.locator(JOB_CARD)).to_have_count(0)
    prompts = [prompt for prompt, _ in app.image_rows()]
    assert prompts.count(first) == 1 and prompts.count(second) == 1


def test_page_stays_usable_while_generating(page: Page):
    prompt = unique("busy page")
    generate(page, prompt)
    expect(page.locator(JOB_CARD).filter(has_text=prompt)).to_be_visible()
    # While the job runs, the UI still answers events: typing updates the counter.
    page.fill("#prompt-input", "abc")
    expect(page.locator("#prompt-counter")).to_contain_text("3 / 4000")
    expect(page.locator(JOB_CARD).filter(has_text=prompt)).to_be_visible()
    expect(page.locator(SUCCESS_TOAST).filter(has_text=prompt)).to_be_visible(timeout=30_000)


def test_empty_prompt_cannot_be_submitted(page: Page, app: RunningApp):
    before = len(app.image_rows())
    expect(page.locator("#generate-button")).to_be_disabled()
    page.fill("#prompt-input", "   \n  ")
    expect(page.locator("#generate-button")).to_be_disabled()
    page.focus("#prompt-input")
    page.keyboard.press("Enter")
    expect(page.locator(ERROR_TOAST)).to_contain_text("Type a prompt first")
    expect(page.locator(JOB_CARD)).to_have_count(0)
    assert len(app.image_rows()) == before


def test_enter_generates_and_shift_enter_adds_a_line(page: Page, app: RunningApp):
    marker = uuid.uuid4().hex[:8]
    page.focus("#prompt-input")
    page.keyboard.type(f"first line {marker}")
    page.keyboard.press("Shift+Enter")
    page.keyboard.type("second line")
    assert page.input_value("#prompt-input") == f"first line {marker}\nsecond line"
    page.keyboard.press("Enter")
    prompt = f"first line {marker}\nsecond line"
    expect(page.locator(SUCCESS_TOAST).filter(has_text=marker)).to_be_visible(timeout=30_000)
    assert prompt in [stored for stored, _ in app.image_rows()]


def test_html_prompt_is_shown_as_text(page: Page):
    prompt = f'<img src=x onerror="window.__pwned=1"><b>{uuid.uuid4().hex[:8]}</b>'
    generate(page, prompt)
    tile = _tile(page, prompt)
    expect(tile).to_have_count(1, timeout=30_000)
    expect(tile.locator(".tile-prompt")).to_have_text(prompt)
    assert page.evaluate("() => window.__pwned") is None
    assert page.locator('img[src="x"], #gallery b').count() == 0


def test_emoji_and_path_characters_round_trip(page: Page, app: RunningApp):
    prompt = f"🦊 ../../etc/passwd ..\\..\\boot.ini 日本語 «ß» e\u0301 {uuid.uuid4().hex[:8]}"
    generate(page, prompt)
    tile = _tile(page, prompt)
    expect(tile).to_have_count(1, timeout=30_000)
    expect(tile.locator(".tile-prompt")).to_have_text(prompt)
    rows = [row for row in app.image_rows() if row[0] == prompt]
    assert len(rows) == 1
    blob_name = rows[0][1]
    assert ".." not in blob_name and "passwd" not in blob_name
    assert blob_name in app.blob_names()


def test_over_long_prompt_is_refused_and_stores_nothing(page: Page, app: RunningApp):
    rows_before, blobs_before = len(app.image_rows()), app.blob_names()
    page.fill("#prompt-input", "x" * 4001)
    expect(page.locator("#prompt-counter")).to_contain_text("4001 / 4000 (too long)")
    page.click("#generate-button")
    expect(page.locator(ERROR_TOAST)).to_contain_text(
        "The prompt is too long: 4,001 characters, the limit is 4,000"
    )
    expect(page.locator(JOB_CARD)).to_have_count(0)
    assert len(app.image_rows()) == rows_before
    assert app.blob_names() == blobs_before


def test_earlier_prompts_come_back_from_the_history_and_the_up_arrow(page: Page):
    first, second = unique("history: a paper crane"), unique("history: a glass harbour")
    for prompt in (first, second):
        generate(page, prompt)
        expect(_tile(page, prompt)).to_have_count(1, timeout=30_000)
    page.fill("#prompt-input", "")
    # The server has the empty box once the counter (its count) says so.
    expect(page.locator("#prompt-counter")).to_have_text(re.compile(r"^0 / "))

    # The up arrow in an empty prompt box brings back the last prompt.
    page.focus("#prompt-input")
    page.keyboard.press("ArrowUp")
    expect(page.locator("#prompt-input")).to_have_value(second)
    page.fill("#prompt-input", "")

    # The history lists them newest first, searchable, all from the keyboard.
    expect(page.locator("[data-sonner-toast]")).to_have_count(0, timeout=20_000)
    page.click("#prompt-history-button")
    items = page.locator("#prompt-history .prompt-history-item")
    expect(items.first).to_have_text(second)
    expect(items.filter(has_text=first)).to_have_count(1)
    assert_no_axe_violations(page, "prompt history")
    page.fill("#prompt-history-search", "paper crane")
    expect(items).to_have_count(1)
    items.first.focus()
    page.keyboard.press("Enter")
    expect(page.locator("#prompt-input")).to_have_value(first)
    expect(page.locator("#prompt-history")).to_have_count(0)
