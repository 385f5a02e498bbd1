"""Many clients at once over the real websocket protocol: `load` and `concurrency`.

Both drive the production app the way browsers do (see `reflex_client`), with the offline
provider set to a fixed latency, against `--url` or against an app they start and stop.

- `load`: N clients each generate images and keep using the page; counts jobs that came
  back, were lost or were duplicated, and the latency of ordinary UI events meanwhile.
- `concurrency`: one page starts N jobs at once; they must overlap (wall close to one
  provider latency, not N of them) while the page keeps answering.
"""

from __future__ import annotations

import asyncio
import contextlib
import statistics
import tempfile
import time
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import Path

import sqlalchemy as sa

from tests.support.app_server import AppProcess, run_app
from tests.support.reflex_client import ReflexClient
from visionary_app.services.gallery.catalog import make_index_engine
from visionary_app.state.gallery import GalleryState
from visionary_app.state.generation import GenerationState

__all__ = ["run_concurrency", "run_load"]

PROBE_INTERVAL_S = 0.05  # a page sends events this often while jobs run
JOB_TIMEOUT_S = 300


def p95(samples: list[float]) -> float | None:
    """The 95th percentile (nearest rank), or None without samples."""
    if not samples:
        return None
    ordered = sorted(samples)
    return ordered[max(0, round(0.95 * len(ordered)) - 1)]


@contextlib.asynccontextmanager
async def target(
    url: str | None, env: dict[str, str], log: Callable[[str], None]
) -> AsyncIterator[tuple[str, AppProcess | None]]:
    """The app at `url`, or a production app started here with `env` (stopped afterwards)."""
    if url:
        yield url, None
        return
    work = Path(tempfile.mkdtemp(prefix="bench-app-"))
    log(f"starting the production app in {work} ...")
    started = time.perf_counter()
    with run_app(work, env) as app:
        log(f"app up at {app.url} in {time.perf_counter() - started:.0f} s")
        yield app.url, app


@dataclass
class PageUser:
    """One client: its page, the prompts it sent, and what came back."""

    client: ReflexClient
    prompts: list[str] = field(default_factory=list)
    event_latencies_ms: list[float] = field(default_factory=list)

    def shown(self, prompt: str) -> int:
        """How many tiles with this prompt the page shows."""
        tiles = self.client.get(GalleryState, "images", []) or []
        return sum(1 for tile in tiles if tile.get("prompt") == prompt)

    def failed(self, prompt: str) -> bool:
        """Whether an error or warning toast named this prompt (or the page's limits)."""
        return any(
            kind in ("error", "warning") and (prompt[:40] in text or "limit" in text)
            for kind, text in self.client.toasts
        )

    def settled(self) -> bool:
        """Every prompt is either shown or reported failed."""
        return all(self.shown(p) or self.failed(p) for p in self.prompts)

    async def generate(self, prompt: str) -> None:
        """Press Generate with `prompt`."""
        self.prompts.append(prompt)
        await self.client.send(GenerationState, "generate", form_data={"prompt": prompt})

    async def probe(self, stop: asyncio.Event) -> None:
        """Send an ordinary UI event (typing) now and then; time each round trip."""
        count = 0
        while not stop.is_set():
            count += 1
            value = f"typing {count} {uuid.uuid4().hex[:6]}"
            started = time.perf_counter()
            await self.client.send(GenerationState, "set_prompt", value=value)
            try:
                await self.client.wait_for(
                    lambda v=value: self.client.get(GenerationState, "prompt") == v, 30
                )
            except TimeoutError:
                self.event_latencies_ms.append(30_000.0)
            else:
                self.event_latencies_ms.append((time.perf_counter() - started) * 1000)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), PROBE_INTERVAL_S)


async def _connect_all(url: str, count: int) -> list[PageUser]:
    users = [PageUser(ReflexClient(url)) for _ in range(count)]
    for start in range(0, count, 10):  # a burst of page loads, ten at a time
        await asyncio.gather(*(user.client.connect() for user in users[start : start + 10]))
    return users


def _images_by_prompt(app: AppProcess | None, prompts: list[str]) -> dict[str, int] | None:
    """Images indexed per prompt, read from the index of the app started here (else None)."""
    if app is None:
        return None
    url = app.env.get("VISIONARY_DATABASE_URL") or f"sqlite:///{app.data_dir / 'visionary.db'}"
    engine = make_index_engine(url)
    try:
        with engine.connect() as connection:
            rows = connection.execute(
                sa.text("SELECT prompt, count(*) FROM image GROUP BY prompt")
            ).all()
    finally:
        engine.dispose()
    counts = {prompt: count for prompt, count in rows}
    return {prompt: counts.get(prompt, 0) for prompt in prompts}


async def run_load(
    *,
    clients: int,
    images_per_client: int,
    latency_ms: int,
    url: str | None,
    env: dict[str, str],
    log: Callable[[str], None],
) -> dict:
    """N clients generating at once; every job must come back exactly once."""
    run = uuid.uuid4().hex[:6]
    async with target(url, env, log) as (app_url, app):
        rss_at_start = app.rss_mb() if app else None  # what the tabs and jobs add is the rest
        users = await _connect_all(app_url, clients)
        log(f"{clients} clients connected; each generates {images_per_client} image(s)")
        stop = asyncio.Event()
        probes = [asyncio.create_task(user.probe(stop)) for user in users]
        started = time.perf_counter()
        for round_ in range(images_per_client):
            await asyncio.gather(
                *(user.generate(f"load {run} client {i} image {round_}")
                  for i, user in enumerate(users))
            )  # fmt: skip
        await asyncio.gather(
            *(user.client.wait_for(user.settled, JOB_TIMEOUT_S) for user in users),
            return_exceptions=True,  # a client that times out is counted as lost below
        )
        wall = time.perf_counter() - started
        await asyncio.sleep(1)  # a late duplicate would show up here
        stop.set()
        await asyncio.gather(*probes)
        rss = app.rss_mb() if app else None
        prompts = [p for user in users for p in user.prompts]
        indexed = _images_by_prompt(app, prompts)
        await asyncio.gather(*(user.client.close() for user in users))

    ok = sum(1 for u in users for p in u.prompts if u.shown(p) >= 1)
    failed = sum(1 for u in users for p in u.prompts if not u.shown(p) and u.failed(p))
    lost = sum(1 for u in users for p in u.prompts if not u.shown(p) and not u.failed(p))
    duplicates = sum(max(0, u.shown(p) - 1) for u in users for p in u.prompts)
    if indexed is not None:
        duplicates += sum(max(0, count - 1) for count in indexed.values())
        # Shown as done but not in the index would be a lie; count it as lost.
        lost += sum(1 for u in users for p in u.prompts if u.shown(p) and not indexed[p])
    latencies = [ms for user in users for ms in user.event_latencies_ms]
    return {
        "benchmark": "load",
        "clients": clients,
        "jobs": len(prompts),
        "jobs_ok": ok,
        "jobs_failed": failed,
        "jobs_lost": lost,
        "duplicates": duplicates,
        "event_latency_ms_p50": round(statistics.median(latencies), 1) if latencies else None,
        "event_latency_ms_p95": round(p95(latencies), 1) if latencies else None,
        "events_timed": len(latencies),
        "wall_s": round(wall, 2),
        "provider_latency_ms": latency_ms,
        "backend_rss_mb": round(rss, 1) if rss is not None else None,
        "backend_rss_mb_before_clients": (
            round(rss_at_start, 1) if rss_at_start is not None else None
        ),
        "checked_index": indexed is not None,
    }


async def run_concurrency(
    *, jobs: int, latency_ms: int, url: str | None, env: dict[str, str], log
) -> dict:
    """One page starts `jobs` jobs at once; they overlap and the page keeps answering."""
    run = uuid.uuid4().hex[:6]
    async with target(url, env, log) as (app_url, _app):
        user = (await _connect_all(app_url, 1))[0]
        # Warm the path once (first image, first thumbnail, first index write).
        await user.generate(f"warm-up {run}")
        await user.client.wait_for(lambda: user.settled(), JOB_TIMEOUT_S)
        user.prompts.clear()
        stop = asyncio.Event()
        probe = asyncio.create_task(user.probe(stop))
        started = time.perf_counter()
        for index in range(jobs):
            await user.generate(f"concurrency {run} job {index}")
        await user.client.wait_for(lambda: user.settled(), JOB_TIMEOUT_S)
        wall = time.perf_counter() - started
        stop.set()
        await probe
        ok = sum(1 for p in user.prompts if user.shown(p))
        await user.client.close()
    latencies = user.event_latencies_ms
    return {
        "benchmark": "concurrency",
        "jobs": jobs,
        "jobs_ok": ok,
        "latency_ms": latency_ms,
        "wall_s": round(wall, 2),
        "serial_wall_s": round(jobs * latency_ms / 1000, 1),
        "event_latency_ms_p50": round(statistics.median(latencies), 1) if latencies else None,
        "event_latency_ms_p95": round(p95(latencies), 1) if latencies else None,
        "events_timed": len(latencies),
        "target_wall_s": 3.0,
        "target_event_latency_ms_p95": 100.0,
        "target_met": ok == jobs
        and wall <= 3.0
        and bool(latencies)
        and (p95(latencies) or 0) <= 100.0,
    }
