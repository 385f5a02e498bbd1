"""Jobs in a real browser: the queue under a cap, cancel, cost limits, restarts, live galleries."""

from __future__ import annotations

import contextlib
import sqlite3
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect

from tests.e2e.conftest import (
    ITEM,
    JOB_CARD,
    RunningApp,
    generate,
    launch_app,
    studio_page,
    toast,
    unique,
)

LATENCY_MS = 4000
HOURLY_LIMIT = 3


def _jobs(data_dir: Path, prompt: str, columns: str = "status, error") -> list[tuple]:
    with contextlib.closing(sqlite3.connect(data_dir / "visionary.db")) as connection:
        return connection.execute(
            f"SELECT {columns} FROM generation_job WHERE prompt = ?",
            (prompt,),
        ).fetchall()


def _jobs_once(
    data_dir: Path, prompt: str, done, columns: str = "status, error", wait_s: float = 15
) -> list[tuple]:
    """The prompt's job rows once `done(rows)` holds, or as they are when `wait_s` runs out."""
    deadline = time.monotonic() + wait_s
    while True:
        rows = _jobs(data_dir, prompt, columns)
        if time.monotonic() > deadline or done(rows):
            return rows
        time.sleep(0.2)


def _jobs_once_ended(data_dir: Path, prompt: str) -> list[tuple]:
    return _jobs_once(data_dir, prompt, lambda rows: all(s != "running" for s, _ in rows))


def _told_once_shown(data_dir: Path, prompt: str) -> bool:
    seen = _jobs_once(data_dir, prompt, lambda rows: rows == [(1,)], "seen", wait_s=10)
    return seen == [(1,)]


@pytest.fixture(scope="module")
def capped_app(tmp_path_factory) -> Iterator[RunningApp]:
    """One provider call at a time, slow images, and a small hourly allowance per visitor."""
    with launch_app(
        tmp_path_factory.mktemp("app-jobs"),
        max_concurrent_generations="1",
        offline_latency_ms=str(LATENCY_MS),
        images_per_user_per_hour=str(HOURLY_LIMIT),
        images_per_day="0",
    ) as running:
        yield running


@pytest.fixture
def studio(browser: Browser, capped_app: RunningApp) -> Iterator[Page]:
    with studio_page(browser, capped_app.url, timeout_ms=30_000) as page:
        yield page


def test_a_job_over_the_cap_waits_in_line_and_either_can_be_cancelled(
    studio: Page, capped_app: RunningApp
):
    first, second = unique("first in line"), unique("second in line")
    generate(studio, first)
    running = studio.locator(JOB_CARD).filter(has_text=first)
    expect(running).to_have_attribute("data-status", "running")
    generate(studio, second)
    waiting = studio.locator(JOB_CARD).filter(has_text=second)
    expect(waiting).to_have_attribute("data-status", "queued")
    expect(waiting.locator(".job-detail")).to_have_text("Next in line…")

    waiting.locator(".job-cancel").click()
    before_start = studio.locator(toast("info")).filter(has_text="Cancelled before it started")
    expect(before_start).to_be_visible()
    expect(waiting).to_have_count(0)
    running.locator(".job-cancel").click()
    expect(studio.locator(toast("info")).filter(has_text=first)).to_contain_text(
        "nothing was stored"
    )
    expect(studio.locator(JOB_CARD)).to_have_count(0)
    assert _jobs(capped_app.data_dir, first) == [("cancelled", "Cancelled.")]
    assert _jobs(capped_app.data_dir, second) == [("cancelled", "Cancelled.")]
    assert not [row for row in capped_app.image_rows() if row[0] in (first, second)]
    images = {name for name in capped_app.blob_names() if name.endswith(".png")}
    assert images == {blob for _, blob in capped_app.image_rows()}  # no orphans left behind


def test_a_visitor_over_the_hourly_limit_is_told_when_to_come_back(
    studio: Page, capped_app: RunningApp
):
    prompts = [unique(f"allowance {i}") for i in range(HOURLY_LIMIT)]
    for prompt in prompts:
        generate(studio, prompt)
        expect(studio.locator(JOB_CARD).filter(has_text=prompt)).to_have_count(1)
    refused = unique("one too many")
    generate(studio, refused)
    warning = studio.locator(toast("warning"))
    expect(warning).to_contain_text(f"limit of {HOURLY_LIMIT} images per hour")
    expect(warning).to_contain_text("Try again in about")
    assert _jobs(capped_app.data_dir, refused) == []
    for prompt in prompts:  # leave the single slot free for the next test
        studio.locator(JOB_CARD).filter(has_text=prompt).locator(".job-cancel").click()
    expect(studio.locator(JOB_CARD)).to_have_count(0)


def test_an_image_made_in_one_browser_appears_in_another_without_reload(
    browser: Browser, capped_app: RunningApp
):
    prompt = unique("seen by everyone")
    with (
        studio_page(browser, capped_app.url, timeout_ms=30_000) as maker,
        studio_page(browser, capped_app.url, timeout_ms=30_000) as watcher,
    ):
        generate(maker, prompt)
        expect(maker.locator(ITEM).filter(has_text=prompt)).to_have_count(1)
        # The watcher's gallery checks every few seconds; no reload, no click.
        expect(watcher.locator(ITEM).filter(has_text=prompt)).to_have_count(1, timeout=10_000)
        expect(watcher.locator(ITEM).first).to_contain_text(prompt)


def test_a_job_running_when_the_server_stops_runs_again_after_the_restart(
    browser: Browser, tmp_path_factory
):
    work = tmp_path_factory.mktemp("app-restart")
    prompt = unique("interrupted by a restart")
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    page.set_default_timeout(30_000)
    try:
        with launch_app(work, offline_latency_ms="60000", drain_seconds="1") as first_life:
            page.goto(first_life.url)
            page.wait_for_selector("#gallery[data-loaded='true']", state="attached")
            generate(page, prompt)
            card = page.locator(JOB_CARD).filter(has_text=prompt)
            expect(card).to_have_attribute("data-status", "running")
            assert _jobs(first_life.data_dir, prompt) == [("running", None)]
        # Stopped mid-job (SIGTERM): it drained for a second, then handed the job back to
        # the queue, its call counted once.
        columns = "status, retries, images"
        assert _jobs(work / "data", prompt, columns) == [("queued", 1, 2)]
        # The same browser (same visitor cookie) comes back to a new server, which runs it.
        with launch_app(work, offline_latency_ms="0") as second_life:
            page.goto(second_life.url)
            page.wait_for_selector("#gallery[data-loaded='true']", state="attached")
            expect(page.locator(ITEM).filter(has_text=prompt)).to_have_count(1)
            expect(page.locator(JOB_CARD)).to_have_count(0)
            assert _jobs_once_ended(second_life.data_dir, prompt) == [("succeeded", None)]
            assert len([row for row in second_life.image_rows() if row[0] == prompt]) == 1
            expect(page.locator(toast("error")).filter(has_text=prompt)).to_have_count(0)
    finally:
        context.close()
