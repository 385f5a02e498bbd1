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

from tests.api.test_webhooks import Receiver
from tests.e2e.conftest import ITEM, RunningApp, assert_no_axe_violations, launch_app, unique
from visionary_app.services.webhooks import verify

PASSWORD = "api-tester-password-42"


@pytest.fixture(scope="module")
def users_app(tmp_path_factory) -> Iterator[RunningApp]:
    with launch_app(
        tmp_path_factory.mktemp("app-api"),
        access_users=f"alice:{PASSWORD},bob:{PASSWORD}",
        session_secret="session-secret-for-the-api-test-0123456789",
        offline_latency_ms="200",
        webhooks_allow_private="true",  # the receiver below is on loopback
        webhook_retry_seconds="0.5",
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


def test_a_webhook_added_in_the_page_is_told_of_a_job_and_its_log_shows_it(alice: Page):
    receiver = Receiver()
    receiver.answers = [500]  # the first attempt fails; the retry gets through
    try:
        alice.click("#webhooks-button")
        expect(alice.locator("#webhooks")).to_be_visible()
        alice.fill("#webhook-url", receiver.url)
        alice.click("#webhook-create")
        secret = alice.locator("#webhook-new-secret")
        expect(secret).to_have_text(__import__("re").compile(r"^whsec_"))
        expect(alice.locator(".webhook-row")).to_contain_text(receiver.url)
        assert_no_axe_violations(alice, "webhooks dialog")
        signing_secret = secret.inner_text()
        alice.keyboard.press("Escape")

        prompt = unique("a kite told to a webhook")
        alice.fill("#prompt-input", prompt)
        alice.click("#generate-button")
        expect(alice.locator(ITEM).filter(has_text=prompt)).to_have_count(1, timeout=20_000)

        alice.click("#webhooks-button")
        delivered = alice.locator(".webhook-delivery").filter(has_text="delivered")
        for _ in range(40):  # the retry goes out 0.5 s after the first attempt
            alice.click("#webhook-refresh")
            if delivered.count():
                break
            alice.wait_for_timeout(250)
        expect(delivered).to_have_count(1)
        expect(delivered).to_contain_text("job.succeeded")
        expect(delivered.locator("td").nth(3)).to_have_text("2")
        assert len(receiver.received) == 2
        headers, body = receiver.received[-1]
        verify(signing_secret, headers, body)
        assert prompt in body.decode()
    finally:
        receiver.close()
