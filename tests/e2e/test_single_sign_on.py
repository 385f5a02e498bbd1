"""Single sign-on end to end: Chromium, the app, and a real OpenID provider started here.

The provider is `oidc-provider-mock` (a real OIDC server on loopback: discovery, an
authorization form, a token endpoint, signed ID tokens); the app talks to it with Authlib.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Iterator

import httpx
import oidc_provider_mock
import pytest
from playwright.sync_api import Browser, expect

from tests.e2e.conftest import ITEM, RunningApp, launch_app, on_sign_in, seed_images, unique


@pytest.fixture(scope="module")
def provider() -> Iterator[str]:
    with oidc_provider_mock.run_server_in_thread() as server:
        issuer = f"http://localhost:{server.server_port}"
        for sub, claims in {
            "alice-sub": {
                "preferred_username": "Alice",
                "roles": ["visionary-admin"],
                "groups": ["design"],
            },
            "bob-sub": {"preferred_username": "bob", "roles": [], "groups": ["design", "ops"]},
        }.items():
            assert httpx.put(f"{issuer}/users/{sub}", json=claims).status_code == 204
        yield issuer


@pytest.fixture(scope="module")
def sso_app(tmp_path_factory, provider: str) -> Iterator[RunningApp]:
    with launch_app(
        tmp_path_factory.mktemp("app-sso"),
        oidc_issuer=provider,
        oidc_client_id="visionary-studio",
        oidc_client_secret="client-secret-for-tests",
        oidc_admin_claim="roles",
        oidc_admin_value="visionary-admin",
        oidc_teams_claim="groups",
        oidc_label="Example ID",
    ) as running:
        yield running


@contextlib.contextmanager
def _signed_in(browser: Browser, app: RunningApp, sub: str):
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    page.set_default_timeout(30_000)
    try:
        page.goto(app.url)
        expect(page).to_have_url(on_sign_in(app))
        expect(page.locator("#sign-in-password")).to_have_count(0)  # no passwords here
        page.click("#sign-in-sso")
        page.fill("input[name=sub]", sub)  # the provider's own sign-in form
        page.get_by_role("button", name="Authorize").click()
        expect(page).to_have_url(f"{app.url}/")
        expect(page.locator("#gallery[data-loaded='true']")).to_be_attached()
        yield page
    finally:
        context.close()


def test_single_sign_on_names_the_user_and_admins_come_from_a_claim(
    browser: Browser, sso_app: RunningApp
):
    prompt = unique("bob's shared image")
    seed_images(sso_app, [prompt], owner="user:bob")
    with _signed_in(browser, sso_app, "bob-sub") as bob:
        expect(bob.locator("#signed-in-as")).to_have_text("bob")
        bob.locator(ITEM).filter(has_text=prompt).locator(".tile-open").click()
        expect(bob.locator("#delete-image")).to_be_visible()  # his own
    with _signed_in(browser, sso_app, "alice-sub") as alice:
        expect(alice.locator("#signed-in-as")).to_have_text("alice")  # from preferred_username
        alice.locator(ITEM).filter(has_text=prompt).locator(".tile-open").click()
        expect(alice.locator("#lightbox-owner")).to_have_text("bob")
        expect(alice.locator("#delete-image")).to_be_visible()  # an admin by her roles claim
    # Each sign-in recorded the teams its groups claim named, for the team budgets.
    assert sorted(sso_app.query("SELECT user, team FROM team_member")) == [
        ("alice", "design"), ("bob", "design"), ("bob", "ops"),
    ]  # fmt: skip


def test_a_callback_that_did_not_start_here_signs_nobody_in(browser: Browser, sso_app: RunningApp):
    context = browser.new_context()
    page = context.new_page()
    try:
        page.goto(f"{sso_app.url}/auth/oidc/callback?code=stolen&state=guessed")
        expect(page).to_have_url(re.compile(r"/sign-in/?\?error=mismatch$"))
        expect(page.locator("#sign-in-error")).to_contain_text("did not start in this browser")
        assert "visionary_session" not in {c["name"] for c in context.cookies()}
    finally:
        context.close()
