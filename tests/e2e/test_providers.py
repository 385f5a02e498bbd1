"""The app against a fake OpenAI server: options, results, failures, batches, suggestions."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, Page, expect

from tests.e2e.conftest import (
    ITEM,
    JOB_CARD,
    RunningApp,
    generate,
    launch_app,
    open_studio,
    studio_page,
)
from tests.fakes.openai_server import SUGGESTION, FakeOpenAI
from tests.support.content_credentials import SIGNER_NAME

SUCCESS_TOAST = '[data-sonner-toast][data-type="success"]'
ERROR_TOAST = '[data-sonner-toast][data-type="error"]'
TIMEOUT_S = 3


@pytest.fixture(scope="module")
def fake() -> Iterator[FakeOpenAI]:
    server = FakeOpenAI().start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def openai_app(fake: FakeOpenAI, tmp_path_factory) -> Iterator[RunningApp]:
    with launch_app(
        tmp_path_factory.mktemp("app-openai"),
        extra_env={"OPENAI_API_KEY": fake.api_key, "OPENAI_BASE_URL": fake.base_url},
        provider="openai",
        provider_timeout_seconds=str(TIMEOUT_S),
        provider_max_retries="1",
        # Whole answers (revised prompts, batches); streaming is in test_creative_loop.
        partial_images="0",
    ) as running:
        yield running


@pytest.fixture
def studio(browser: Browser, openai_app: RunningApp) -> Iterator[Page]:
    with studio_page(browser, openai_app.url, timeout_ms=30_000) as page:
        yield page


def _tiles(page: Page, text: str):
    return page.locator(ITEM).filter(has=page.locator(".tile-prompt", has_text=text))


def test_the_page_names_the_provider_and_offers_only_model_options(studio: Page):
    expect(studio.locator("#model-select")).to_have_text("OpenAI · gpt-image-2")
    expect(studio.locator("#offline-notice")).to_have_count(0)
    expect(studio.locator("#option-size")).to_be_visible()
    expect(studio.locator("#option-quality")).to_be_visible()
    expect(studio.locator("#option-count")).to_be_visible()
    expect(studio.locator("#option-style")).to_have_count(0)  # GPT image models have no style


def test_success_shows_the_revised_prompt(studio: Page, fake: FakeOpenAI):
    prompt = f"[revise] a glass observatory {uuid.uuid4().hex[:6]}"
    generate(studio, prompt)
    tile = _tiles(studio, prompt)
    expect(tile).to_have_count(1)
    expect(tile.locator(".tile-revised-prompt")).to_have_text(
        f"REVISED: {prompt} with dramatic lighting"
    )
    expect(studio.locator(SUCCESS_TOAST).filter(has_text="glass observatory")).to_be_visible()
    sent = [r.body for r in fake.requests if r.body.get("prompt") == prompt]
    assert sent and sent[0]["model"] == "gpt-image-2" and "response_format" not in sent[0]


@pytest.mark.parametrize(
    ("marker", "message"),
    [
        ("[refuse]", "The prompt was refused by OpenAI's safety system"),
        ("[429]", "OpenAI is rate limiting requests: try again in 2 s"),
        ("[401]", "OpenAI rejected the API key"),
        ("[slow]", f"OpenAI did not answer within {TIMEOUT_S} s"),
        ("[500]", "OpenAI had a server error (HTTP 500)"),
    ],
)
def test_each_failure_gets_its_toast_and_stores_nothing(
    studio: Page, openai_app: RunningApp, marker: str, message: str
):
    rows_before = openai_app.image_rows()
    prompt = f"{marker} a doomed request {uuid.uuid4().hex[:6]}"
    generate(studio, prompt)
    expect(studio.locator(ERROR_TOAST)).to_contain_text(message, timeout=30_000)
    expect(studio.locator(JOB_CARD)).to_have_count(0)
    expect(_tiles(studio, prompt)).to_have_count(0)
    assert studio.locator(SUCCESS_TOAST).filter(has_text="doomed").count() == 0
    assert openai_app.image_rows() == rows_before


def test_a_batch_of_three_makes_three_cards_and_three_images(
    studio: Page, fake: FakeOpenAI, openai_app: RunningApp
):
    studio.click("#option-count")
    studio.get_by_role("option", name="3", exact=True).click()
    expect(studio.locator("#option-count")).to_have_text("3")
    prompt = f"three lanterns {uuid.uuid4().hex[:6]}"
    generate(studio, prompt)
    expect(studio.locator(JOB_CARD).filter(has_text=prompt)).to_have_count(3)
    expect(_tiles(studio, prompt)).to_have_count(3)
    expect(studio.locator(SUCCESS_TOAST).filter(has_text="3 images ready")).to_be_visible()
    assert [r.body["n"] for r in fake.requests if r.body.get("prompt") == prompt] == [3]
    assert [p for p, _ in openai_app.image_rows()].count(prompt) == 3


def test_a_suggestion_fills_the_prompt_and_can_be_used_directly(studio: Page):
    studio.click("#suggest-button")
    expect(studio.locator("#prompt-input")).to_have_value(SUGGESTION)
    studio.click("#generate-button")
    expect(_tiles(studio, SUGGESTION)).to_have_count(1)

    studio.fill("#prompt-input", "")
    studio.click("#use-suggestion-button")
    expect(studio.locator("#prompt-input")).to_have_value(SUGGESTION)
    expect(_tiles(studio, SUGGESTION)).to_have_count(2)


def test_the_api_key_never_reaches_the_browser(browser: Browser, openai_app: RunningApp, fake):
    context = browser.new_context()
    page = context.new_page()
    seen: list[str] = []
    page.on(
        "websocket",
        lambda ws: (
            ws.on("framereceived", lambda payload: seen.append(str(payload))),
            ws.on("framesent", lambda payload: seen.append(str(payload))),
        ),
    )
    page.on(
        "response",
        lambda response: (
            seen.append(response.text())
            if response.url.startswith(openai_app.url)
            and response.request.resource_type in ("document", "script")
            else None
        ),
    )
    open_studio(page, openai_app.url)
    page.click("#suggest-button")
    expect(page.locator("#prompt-input")).to_have_value(SUGGESTION)
    context.close()
    assert len(seen) > 3
    assert not [chunk for chunk in seen if fake.api_key in chunk or fake.api_key[:16] in chunk]


def test_a_signed_image_is_kept_byte_for_byte_and_its_credentials_shown(
    studio: Page, fake: FakeOpenAI, openai_app: RunningApp
):
    prompt = f"[c2pa] a signed harbour {uuid.uuid4().hex[:6]}"
    generate(studio, prompt)
    tile = _tiles(studio, prompt)
    expect(tile).to_have_count(1)
    (blob_name,) = openai_app.query("SELECT blob_name FROM image WHERE prompt = ?", prompt)[0]
    assert openai_app.read_blob(blob_name) == fake.sent[-1]
    tile.locator(".tile-open").click()
    credentials = studio.locator("#content-credentials")
    expect(credentials).to_be_visible()
    expect(studio.locator("#credentials-signer")).to_contain_text(SIGNER_NAME)
    expect(studio.locator("#credentials-generator")).to_have_text("GPT-4o 1.0")
    expect(studio.locator("#credentials-state")).to_contain_text("Valid")


def _dollars(page: Page) -> float:
    text = page.locator("#cost-estimate").inner_text()
    assert text.startswith("≈ $"), text
    return float(text.removeprefix("≈ $").lstrip("<$").replace(",", ""))


def test_the_estimate_follows_the_options(studio: Page):
    def choose(element_id: str, value: str) -> None:
        studio.click(f"#{element_id}")
        studio.get_by_role("option", name=value, exact=True).click()
        expect(studio.locator(f"#{element_id}")).to_have_text(value)

    choose("option-quality", "low")
    expect(studio.locator("#cost-estimate")).to_contain_text("≈ $")
    low = _dollars(studio)
    choose("option-quality", "high")
    expect(studio.locator("#cost-estimate")).not_to_have_text(f"≈ ${low:g}")
    high = _dollars(studio)
    assert high > 10 * low
    choose("option-count", "3")
    expect(studio.locator("#cost-estimate")).not_to_have_text(f"≈ ${high:.2f}")
    assert _dollars(studio) > 2.5 * high
