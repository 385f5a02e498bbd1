"""Access control in a real browser: sign-in required, per-user limits, nothing secret leaks."""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
import threading
import uuid
from collections.abc import Iterator

import httpx
import pytest
import socketio
from playwright.sync_api import Browser, Page, expect

from tests.e2e.conftest import (
    ITEM,
    RunningApp,
    assert_no_axe_violations,
    launch_app,
    on_sign_in,
    run_in_thread,
    seed_images,
)
from tests.support.reflex_client import ReflexClient
from visionary_app.state.gallery import GalleryState
from visionary_app.state.generation import GenerationState
from visionary_app.state.lightbox import LightboxState
from visionary_app.state.visitor import VisitorState

PASSWORDS = {
    "alice": "wonderland-rabbit-42",
    "bob": "builder-can-we-fix-it",
    "carol": "admin-of-the-studio-7",
}
SESSION_SECRET = "session-secret-never-in-the-browser-0123456789"


@pytest.fixture(scope="module")
def locked_app(tmp_path_factory) -> Iterator[RunningApp]:
    users = ",".join(f"{name}:{password}" for name, password in PASSWORDS.items())
    with launch_app(
        tmp_path_factory.mktemp("app-locked"),
        access_users=users,
        session_secret=SESSION_SECRET,
        admins="carol",
        # These tests sign the same people in many times; guessing is limited in test_visitor.
        sign_in_attempts_per_minute="100",
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
    expect(page).to_have_url(on_sign_in(app))
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
        expect(page).to_have_url(on_sign_in(locked_app))
        page.fill("#sign-in-name", "alice")
        page.fill("#sign-in-password", PASSWORDS["alice"])
        page.click("#sign-in-button")
        expect(page.locator("#gallery[data-loaded='true']")).to_be_attached()
        expect(page.locator("#signed-in-as")).to_have_text("alice")
        page.click("#sign-out")
        expect(page).to_have_url(on_sign_in(locked_app))
        page.goto(locked_app.url)
        expect(page).to_have_url(on_sign_in(locked_app))


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
        # Read again what the browser loaded (bodies of pages before the sign-in's page load
        # are gone from the browser by now): the pages, scripts and styles anyone can fetch.
        bodies = {}
        for url in {response.url for response in record["responses"]}:
            if url.startswith(locked_app.url) and "/auth/" not in url:
                with contextlib.suppress(httpx.HTTPError):
                    bodies[url] = httpx.get(url, timeout=10).text
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
        expect(page).to_have_url(on_sign_in(locked_app))
        expect(page.locator("#sign-in-password")).to_be_visible()
        assert_no_axe_violations(page, f"sign-in ({scheme})")
        page.fill("#sign-in-name", "alice")
        page.fill("#sign-in-password", "wrong")
        page.click("#sign-in-button")
        expect(page.locator("#sign-in-error")).to_be_visible()
        assert_no_axe_violations(page, f"sign-in with an error ({scheme})")
    finally:
        context.close()


def _images(app: RunningApp) -> dict[str, tuple[str, str]]:
    """prompt -> (owner, visibility) of every indexed image."""
    with contextlib.closing(sqlite3.connect(app.data_dir / "visionary.db")) as connection:
        rows = connection.execute("SELECT prompt, owner, visibility FROM image").fetchall()
    return {prompt: (owner, visibility) for prompt, owner, visibility in rows}


def _session_of(page: Page) -> str:
    return {c["name"]: c["value"] for c in page.context.cookies()}["visionary_session"]


def _as(app: RunningApp, session: str, actions) -> ReflexClient:
    """Run `actions(client)` on a raw websocket tab signed in with `session`; the client."""
    client = ReflexClient(app.url, cookies={"visionary_session": session})

    async def run() -> None:
        await client.connect()
        await actions(client)
        await asyncio.sleep(1.5)
        await client.close()

    run_in_thread(run, timeout_s=60)
    return client


def test_a_private_image_reaches_nobody_else_and_only_owners_and_admins_change_images(
    browser: Browser, locked_app: RunningApp
):
    run = uuid.uuid4().hex[:6]
    private, shared = f"alice private {run}", f"alice shared {run}"
    seed_images(locked_app, [private, shared], owner="user:alice")

    with _browser_page(browser) as alice:
        _sign_in(alice, locked_app, "alice", PASSWORDS["alice"])
        alice.locator(ITEM).filter(has_text=private).locator(".tile-open").click()
        expect(alice.locator("#lightbox-owner")).to_have_text("you")
        alice.click("#visibility-toggle")
        expect(alice.locator("#lightbox-visibility")).to_contain_text("Private")
        assert _images(locked_app)[private] == ("user:alice", "private")
        alice.keyboard.press("Escape")
        alice.locator(ITEM).filter(has_text=shared).locator(".tile-star").click()
        expect(alice.locator(ITEM).filter(has_text=shared).locator(".tile-star")).to_have_attribute(
            "data-favourite", "true"
        )

    with _browser_page(browser) as bob:
        _sign_in(bob, locked_app, "bob", PASSWORDS["bob"])
        expect(bob.locator(ITEM).filter(has_text=shared)).to_have_count(1)
        expect(bob.locator(ITEM).filter(has_text=private)).to_have_count(0)
        star = bob.locator(ITEM).filter(has_text=shared).locator(".tile-star")
        expect(star).to_have_attribute("data-favourite", "false")  # Alice's star is hers
        bob.fill("#gallery-search", private)
        expect(bob.get_by_text("No image matches that search.")).to_be_visible()
        bob.fill("#gallery-search", "")  # (debounced: wait for it before the next change)
        expect(bob.locator(ITEM).filter(has_text=shared)).to_have_count(1)
        bob.click("#gallery-scope >> text=Mine")
        expect(bob.locator(ITEM).filter(has_text=shared)).to_have_count(0)
        bob.click("#gallery-scope >> text=Everyone")
        bob.locator(ITEM).filter(has_text=shared).locator(".tile-open").click()
        expect(bob.locator("#lightbox-owner")).to_have_text("alice")
        expect(bob.locator("#delete-image")).to_have_count(0)
        expect(bob.locator("#visibility-toggle")).to_have_count(0)
        bob_session = _session_of(bob)

    ids = {tile["prompt"]: tile["id"] for tile in _as(
        locked_app, _session_of_user(browser, locked_app, "alice"),
        lambda c: c.send(GalleryState, "load"),
    ).get(GalleryState, "images", [])}  # fmt: skip

    async def bob_crafts(client: ReflexClient) -> None:
        # By id, past the page: the private one does not open, the shared one cannot be
        # deleted or hidden.
        await client.send(LightboxState, "open_image", image_id=ids[private])
        await client.send(GalleryState, "set_search", value=private)
        await client.send(LightboxState, "open_image", image_id=ids[shared])
        await asyncio.sleep(1)
        await client.send(LightboxState, "delete")
        await client.send(LightboxState, "toggle_visibility")

    crafted = _as(locked_app, bob_session, bob_crafts)
    assert crafted.get(LightboxState, "prompt") == shared  # never the private prompt
    assert crafted.get(GalleryState, "images") == []
    assert any("could not be opened" in text for _, text in crafted.toasts)
    assert any("only its owner" in text for _, text in crafted.toasts)
    assert _images(locked_app)[shared] == ("user:alice", "shared")
    assert _images(locked_app)[private] == ("user:alice", "private")

    with _browser_page(browser) as carol:  # an admin
        _sign_in(carol, locked_app, "carol", PASSWORDS["carol"])
        expect(carol.locator(ITEM).filter(has_text=private)).to_have_count(0)
        carol.locator(ITEM).filter(has_text=shared).locator(".tile-open").click()
        carol.click("#delete-image")
        carol.click("#confirm-delete")
        expect(carol.locator(ITEM).filter(has_text=shared)).to_have_count(0)
    assert shared not in _images(locked_app) and private in _images(locked_app)


def _session_of_user(browser: Browser, app: RunningApp, name: str) -> str:
    with _browser_page(browser) as page:
        _sign_in(page, app, name, PASSWORDS[name])
        expect(page.locator("#gallery[data-loaded='true']")).to_be_attached()
        return _session_of(page)


def test_no_page_script_can_read_a_session_and_a_copy_dies_with_sign_out(
    browser: Browser, locked_app: RunningApp
):
    violations: list[str] = []
    with _browser_page(browser) as page:
        page.on(
            "console",
            lambda message: (
                violations.append(message.text)
                if "Content Security Policy" in message.text
                else None
            ),
        )
        response = page.goto(locked_app.url + "/sign-in")
        headers = response.headers
        assert "frame-ancestors 'none'" in headers["content-security-policy"]
        assert headers["x-content-type-options"] == "nosniff"
        assert headers["referrer-policy"] == "same-origin"
        _sign_in(page, locked_app, "alice", PASSWORDS["alice"])
        expect(page.locator("#gallery[data-loaded='true']")).to_be_attached()
        expect(page.locator("#signed-in-as")).to_have_text("alice")
        readable = page.evaluate("document.cookie")
        assert "visionary_session" not in readable and "visionary_visitor" not in readable
        cookies = {cookie["name"]: cookie for cookie in page.context.cookies()}
        assert cookies["visionary_session"]["httpOnly"] and cookies["visionary_visitor"]["httpOnly"]
        assert cookies["visionary_session"]["sameSite"] == "Lax"
        copied = cookies["visionary_session"]["value"]

        page.click("#sign-out")
        expect(page).to_have_url(on_sign_in(locked_app))
        expect(page.locator("#gallery")).to_have_count(0)
    assert violations == [], violations

    # The copy taken before signing out opens nothing: not the page...
    context = browser.new_context()
    try:
        context.add_cookies([{"name": "visionary_session", "value": copied, "url": locked_app.url}])
        thief = context.new_page()
        thief.goto(locked_app.url)
        expect(thief).to_have_url(on_sign_in(locked_app))
    finally:
        context.close()
    # ...nor the websocket, event by event.
    seed_images(locked_app, [f"alice's after sign-out {uuid.uuid4().hex[:6]}"], owner="user:alice")
    stolen = _as(locked_app, copied, lambda c: c.send(GalleryState, "load"))
    assert stolen.get(GalleryState, "images", []) == []
    assert stolen.get(VisitorState, "signed_in_as", "") == ""


# Opens the event socket from the page it runs in; says whether the server let it open.
OPEN_EVENT_SOCKET = """url => new Promise(done => {
    const socket = new WebSocket(url);
    socket.onopen = () => { done("opened"); socket.close(); };
    socket.onclose = () => done("refused");
})"""


def test_a_page_of_another_site_cannot_open_the_event_socket(
    browser: Browser, locked_app: RunningApp
):
    """A site on another port of the same host is the same *site*: Lax cookies go along."""
    import http.server

    socket_url = locked_app.url.replace("http://", "ws://") + "/_event/?EIO=4&transport=websocket"

    class Elsewhere(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("content-type", "text/html")
            self.end_headers()
            self.wfile.write(b"<!doctype html><title>another site</title>")

        def log_message(self, *args) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Elsewhere)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        with _browser_page(browser) as page:
            _sign_in(page, locked_app, "alice", PASSWORDS["alice"])
            expect(page.locator("#gallery[data-loaded='true']")).to_be_attached()
            page.goto(f"http://localhost:{server.server_port}/")
            assert page.evaluate(OPEN_EVENT_SOCKET, socket_url) == "refused"
            # The same script on the app's own origin opens it: the origin is what is refused.
            page.goto(locked_app.url + "/sign-in")
            assert page.evaluate(OPEN_EVENT_SOCKET, socket_url) == "opened"
    finally:
        server.shutdown()
        server.server_close()

    async def connect_from_elsewhere() -> None:
        client = ReflexClient(locked_app.url, origin="https://evil.example")
        with pytest.raises(socketio.exceptions.ConnectionError):
            await client.connect(timeout_s=5)

    run_in_thread(connect_from_elsewhere, timeout_s=30)
