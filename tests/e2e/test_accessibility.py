"""Everyone can use it: axe-core finds nothing, the keyboard reaches everything, phones fit.

The sign-in page is checked in test_access.py, on the app that asks for a password.
"""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, Page, expect

from tests.e2e.conftest import ITEM, RunningApp, assert_no_axe_violations, open_studio, seed_images

# What an interactive control is, for the "every control whole" check.
# A file input is visually hidden by design (its button is the control people press).
CONTROLS = (
    "button, a[href], input:not([type=file]), textarea, select, [role=switch], [role=combobox]"
)


@pytest.fixture(scope="module", autouse=True)
def some_images(app: RunningApp) -> None:
    run = uuid.uuid4().hex[:6]
    seed_images(app, [f"accessible sample {index} {run}" for index in range(6)])


@contextlib.contextmanager
def _page(browser: Browser, url: str, *, scheme: str, width: int = 1280) -> Iterator[Page]:
    context = browser.new_context(
        viewport={"width": width, "height": 900}, color_scheme=scheme, reduced_motion="reduce"
    )
    page = context.new_page()
    page.set_default_timeout(20_000)
    try:
        yield page
    finally:
        context.close()


def _settle(page: Page) -> None:
    expect(page.locator(ITEM).first).to_be_visible()
    # Tiles below the fold load lazily; the first ones load at once.
    page.wait_for_function(
        f"() => [...document.querySelectorAll('{ITEM} img')].slice(0, 4).every(i => i.complete)"
    )


@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_no_axe_violations_on_the_studio_the_lightbox_and_the_editor(
    browser: Browser, app: RunningApp, scheme: str
):
    with _page(browser, app.url, scheme=scheme) as page:
        open_studio(page, app.url)
        _settle(page)
        is_dark = page.evaluate("() => document.documentElement.classList.contains('dark')")
        assert is_dark == (scheme == "dark")
        assert_no_axe_violations(page, f"studio ({scheme})")
        page.locator(f"{ITEM} .tile-open").first.click()
        expect(page.locator("#lightbox-image")).to_be_visible()
        page.wait_for_function("() => document.querySelector('#lightbox-image').complete")
        assert_no_axe_violations(page, f"lightbox ({scheme})")
        page.click("#edit-image")
        expect(page.locator("#edit-mask")).to_be_visible()
        assert_no_axe_violations(page, f"editor ({scheme})")


def _has_focus_ring(page: Page) -> bool:
    """An outline or ring on the focused element, or on the box around it (Radix fields)."""
    return page.evaluate(
        """() => {
            let el = document.activeElement;
            for (let depth = 0; el && depth < 3; depth++, el = el.parentElement) {
                for (const pseudo of [null, '::before', '::after']) {
                    const style = getComputedStyle(el, pseudo);
                    const width = parseFloat(style.outlineWidth);
                    if (style.outlineStyle !== 'none' && width > 0) return true;
                    if (style.boxShadow && style.boxShadow !== 'none') return true;
                }
            }
            return false;
        }"""
    )


def test_the_keyboard_reaches_a_tile_opens_it_and_comes_back(browser: Browser, app: RunningApp):
    with _page(browser, app.url, scheme="light") as page:
        open_studio(page, app.url)
        _settle(page)
        reached = None
        for _ in range(60):
            page.keyboard.press("Tab")
            focused = page.evaluate("() => document.activeElement.className")
            assert _has_focus_ring(page), f"no visible focus on {focused!r}"
            if "tile-open" in focused:
                reached = page.evaluate(
                    "() => document.activeElement.closest('[data-image-id]').dataset.imageId"
                )
                break
        assert reached, "Tab never reached a gallery tile"
        page.keyboard.press("Enter")
        expect(page.locator("#lightbox")).to_be_visible()
        for _ in range(25):  # focus stays inside the dialog however far one tabs
            page.keyboard.press("Tab")
            inside = page.evaluate("() => !!document.activeElement.closest('#lightbox')")
            assert inside, "focus left the open lightbox"
            assert _has_focus_ring(page)
        page.keyboard.press("ArrowRight")
        page.keyboard.press("Escape")
        expect(page.locator("#lightbox")).to_have_count(0)
        back = page.evaluate(
            "() => document.activeElement.closest('[data-image-id]')?.dataset.imageId"
        )
        assert back == reached


@pytest.mark.parametrize("width", [320, 360, 390, 768, 1920])
def test_every_control_fits_from_phone_to_desktop(browser: Browser, app: RunningApp, width: int):
    with _page(browser, app.url, scheme="light", width=width) as page:
        open_studio(page, app.url)
        _settle(page)
        page.fill("#prompt-input", "a lighthouse on a cliff at dusk")
        overflow = page.evaluate(
            "() => document.documentElement.scrollWidth - document.documentElement.clientWidth"
        )
        assert overflow <= 0, f"{overflow}px of horizontal scrolling at {width}px"
        cut = page.evaluate(
            """([selector, width]) => [...document.querySelectorAll(selector)]
                .filter(el => el.offsetParent !== null && !el.closest('[data-testid=gallery-item]'))
                .map(el => [el.id || el.getAttribute('aria-label') || el.textContent.trim(),
                            el.getBoundingClientRect(), el.scrollWidth - el.clientWidth])
                .filter(([, r, clipped]) => r.left < 0 || r.right > width + 0.5 || clipped > 1)
                .map(([name, r, clipped]) =>
                     `${name}: ${Math.round(r.left)}..${Math.round(r.right)}`
                     + (clipped > 1 ? ` (text clipped by ${clipped}px)` : ''))""",
            [CONTROLS, width],
        )
        assert cut == [], f"controls cut off at {width}px: {cut}"
