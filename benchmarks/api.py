"""The HTTP API: a page of 50 next to the UI's own page query, and 50 API clients at once.

The clients generate at once against the production app, each following its job's events.

Page cost is measured in process, on the server: the UI's own page query (GalleryState's: the
catalog page, the viewer's stars, a signed tile each) against `GET /api/v1/images?limit=50`
through the whole ASGI stack (token check, the same query and stars, a signed thumbnail URL
each, JSON), on the same seeded index.
"""

from __future__ import annotations

import asyncio
import secrets
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path

import httpx

from benchmarks.gallery import VIEWER, _rows, _seed, _seed_thumbnails
from benchmarks.load import _images_by_prompt, target
from benchmarks.timing import p50_ms
from tests.support.environ import environ_set

API_PAGE = 50
JOB_TIMEOUT_S = 120


def _percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))] if ordered else 0.0


async def _page_times(
    images: int, repeats: int, work: Path, token: str, log: Callable[[str], None]
) -> tuple[float, float]:
    from starlette.applications import Starlette

    from visionary_app.api.v1 import build_api, mount
    from visionary_app.services import studio as studio_module
    from visionary_app.services.studio import get_studio
    from visionary_app.settings import get_settings
    from visionary_app.state.gallery import GalleryState

    get_settings.cache_clear()
    rows = _rows(images, seed=images)
    _seed(f"sqlite:///{work / 'index.db'}", rows).dispose()
    studio_module._studio = None
    studio = get_studio()
    # The thumbnails the first pages show, in the studio's own store.
    newest = sorted(rows, key=lambda r: (r["created_at"], r["id"]), reverse=True)
    await _seed_thumbnails(studio.store, newest[: API_PAGE + 1])
    log(f"seeded {images:,} rows")

    async def ui_page() -> None:
        # What the gallery state does for a page: the page (+1 row), stars, a tile each.
        records = await studio.catalog.newest(API_PAGE + 1, viewer=VIEWER)
        await GalleryState._sign(records, VIEWER)

    app = Starlette(routes=[mount("/api/v1", build_api(get_studio))])
    headers = {"Authorization": f"Bearer {token}"}
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://b") as c:

        async def api_page() -> None:
            response = await c.get(f"/api/v1/images?limit={API_PAGE}", headers=headers)
            assert response.status_code == 200 and len(response.json()["images"]) == API_PAGE

        ui_ms = await p50_ms(ui_page, repeats, warmup=5)
        api_ms = await p50_ms(api_page, repeats, warmup=5)
    await studio.aclose()
    return ui_ms, api_ms


async def page_cost(images: int, repeats: int, log: Callable[[str], None]) -> dict:
    """UI page query vs the API's page of 50, on one index of `images` rows."""
    from visionary_app.services import studio as studio_module
    from visionary_app.settings import get_settings

    work = Path(tempfile.mkdtemp(prefix="bench-api-"))
    token = secrets.token_urlsafe(32)
    settings_env = {
        "VISIONARY_DATA_DIR": str(work / "data"),
        "VISIONARY_DATABASE_URL": f"sqlite:///{work / 'index.db'}",
        "VISIONARY_API_TOKENS": f"u0={token}",
    }
    try:
        with environ_set(settings_env):
            ui_ms, api_ms = await _page_times(images, repeats, work, token, log)
    finally:
        studio_module._studio = None
        get_settings.cache_clear()
    log(f"  page of {API_PAGE}: UI query {ui_ms:.2f} ms, API {api_ms:.2f} ms")
    return {
        "images": images,
        "ui_page_ms_p50": round(ui_ms, 3),
        "api_page_ms_p50": round(api_ms, 3),
        "api_vs_ui": round(api_ms / ui_ms, 2),
        "target_met": api_ms <= 2 * ui_ms,
    }


async def _client(http: httpx.AsyncClient, token: str, prompt: str) -> dict:
    """One API client: submit, then follow the job's events to its end."""
    headers = {"Authorization": f"Bearer {token}"}
    started = time.perf_counter()
    response = await http.post("/api/v1/generations", json={"prompt": prompt}, headers=headers)
    submit_ms = (time.perf_counter() - started) * 1000
    if response.status_code != 202:
        return {
            "prompt": prompt,
            "outcome": f"refused {response.status_code}",
            "submit_ms": submit_ms,
        }
    job_id = response.json()["id"]
    outcome = "lost"
    async with http.stream(
        "GET", f"/api/v1/jobs/{job_id}/events", headers=headers, timeout=JOB_TIMEOUT_S
    ) as events:
        async for line in events.aiter_lines():
            if line.startswith("event: ") and line[7:] in ("succeeded", "failed", "cancelled"):
                outcome = line[7:]
                break
    return {
        "prompt": prompt,
        "outcome": outcome,
        "submit_ms": submit_ms,
        "done_s": time.perf_counter() - started,
    }


async def clients_at_once(
    clients: int, latency_ms: int, url: str | None, env: dict, log: Callable[[str], None]
) -> dict:
    """`clients` API clients (a token each) generating at once; every job ends exactly once."""
    tokens = {f"client{i}": secrets.token_urlsafe(32) for i in range(clients)}
    env = {**env, "VISIONARY_API_TOKENS": ",".join(f"{n}={t}" for n, t in tokens.items())}
    run = uuid.uuid4().hex[:6]
    async with target(url, env, log) as (app_url, app):
        limits = httpx.Limits(max_connections=clients * 2)
        async with httpx.AsyncClient(base_url=app_url, limits=limits, timeout=30) as http:
            started = time.perf_counter()
            results = await asyncio.gather(
                *(_client(http, token, f"api load {run} {name}") for name, token in tokens.items())
            )
            wall = time.perf_counter() - started
        await asyncio.sleep(1)
        indexed = _images_by_prompt(app, [r["prompt"] for r in results])
    ok = sum(1 for r in results if r["outcome"] == "succeeded")
    failed = sum(1 for r in results if r["outcome"] == "failed")
    lost = sum(1 for r in results if r["outcome"] not in ("succeeded", "failed"))
    duplicates = sum(max(0, n - 1) for n in (indexed or {}).values())
    missing = sum(
        1 for r in results if r["outcome"] == "succeeded" and indexed and indexed[r["prompt"]] == 0
    )
    submit = [r["submit_ms"] for r in results]
    done = [r["done_s"] for r in results if "done_s" in r]
    log(
        f"  {clients} API clients: {ok} ok, {failed} failed, {lost} lost, "
        f"{duplicates} duplicated in {wall:.1f} s"
    )
    return {
        "clients": clients,
        "latency_ms": latency_ms,
        "jobs_ok": ok,
        "jobs_failed": failed,
        "jobs_lost": lost + missing,
        "duplicates": duplicates,
        "wall_s": round(wall, 2),
        "submit_ms_p50": round(_percentile(submit, 0.5), 1),
        "submit_ms_p95": round(_percentile(submit, 0.95), 1),
        "job_s_p95": round(_percentile(done, 0.95), 2),
    }


async def run(
    *,
    images: int,
    repeats: int,
    clients: int,
    latency_ms: int,
    url: str | None,
    env: dict,
    log: Callable[[str], None],
) -> dict:
    """Both parts, with their targets."""
    page = await page_cost(images, repeats, log)
    load = await clients_at_once(clients, latency_ms, url, env, log)
    return {
        "benchmark": "api",
        "page": page,
        "load": load,
        "target_met": page["target_met"] and load["jobs_lost"] == 0 and load["duplicates"] == 0,
    }
