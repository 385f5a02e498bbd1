"""/metrics: off without a token, refused with a wrong one, and counting what happens."""

from __future__ import annotations

import httpx
from starlette.applications import Starlette

from tests.api.conftest import BASE
from tests.support.studios import fresh_studio
from visionary_app.api.metrics import metrics_routes
from visionary_app.services.access.ownership import Viewer
from visionary_app.services.generation.providers.base import ImageOptions
from visionary_app.services.studio import get_studio
from visionary_app.settings import get_settings


async def _scrape(token: str | None) -> httpx.Response:
    app = Starlette(routes=metrics_routes(get_studio, lambda: 3))
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=BASE) as c:
        return await c.get("/metrics", headers=headers)


def _value(text: str, name: str) -> float:
    lines = [line for line in text.splitlines() if line.startswith(name + " ") or
             line.startswith(name + "{")]  # fmt: skip
    return sum(float(line.rsplit(" ", 1)[1]) for line in lines)


async def test_metrics_are_off_refused_or_counted(tmp_path, monkeypatch):
    studio = fresh_studio(monkeypatch, tmp_path)
    assert (await _scrape(None)).status_code == 404
    await studio.aclose()
    secret = "metrics-token-for-the-scraper-0123456789"
    studio = fresh_studio(monkeypatch, tmp_path, metrics_token=secret)
    assert (await _scrape("wrong")).status_code == 401
    before = await _scrape(secret)
    jobs = _value(before.text, 'visionary_jobs_total{outcome="stored"}')
    job = await studio.runner.submit("user:a", "counted", ImageOptions(size="256x256"))
    [event async for event in studio.runner.follow(job)]
    await studio.catalog.newest(5, viewer=Viewer("user:a"))
    after = await _scrape(secret)
    assert after.status_code == 200 and after.headers["content-type"].startswith("text/plain")
    assert _value(after.text, 'visionary_jobs_total{outcome="stored"}') == jobs + 1
    assert _value(after.text, "visionary_provider_seconds_count") >= 1
    assert _value(after.text, "visionary_job_queue_seconds_count") >= 1
    assert _value(after.text, "visionary_open_tabs") == 3
    assert "counted" not in after.text and "user:a" not in after.text
    await studio.aclose()
    get_settings.cache_clear()
