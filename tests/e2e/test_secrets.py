"""No storage secret reaches the browser: not in pages, not in JS, not in websocket frames."""

from __future__ import annotations

import uuid

from playwright.sync_api import Browser, expect

from tests.e2e.conftest import RunningApp, open_studio
from tests.support.azurite import ACCOUNT_KEY


def _secrets(app: RunningApp) -> list[str]:
    if app.store_kind == "azure":
        return [ACCOUNT_KEY, ACCOUNT_KEY[:24], "AccountKey", app.connection_string]
    key = (app.data_dir / "url-signing.key").read_text().strip()
    return [key, key[:24]]


def test_no_secret_in_pages_scripts_or_websocket_frames(browser: Browser, app: RunningApp):
    context = browser.new_context()
    page = context.new_page()
    frames: list[str] = []
    bodies: dict[str, str] = {}

    def on_websocket(ws) -> None:
        ws.on("framesent", lambda payload: frames.append(str(payload)))
        ws.on("framereceived", lambda payload: frames.append(str(payload)))

    def on_response(response) -> None:
        if response.url.startswith(app.url) and "/media/" not in response.url:
            try:
                bodies[response.url] = response.text()
            except Exception:
                pass

    page.on("websocket", on_websocket)
    page.on("response", on_response)
    open_studio(page, app.url)
    prompt = f"secret hunt {uuid.uuid4().hex[:8]}"
    page.fill("#prompt-input", prompt)
    page.click("#generate-button")
    item = page.locator('[data-testid="gallery-item"]').filter(has_text=prompt)
    expect(item).to_have_count(1, timeout=30_000)
    page.click("#refresh-gallery")
    expect(item).to_have_count(1)
    page.reload()
    open_studio(page, app.url)
    context.close()

    assert any(prompt in frame for frame in frames), "frames were not captured"
    assert any(url.endswith(".js") for url in bodies), "scripts were not captured"
    for secret in _secrets(app):
        leaks = [url for url, body in bodies.items() if secret in body]
        assert not leaks, f"secret found in {leaks}"
        assert not [frame for frame in frames if secret in frame], "secret in a websocket frame"
