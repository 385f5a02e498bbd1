"""The running app's health, readiness, metrics and JSON logs, over real HTTP."""

from __future__ import annotations

import json
from collections.abc import Iterator

import httpx
import pytest
from playwright.sync_api import Browser, expect

from tests.e2e.conftest import ITEM, RunningApp, generate, launch_app, studio_page, unique

METRICS_TOKEN = "metrics-token-for-the-e2e-scraper-0123456789"


@pytest.fixture(scope="module")
def observed_app(tmp_path_factory) -> Iterator[RunningApp]:
    with launch_app(
        tmp_path_factory.mktemp("app-observed"),
        log_format="json",
        metrics_token=METRICS_TOKEN,
        offline_latency_ms="200",
    ) as running:
        yield running


def test_health_readiness_metrics_and_json_logs(browser: Browser, observed_app: RunningApp):
    url = observed_app.url
    assert httpx.get(f"{url}/healthz").json() == {"status": "alive"}
    ready = httpx.get(f"{url}/readyz")
    assert ready.status_code == 200, ready.text
    assert all(check["ok"] for check in ready.json()["checks"].values())
    assert httpx.get(f"{url}/metrics").status_code == 401

    prompt = unique("a lantern in the fog")
    with studio_page(browser, url) as page:
        generate(page, prompt)
        expect(page.locator(ITEM).filter(has_text=prompt)).to_have_count(1, timeout=30_000)
        scrape = httpx.get(f"{url}/metrics", headers={"Authorization": f"Bearer {METRICS_TOKEN}"})
        assert scrape.status_code == 200
        assert 'visionary_jobs_total{outcome="stored"} 1.0' in scrape.text
        assert "visionary_open_tabs 1.0" in scrape.text
    assert prompt not in scrape.text

    (job_id,) = [r[0] for r in observed_app.query("SELECT id FROM generation_job")]
    lines = [json.loads(line) for line in observed_app.log_path.read_text().splitlines()
             if line.startswith("{")]  # fmt: skip
    ended = [line for line in lines if line["message"].startswith("job ") and "ended" in
             line["message"]]  # fmt: skip
    assert ended and ended[-1]["job_id"] == job_id.replace("-", "")
    assert ended[-1]["owner"].startswith("visitor:#")
    assert not any(prompt in line["message"] for line in lines)
