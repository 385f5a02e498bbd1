"""Money in Chromium: estimates follow the options, a budget refuses before any provider call,
cheap jobs go through until it is used, and an admin sees the spend as a chart."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, Page, expect

from tests.e2e.conftest import ITEM, RunningApp, generate, launch_app, toast, unique
from tests.fakes.openai_server import FakeOpenAI

PASSWORD = "a-long-test-password-123"


@pytest.fixture(scope="module")
def fake() -> Iterator[FakeOpenAI]:
    server = FakeOpenAI().start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def money_app(fake: FakeOpenAI, tmp_path_factory) -> Iterator[RunningApp]:
    with launch_app(
        tmp_path_factory.mktemp("app-money"),
        extra_env={"OPENAI_API_KEY": fake.api_key, "OPENAI_BASE_URL": fake.base_url},
        provider="openai",
        partial_images="0",
        provider_max_retries="0",
        access_users=f"alice:{PASSWORD},carol:{PASSWORD}",
        admins="carol",
        session_secret="session-secret-for-the-money-test-0123456789",
        budget_usd_per_user_per_day="0.02",
    ) as running:
        yield running


def _signed_in(browser: Browser, app: RunningApp, name: str) -> Page:
    page = browser.new_context(viewport={"width": 1280, "height": 900}).new_page()
    page.set_default_timeout(30_000)
    page.goto(app.url)
    page.fill("#sign-in-name", name)
    page.fill("#sign-in-password", PASSWORD)
    page.click("#sign-in-button")
    page.wait_for_selector("#gallery[data-loaded='true']", state="attached")
    return page


def _choose(page: Page, element_id: str, value: str) -> None:
    page.click(f"#{element_id}")
    page.get_by_role("option", name=value, exact=True).click()
    expect(page.locator(f"#{element_id}")).to_have_text(value)


def _tile(page: Page, text: str):
    return page.locator(ITEM).filter(has=page.locator(".tile-prompt", has_text=text))


def test_a_budget_refuses_before_the_call_and_an_admin_sees_the_spend(
    browser: Browser, money_app: RunningApp, fake: FakeOpenAI
):
    alice = _signed_in(browser, money_app, "alice")
    _choose(alice, "option-quality", "high")
    expensive = unique("an expensive lighthouse")
    calls = len(fake.requests)
    generate(alice, expensive)
    refusal = alice.locator(toast("warning")).filter(has_text="daily budget")
    expect(refusal).to_be_visible()
    expect(refusal).to_contain_text("left")
    assert len(fake.requests) == calls  # refused before any provider call
    assert money_app.query("SELECT id FROM generation_job WHERE prompt = ?", expensive) == []

    _choose(alice, "option-quality", "low")
    made = []
    for _ in range(12):
        prompt = unique("a cheap fox")
        generate(alice, prompt)
        rows = []
        for _ in range(30):  # a refused job leaves no row; an accepted one at once
            rows = money_app.query("SELECT id FROM generation_job WHERE prompt = ?", prompt)
            if rows:
                break
            alice.wait_for_timeout(100)
        if not rows:
            expect(alice.locator(toast("warning")).filter(has_text="daily budget")).to_be_visible()
            break
        expect(_tile(alice, prompt)).to_have_count(1)
        made.append(prompt)
    assert made, "no cheap job went through"
    expect(alice.locator("#budget-left")).to_contain_text("left of your daily budget")
    costs = money_app.query("SELECT SUM(cost_micros) FROM generation_job WHERE owner = ?",
                            "user:alice")  # fmt: skip
    assert costs[0][0] <= 20_000

    carol = _signed_in(browser, money_app, "carol")
    carol.goto(f"{money_app.url}/usage")
    chart = carol.locator("#usage-chart")
    expect(chart).to_be_visible()
    expect(chart.locator(".recharts-bar-rectangle").first).to_be_attached()
    expect(carol.locator("#usage-by-user")).to_contain_text("alice")
    expect(carol.locator("#usage-by-model")).to_contain_text("openai/gpt-image-2")
