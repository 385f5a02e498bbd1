"""Three providers side by side in Chromium: the model picker, each model generating, a Gemini
edit and refusal, ComfyUI's previews, a cancel that reaches ComfyUI and an engine failure.

The app runs on the offline provider, Gemini (the real google-genai SDK against its stand-in)
and ComfyUI (its HTTP routes and websocket, against its stand-in), on the local store and on
Azurite.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, Page, expect

from tests.e2e.conftest import (
    ITEM,
    JOB_CARD,
    RunningApp,
    generate,
    launch_app,
    studio_page,
    toast,
    unique,
)
from tests.fakes.comfyui_server import FakeComfyUI
from tests.fakes.gemini_server import FakeGemini

GEMINI_LABEL = "Google Gemini · gemini-2.5-flash-image"
COMFYUI_LABEL = "ComfyUI · text-to-image"
PARTIAL = '[data-testid="partial-preview"]'


@pytest.fixture(scope="module")
def gemini() -> Iterator[FakeGemini]:
    server = FakeGemini().start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def comfy() -> Iterator[FakeComfyUI]:
    server = FakeComfyUI().start()
    yield server
    server.stop()


@pytest.fixture(scope="module", params=["local", "azure"])
def models_app(
    request, gemini: FakeGemini, comfy: FakeComfyUI, tmp_path_factory
) -> Iterator[RunningApp]:
    azurite = request.getfixturevalue("azurite") if request.param == "azure" else None
    with launch_app(
        tmp_path_factory.mktemp(f"app-models-{request.param}"),
        azurite=azurite,
        extra_env={"GEMINI_API_KEY": gemini.api_key},
        provider="offline",
        gemini_base_url=gemini.base_url,
        comfyui_url=comfy.url,
        provider_max_retries="0",
    ) as running:
        yield running


@pytest.fixture
def studio(browser: Browser, models_app: RunningApp) -> Iterator[Page]:
    with studio_page(browser, models_app.url, timeout_ms=30_000) as page:
        yield page


def _tile(page: Page, text: str):
    return page.locator(ITEM).filter(has=page.locator(".tile-prompt", has_text=text))


def _choose(page: Page, element_id: str, label: str) -> None:
    page.click(f"#{element_id}")
    page.get_by_role("option", name=label, exact=True).click()
    expect(page.locator(f"#{element_id}")).to_have_text(label)


def _paint(page: Page) -> None:
    box = page.locator("#edit-mask").bounding_box()
    assert box is not None
    page.mouse.move(box["x"] + 8, box["y"] + 8)
    page.mouse.down()
    page.mouse.move(box["x"] + 8, box["y"] + box["height"] - 8, steps=12)
    page.mouse.up()


def test_choose_gemini_generate_edit_and_be_told_of_a_refusal(
    studio: Page, models_app: RunningApp, gemini: FakeGemini
):
    picker = studio.locator("#model-select")
    expect(picker).to_have_text("Offline preview · offline-preview")
    expect(studio.locator("#option-size")).to_have_attribute("aria-label", "Size")
    _choose(studio, "model-select", GEMINI_LABEL)
    # The options follow the model: aspect ratios, no pixel sizes.
    expect(studio.locator("#option-size")).to_have_attribute("aria-label", "Aspect ratio")
    _choose(studio, "option-size", "16:9")

    prompt = unique("a lighthouse at dusk")
    calls = len(gemini.calls)
    generate(studio, prompt)
    expect(studio.locator(toast("success")).filter(has_text="lighthouse")).to_be_visible()
    expect(_tile(studio, prompt)).to_have_count(1)
    assert len(gemini.calls) == calls + 1
    assert gemini.calls[-1].config["imageConfig"]["aspectRatio"] == "16:9"
    (row,) = models_app.query(
        "SELECT provider, model, blob_name FROM image WHERE prompt = ?", prompt
    )
    assert row[:2] == ("gemini", "gemini-2.5-flash-image")
    assert models_app.read_blob(row[2]) == gemini.sent[-1]  # the original, byte for byte

    # The lightbox names provider and model; the editor says how the mask is used.
    _tile(studio, prompt).first.locator(".tile-open").click()
    expect(studio.locator("#lightbox-provider")).to_have_text("Google Gemini")
    expect(studio.locator("#lightbox-model")).to_have_text("gemini-2.5-flash-image")
    studio.click("#edit-image")
    expect(studio.locator("#mask-note")).to_contain_text("takes no mask")
    _paint(studio)
    edit_prompt = unique("add a red kite")
    studio.fill("#edit-prompt", edit_prompt)
    studio.click("#edit-submit")
    expect(studio.locator(toast("success")).filter(has_text="Edit ready")).to_be_visible()
    expect(_tile(studio, edit_prompt)).to_have_count(1)
    edit_call = gemini.calls[-1]
    assert len(edit_call.images) == 2 and edit_call.texts[-1].endswith(edit_prompt)

    # A refusal is explained, and nothing is stored.
    refused = unique("a cat [image-safety]")
    generate(studio, refused)
    expect(studio.locator(toast("error")).filter(has_text="IMAGE_SAFETY")).to_be_visible()
    assert models_app.query("SELECT id FROM image WHERE prompt = ?", refused) == []

    # The choice is remembered by this browser.
    studio.reload()
    studio.wait_for_selector("#gallery[data-loaded='true']", state="attached")
    expect(studio.locator("#model-select")).to_have_text(GEMINI_LABEL)


def test_each_model_in_turn_with_comfyui_previews_cancel_and_failure(
    studio: Page, models_app: RunningApp, comfy: FakeComfyUI
):
    # The offline provider first, then ComfyUI: each makes an image.
    _choose(studio, "model-select", "Offline preview · offline-preview")
    offline_prompt = unique("a paper crane")
    generate(studio, offline_prompt)
    expect(_tile(studio, offline_prompt)).to_have_count(1)
    _choose(studio, "model-select", COMFYUI_LABEL)
    _choose(studio, "option-size", "1216x832")
    prompt = unique("a mountain lake")
    generate(studio, prompt)
    expect(_tile(studio, prompt)).to_have_count(1)
    rows = models_app.query("SELECT prompt, provider, model FROM image WHERE prompt IN (?, ?)",
                            offline_prompt, prompt)  # fmt: skip
    assert sorted(rows) == sorted([(offline_prompt, "offline", "offline-preview"),
                                   (prompt, "comfyui", "text-to-image")])  # fmt: skip

    # Previews from ComfyUI's websocket reach the card; cancel stops the run on the server.
    slow = unique("a slow tide [slow]")
    generate(studio, slow)
    card = studio.locator(JOB_CARD).filter(has_text="a slow tide")
    expect(card.locator(PARTIAL)).to_be_visible(timeout=15_000)
    expect(card).to_contain_text("of 8")  # ComfyUI's steps, as its websocket tells them
    card.locator(".job-cancel").click()
    expect(studio.locator(toast("info")).filter(has_text="nothing was stored")).to_be_visible()
    (prompt_id,) = [key for key, graph in comfy.prompts.items()
                    if graph["6"]["inputs"]["text"] == slow]  # fmt: skip
    for _ in range(50):
        if prompt_id in comfy.interrupted:
            break
        studio.wait_for_timeout(100)
    assert prompt_id in comfy.interrupted
    assert models_app.query("SELECT id FROM image WHERE prompt = ?", slow) == []

    # An engine failure is explained, and nothing is stored.
    failing = unique("a storm [comfy-error]")
    generate(studio, failing)
    expect(studio.locator(toast("error")).filter(has_text="CUDA out of memory")).to_be_visible()
    assert models_app.query("SELECT id FROM image WHERE prompt = ?", failing) == []
