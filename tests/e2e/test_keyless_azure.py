"""Keyless Azure in the browser: the app signs in as a managed identity and holds no key.

The app runs its production code on Azurite 3.37 serving HTTPS and accepting bearer tokens:
`AZURE_STORAGE_ACCOUNT_URL` and no connection string, so `DefaultAzureCredential` gets its
tokens from App Service's managed-identity endpoint (a stand-in on loopback, speaking that
protocol), fetches user delegation keys, and every URL the page receives is a read-only
user-delegation SAS that the emulator checks when the browser loads it.
"""

from __future__ import annotations

import ssl
import time
import uuid
from collections.abc import Iterator
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from playwright.sync_api import Browser, Page, expect

from tests.e2e.conftest import ITEM, RunningApp, generate, launch_app, open_studio, unique
from tests.support.azurite import Azurite
from tests.support.entra import ManagedIdentityEndpoint

TTL_S = 10  # the shortest lifetime the settings allow, so a link expires within the test
DELEGATION_FIELDS = {"skoid", "sktid", "skt", "ske", "sks", "skv"}


@pytest.fixture(scope="module")
def keyless(tmp_path_factory) -> Iterator[tuple[RunningApp, Azurite, ManagedIdentityEndpoint]]:
    work = tmp_path_factory.mktemp("keyless")
    with (
        Azurite(work / "azurite", oauth=True) as emulator,
        ManagedIdentityEndpoint() as identity,
    ):
        env = {
            "AZURE_STORAGE_ACCOUNT_URL": emulator.blob_endpoint,
            "VISIONARY_AZURE_CONTAINER": f"keyless-{uuid.uuid4().hex[:12]}",
            # The emulator's self-signed certificate is the only authority the app trusts.
            "SSL_CERT_FILE": str(emulator.certificate),
            **identity.env,
        }
        with launch_app(work / "app", extra_env=env, url_ttl_seconds=str(TTL_S)) as app:
            yield app, emulator, identity


@pytest.fixture
def studio(browser: Browser, keyless) -> Iterator[Page]:
    app, _, _ = keyless
    # The browser loads images from the emulator's HTTPS endpoint (a self-signed certificate).
    context = browser.new_context(viewport={"width": 1280, "height": 900}, ignore_https_errors=True)
    page = context.new_page()
    page.set_default_timeout(30_000)
    try:
        yield open_studio(page, app.url)
    finally:
        context.close()


def _delegation_sas(src: str, emulator: Azurite) -> dict[str, list[str]]:
    """The query of a read-only, HTTPS-only user-delegation SAS URL on the emulator."""
    assert src.startswith(f"{emulator.blob_endpoint}/"), src
    query = parse_qs(urlsplit(src).query)
    assert DELEGATION_FIELDS <= query.keys(), src  # signed with a user delegation key
    assert query["sp"] == ["r"] and query["spr"] == ["https"] and query["sr"] == ["b"], src
    return query


def _fetch(src: str, emulator: Azurite) -> httpx.Response:
    return httpx.get(src, verify=ssl.create_default_context(cafile=emulator.certificate))


def _loaded(page: Page, image) -> None:
    page.wait_for_function(
        "img => img.complete && img.naturalWidth > 0", arg=image.element_handle()
    )


def test_a_keyless_app_generates_and_the_page_loads_through_delegation_sas(studio: Page, keyless):
    app, emulator, identity = keyless
    assert "AZURE_STORAGE_CONNECTION_STRING" not in app.env
    prompt = unique("a keyless lighthouse")
    generate(studio, prompt)
    tile = studio.locator(ITEM).filter(has_text=prompt)
    image = tile.locator("img")
    expect(image).to_have_count(1, timeout=30_000)
    _loaded(studio, image)
    thumbnail = image.evaluate("img => img.currentSrc")
    _delegation_sas(thumbnail, emulator)
    assert _fetch(thumbnail, emulator).headers["content-type"] == "image/webp"
    assert identity.requests >= 1  # the app's tokens came from the managed identity

    tile.locator(".tile-open").click()
    expect(studio.locator("#lightbox-prompt")).to_have_text(prompt)
    full = studio.locator("#lightbox-image")
    _loaded(studio, full)
    original = full.evaluate("img => img.currentSrc")
    _delegation_sas(original, emulator)
    answer = _fetch(original, emulator)
    assert answer.status_code == 200 and answer.content.startswith(b"\x89PNG\r\n\x1a\n")
    # The signature covers the URL: a link widened to write is refused by the store.
    assert _fetch(original.replace("sp=r&", "sp=rw&"), emulator).status_code == 403


def test_a_keyless_link_past_its_expiry_is_refused_and_the_page_renews_it(studio: Page, keyless):
    _, emulator, _ = keyless
    prompt = unique("a keyless harbour")
    generate(studio, prompt)
    image = studio.locator(ITEM).filter(has_text=prompt).locator("img")
    expect(image).to_have_count(1, timeout=30_000)
    first = image.get_attribute("src")
    expires = _delegation_sas(first, emulator)["se"][0]
    assert _fetch(first, emulator).status_code == 200

    time.sleep(TTL_S + 2)  # past the link's `se` ({expires}), the store refuses it
    assert _fetch(first, emulator).status_code == 403, expires
    renewed = image.get_attribute("src")
    assert renewed != first
    _delegation_sas(renewed, emulator)
    assert _fetch(renewed, emulator).status_code == 200
    _loaded(studio, image)
