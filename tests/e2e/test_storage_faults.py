"""Azure storage in trouble, seen from the browser: expiring URLs, outages, a frozen service."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator

import httpx
import pytest
from playwright.sync_api import Browser, Page, expect

from tests.e2e.conftest import (
    ITEM,
    OFFLINE_LATENCY_MS,
    RunningApp,
    generate,
    launch_app,
    open_studio,
    studio_page,
)
from tests.support.azurite import Azurite

TTL_S = 10
TIMEOUT_S = 1.5
RETRIES = 1
# Provider latency, then each upload attempt (connect + read timeout) with one backoff, then
# one cleanup delete bounded by the timeout, plus slack for rendering the toast.
ERROR_BOUND_S = (
    OFFLINE_LATENCY_MS / 1000 + (RETRIES + 1) * 2 * TIMEOUT_S + 0.5 * RETRIES + TIMEOUT_S + 2
)
ERROR_TOAST = '[data-sonner-toast][data-type="error"]'


@pytest.fixture(scope="module")
def own_azurite(tmp_path_factory) -> Iterator[Azurite]:
    with Azurite(tmp_path_factory.mktemp("azurite-faults")) as emulator:
        yield emulator


@pytest.fixture(scope="module")
def fragile_app(own_azurite: Azurite, tmp_path_factory) -> Iterator[RunningApp]:
    with launch_app(
        tmp_path_factory.mktemp("app-faults"),
        azurite=own_azurite,
        url_ttl_seconds=str(TTL_S),
        storage_timeout_seconds=str(TIMEOUT_S),
        storage_retries=str(RETRIES),
    ) as running:
        yield running


@pytest.fixture
def studio(browser: Browser, fragile_app: RunningApp) -> Iterator[Page]:
    with studio_page(browser, fragile_app.url, timeout_ms=30_000) as page:
        yield page


def _loaded(page: Page, image) -> bool:
    return image.evaluate("img => img.complete && img.naturalWidth > 0")


def test_urls_are_renewed_before_they_expire(studio: Page):
    prompt = f"renew me {uuid.uuid4().hex[:6]}"
    generate(studio, prompt)
    image = studio.locator(ITEM).filter(has_text=prompt).locator("img")
    expect(image).to_have_count(1, timeout=30_000)
    first_src = image.get_attribute("src")

    time.sleep(TTL_S + 2)  # the first URL has expired by now
    assert httpx.get(first_src).status_code == 403
    renewed_src = image.get_attribute("src")
    assert renewed_src != first_src
    assert httpx.get(renewed_src).status_code == 200
    studio.wait_for_function(
        "img => img.complete && img.naturalWidth > 0", arg=image.element_handle()
    )


def test_an_image_that_fails_to_load_asks_for_a_fresh_url_once(browser, fragile_app: RunningApp):
    seed = open_studio(browser.new_page(), fragile_app.url)
    prompt = f"retry me {uuid.uuid4().hex[:6]}"
    generate(seed, prompt)
    expect(seed.locator(ITEM).filter(has_text=prompt)).to_have_count(1, timeout=30_000)
    seed.context.close()

    context = browser.new_context()
    page = context.new_page()
    failed: list[str] = []

    def fail_first_load(route) -> None:
        if not failed:
            failed.append(route.request.url)
            route.abort()
        else:
            route.continue_()

    page.route(lambda url: "/images/20" in url and "sig=" in url, fail_first_load)
    open_studio(page, fragile_app.url)
    image = page.locator(ITEM).filter(has_text=prompt).locator("img")
    page.wait_for_function(
        "img => img.complete && img.naturalWidth > 0", arg=image.element_handle()
    )
    assert len(failed) == 1
    assert image.get_attribute("src") != failed[0]
    context.close()


def test_storage_outage_gives_an_error_toast_and_stores_nothing(
    studio: Page, own_azurite: Azurite, fragile_app: RunningApp
):
    rows_before = fragile_app.image_rows()
    own_azurite.stop()
    try:
        prompt = f"during the outage {uuid.uuid4().hex[:6]}"
        generate(studio, prompt)
        expect(studio.locator(ERROR_TOAST)).to_contain_text("storage is unavailable")
        expect(studio.locator('[data-testid="job-card"]')).to_have_count(0)
        expect(studio.locator(ITEM).filter(has_text=prompt)).to_have_count(0)
        assert fragile_app.image_rows() == rows_before
    finally:
        own_azurite.start()
    assert [name for name in fragile_app.blob_names() if name.endswith(".png")] == sorted(
        blob for _, blob in rows_before
    )


def test_frozen_storage_error_arrives_within_the_configured_bound(
    studio: Page, own_azurite: Azurite, fragile_app: RunningApp
):
    rows_before = fragile_app.image_rows()
    own_azurite.freeze()
    try:
        started = time.monotonic()
        generate(studio, f"storage frozen {uuid.uuid4().hex[:6]}")
        expect(studio.locator(ERROR_TOAST)).to_contain_text(
            "storage is unavailable", timeout=int(ERROR_BOUND_S * 1000) + 5_000
        )
        elapsed = time.monotonic() - started
    finally:
        own_azurite.thaw()
    print(f"frozen storage: error toast after {elapsed:.1f} s (bound {ERROR_BOUND_S:.1f} s)")
    assert elapsed < ERROR_BOUND_S
    assert fragile_app.image_rows() == rows_before
