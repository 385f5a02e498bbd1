"""Access control in a real browser: sign-in required, per-user limits, nothing secret leaks."""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
import threading
import uuid
from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, Page, expect

from tests.e2e.conftest import (
    ITEM,
    RunningApp,
    assert_no_axe_violations,
    launch_app,
    seed_images,
)
from tests.support.reflex_client import ReflexClient
from visionary_app.state.gallery import GalleryState
from visionary_app.state.generation import GenerationState

PASSWORDS = {"alice": "wonderland-rabbit-42", "bob": "builder-can-we-fix-it"}
SESSION_SECRET = "session-secret-never-in-the-browser-0123456789"


@pytest.fixture(scope="module")
def locked_app(tmp_path_factory) -> Iterator[RunningApp]:
    users = ",".join(f"{name}:{password}" for name, password in PASSWORDS.items())
    with launch_app(
        tmp_path_factory.mktemp("app-locked"),
        access_users=users,
        session_secret=SESSION_SECRET,
        images_per_user_per_hour="1",
        offline_latency_ms="300",
    ) as running:
        yield running


@contextlib.contextmanager
def _browser_page(browser: Browser, record: dict | None = None) -> Iterator[Page]:
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    page.set_default_timeout(30_000)
    if record is not None:
        page.on(
            "websocket",
            lambda ws: (
                ws.on("framesent", lambda p: record["frames"].append(str(p))),
                ws.on("framereceived", lambda p: record["frames"].append(str(p))),
            ),
        )
        page.on("response", lambda r: record["responses"].append(r))
    try:
        yield page
    finally:
        context.close()


def _sign_in(page: Page, app: RunningApp, name: str, password: str) -> None:
    page.goto(app.url)
    expect(page).to_have_url(f"{app.url}/sign-in")
    page.fill("#sign-in-name", name)
    page.fill("#sign-in-password", password)
    page.click("#sign-in-button")


def _jobs(app: RunningApp) -> list[tuple[str, str]]:
    with contextlib.closing(sqlite3.connect(app.data_dir / "visionary.db")) as connection:
        return connection.execute("SELECT owner, prompt FROM generation_job").fetchall()


def test_the_studio_asks_for_sign_in_and_refuses_a_wrong_password(
    browser: Browser, locked_app: RunningApp
):
    with _browser_page(browser) as page:
        _sign_in(page, locked_app, "alice", "not her password")
        expect(page.locator("#sign-in-error")).to_contain_text("do not match")
        expect(page).to_have_url(f"{locked_app.url}/sign-in")
        page.fill("#sign-in-name", "alice")
        page.fill("#sign-in-password", PASSWORDS["alice"])
        page.click("#sign-in-button")
        expect(page.locator("#gallery[data-loaded='true']")).to_be_attached()
        expect(page.locator("#signed-in-as")).to_have_text("alice")
        page.click("#sign-out")
        expect(page).to_have_url(f"{locked_app.url}/sign-in")
        page.goto(locked_app.url)
        expect(page).to_have_url(f"{locked_app.url}/sign-in")


def test_limits_follow_the_user_into_another_browser_and_secrets_stay_home(
    browser: Browser, locked_app: RunningApp
):
    record: dict = {"frames": [], "responses": []}
    first_prompt = f"alice's one image {uuid.uuid4().hex[:6]}"
    with _browser_page(browser, record) as page:
        _sign_in(page, locked_app, "bob", PASSWORDS["bob"])
        expect(page.locator("#gallery[data-loaded='true']")).to_be_attached()
        page.fill("#prompt-input", first_prompt)
        page.click("#generate-button")
        expect(page.locator(ITEM).filter(has_text=first_prompt)).to_have_count(1)
        bodies = {}
        for response in record["responses"]:
            with contextlib.suppress(Exception):
                bodies[response.url] = response.text()
    with _browser_page(browser) as other:
        _sign_in(other, locked_app, "BOB", PASSWORDS["bob"])
        expect(other.locator("#gallery[data-loaded='true']")).to_be_attached()
        other.fill("#prompt-input", "a second image this hour")
        other.click("#generate-button")
        warning = other.locator('[data-sonner-toast][data-type="warning"]')
        expect(warning).to_contain_text("your limit of 1 images per hour")
    assert [owner for owner, prompt in _jobs(locked_app) if prompt == first_prompt] == ["user:bob"]
    assert any(url.endswith(".js") for url in bodies), "scripts were not captured"
    secrets = [SESSION_SECRET, PASSWORDS["alice"]]
    for secret in secrets:
        assert not [url for url, body in bodies.items() if secret in body]
        assert not [frame for frame in record["frames"] if secret in frame]


def test_a_client_that_skips_the_form_gets_nothing(locked_app: RunningApp):
    """Straight to the websocket, as a script would: no gallery rows, no job, no image."""
    seed_images(locked_app, [f"an image to hide {uuid.uuid4().hex[:6]}"])
    prompt = f"sneaking past the form {uuid.uuid4().hex[:6]}"
    seen: dict = {}

    async def intrude() -> None:
        client = ReflexClient(locked_app.url)
        await client.connect()
        await client.send(GenerationState, "generate", form_data={"prompt": prompt})
        await client.send(GalleryState, "load")
        await asyncio.sleep(2)
        seen["images"] = client.get(GalleryState, "images", [])
        await client.close()

    thread = threading.Thread(target=lambda: asyncio.run(intrude()))
    thread.start()
    thread.join(60)
    assert seen["images"] == []
    assert not [row for row in _jobs(locked_app) if row[1] == prompt]


@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_no_axe_violations_on_sign_in(browser: Browser, locked_app: RunningApp, scheme: str):
    context = browser.new_context(viewport={"width": 1280, "height": 900}, color_scheme=scheme)
    page = context.new_page()
    page.set_default_timeout(30_000)
    try:
        page.goto(locked_app.url)
        expect(page).to_have_url(f"{locked_app.url}/sign-in")
        expect(page.locator("#sign-in-password")).to_be_visible()
        assert_no_axe_violations(page, f"sign-in ({scheme})")
        page.fill("#sign-in-name", "alice")
        page.fill("#sign-in-password", "wrong")
        page.click("#sign-in-button")
        expect(page.locator("#sign-in-error")).to_be_visible()
        assert_no_axe_violations(page, f"sign-in with an error ({scheme})")
    finally:
        context.close()
