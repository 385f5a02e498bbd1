"""The API over real HTTP: a token made in Chromium, the real `openai` SDK pointed at the app,
the images in the user's gallery, and revocation that holds."""

from __future__ import annotations

import io
from collections.abc import Iterator

import httpx
import openai
import pytest
from PIL import Image as PILImage
from playwright.sync_api import Browser, Page, expect

from tests.e2e.conftest import ITEM, RunningApp, assert_no_axe_violations, launch_app, unique

PASSWORD = "api-tester-password-42"


@pytest.fixture(scope="module")
def users_app(tmp_path_factory) -> Iterator[RunningApp]:
    with launch_app(
        tmp_path_factory.mktemp("app-api"),
        access_users=f"alice:{PASSWORD},bob:{PASSWORD}",
        session_secret="session-secret-for-the-api-test-0123456789",
        offline_latency_ms="200",
    ) as running:
        yield running


@pytest.fixture
def alice(browser: Browser, users_app: RunningApp) -> Iterator[Page]:
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    page.set_default_timeout(30_000)
    page.goto(users_app.url)
    page.fill("#sign-in-name", "alice")
    page.fill("#sign-in-password", PASSWORD)
    page.click("#sign-in-button")
    page.wait_for_selector("#gallery[data-loaded='true']", state="attached")
    try:
        yield page
    finally:
        context.close()


def _make_token(page: Page, name: str) -> str:
    page.click("#api-tokens-button")
    expect(page.locator("#api-tokens")).to_be_visible()
    page.fill("#api-token-name", name)
    page.click("#api-token-create")
    token = page.locator("#api-token-new")
    expect(token).to_have_text(__import__("re").compile(r"^vai_"))
    return token.inner_text()


def test_the_openai_sdk_generates_and_edits_into_the_users_gallery(
    alice: Page, users_app: RunningApp
):
    token = _make_token(alice, "sdk test")
    assert_no_axe_violations(alice, "API tokens dialog")
    alice.keyboard.press("Escape")
    client = openai.OpenAI(base_url=f"{users_app.url}/v1", api_key=token, max_retries=0)
    prompt = unique("a lighthouse from the SDK")
    generated = client.images.generate(model="gpt-image-2", prompt=prompt, size="512x512")
    picture = PILImage.open(io.BytesIO(__import__("base64").b64decode(generated.data[0].b64_json)))
    assert picture.size == (512, 512)
    # It is alice's: it appears in her gallery in Chromium without a reload.
    tiles = alice.locator(ITEM).filter(has=alice.locator(".tile-prompt", has_text=prompt))
    expect(tiles).to_have_count(1, timeout=15_000)

    buffer = io.BytesIO()
    picture.save(buffer, format="PNG")
    edit_prompt = unique("add a ship, via the SDK")
    edited = client.images.edit(image=("light.png", buffer.getvalue(), "image/png"),
                                prompt=edit_prompt, response_format="url")  # fmt: skip
    assert httpx.get(edited.data[0].url).status_code == 200
    edits = alice.locator(ITEM).filter(has=alice.locator(".tile-prompt", has_text=edit_prompt))
    expect(edits).to_have_count(1, timeout=15_000)
    assert users_app.query("SELECT owner, kind FROM image WHERE prompt = ?", edit_prompt) == [
        ("user:alice", "edited")
    ]

    # The page lists the token as used; revoking it there ends it at once.
    alice.click("#api-tokens-button")
    row = alice.locator(".api-token-row").filter(has_text="sdk test")
    expect(row).not_to_contain_text("never")
    row.locator(".api-token-revoke").click()
    expect(alice.locator(".api-token-row").filter(has_text="sdk test")).to_have_count(0)
    with pytest.raises(openai.AuthenticationError):
        client.images.generate(prompt="after revocation")
    api = httpx.get(f"{users_app.url}/api/v1/images", headers={"Authorization": f"Bearer {token}"})
    assert api.status_code == 401 and api.headers["content-type"] == "application/problem+json"


def test_the_api_documents_itself(users_app: RunningApp):
    document = httpx.get(f"{users_app.url}/api/v1/openapi.json").json()
    assert document["info"]["title"] == "VisionaryAI API"
    assert "/generations" in document["paths"] and "/images/{image_id}" in document["paths"]
    docs = httpx.get(f"{users_app.url}/api/v1/docs")
    assert docs.status_code == 200 and "swagger" in docs.text.lower()
    assert httpx.get(f"{users_app.url}/api/v1/images").status_code == 401
