"""`chaos`: the load on two backends behind Caddy, and a backend stopped mid-run.

The production layout of `deploy/Caddyfile` (tests/support/cluster.py): Caddy with TLS in front
of two backend processes on Redis and PostgreSQL. N headless tabs (the app's real websocket
protocol, reconnecting as browsers do) each generate images. Then, once jobs are running:

- by default one backend is killed with SIGKILL: the jobs it ran go back to the queue when
  their heartbeat goes stale and run once more on the survivor;
- with `--rolling`, each backend in turn is stopped with SIGTERM (it drains: takes no new job,
  lets its running ones finish) and started again, as a deploy does.

Every job must end succeeded, its image shown in its tab; none lost, none duplicated (one job,
one image row per requested image). The index and the blob store must agree (`sync --dry-run`
finds nothing to fix), and the tabs that lost their backend reconnect through Caddy to another
and carry on (an ordinary event makes the round trip).
"""

from __future__ import annotations

import asyncio
import os
import re
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from pathlib import Path

import sqlalchemy as sa

from benchmarks.load import PageUser
from tests.support.app_server import ROOT
from tests.support.cluster import Cluster, run_cluster
from tests.support.reflex_client import ReflexClient
from visionary_app.services.gallery.catalog import make_index_engine
from visionary_app.state.generation import GenerationState

__all__ = ["run_chaos"]

_SYNC_SUMMARY = re.compile(
    r"(\d+) image blobs, (\d+) rows; (\d+) indexed, (\d+) rows removed, "
    r"(\d+) orphan thumbnails/text blobs deleted"
)


def _jobs(engine: sa.Engine) -> list[tuple[str, str, str, str]]:
    return [row[:4] for row in _jobs_started(engine)]


def _jobs_started(engine: sa.Engine) -> list[tuple[str, str, str, str, float | None]]:
    """Each job's prompt, status, error, worker and how many seconds ago it started."""
    with engine.connect() as connection:
        return [
            tuple(row)
            for row in connection.execute(
                sa.text(
                    "SELECT prompt, status, coalesce(error, ''), coalesce(worker, ''), "
                    "extract(epoch FROM now() - started_at)::float FROM generation_job"
                )
            )
        ]


def _retried(engine: sa.Engine) -> int:
    with engine.connect() as connection:
        query = sa.text("SELECT count(*) FROM generation_job WHERE retries > 0")
        return int(connection.execute(query).scalar_one())


def _pid_of(worker: str) -> str:
    """The process id in a worker's name (`host:pid:nonce`)."""
    parts = worker.split(":")
    return parts[1] if len(parts) > 1 else ""


async def _running_on(
    index: sa.Engine, pids: set[str], least_done: int, jobs: int, within_s: float | None = None
) -> list[str]:
    """The prompts of jobs running on these processes, once there are some.

    Waits until all `jobs` exist and `least_done` have succeeded, too; with `within_s`, until
    one of them started less than that many seconds ago, so that a stop now lands inside its
    provider call (one stopped after storing its images has nothing left to run again).
    """
    on_it: list[str] = []
    for _ in range(600):
        jobs_now = _jobs_started(index)
        running = [(prompt, age) for prompt, status, _, worker, age in jobs_now
                   if status == "running" and _pid_of(worker) in pids]  # fmt: skip
        on_it = [prompt for prompt, _ in running]
        fresh = within_s is None or any(age is not None and age < within_s for _, age in running)
        done = sum(1 for _, status, _, _, _ in jobs_now if status == "succeeded")
        if len(jobs_now) >= jobs and done >= least_done and on_it and fresh:
            break
        await asyncio.sleep(0.05)
    return on_it


def _images_per_prompt(engine: sa.Engine) -> dict[str, int]:
    with engine.connect() as connection:
        rows = connection.execute(sa.text("SELECT prompt, count(*) FROM image GROUP BY prompt"))
        return {prompt: count for prompt, count in rows}


def _disagreements(cluster: Cluster) -> tuple[int, str]:
    """What `sync --dry-run` would fix (blobs without rows, rows without blobs, orphans)."""
    done = subprocess.run(
        [sys.executable, "-m", "visionary_app", "sync", "--dry-run", "--grace-seconds", "0"],
        cwd=ROOT, env=cluster.env, capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    match = _SYNC_SUMMARY.search(done.stdout)
    if done.returncode != 0 or match is None:
        return -1, done.stdout + done.stderr
    indexed, removed, orphans = (int(match.group(i)) for i in (3, 4, 5))
    return indexed + removed + orphans, done.stdout.strip().splitlines()[-1]


async def _round_trip(user: PageUser, timeout_s: float = 30) -> bool:
    """An ordinary event (typing) goes out and its state comes back."""
    value = f"still here {uuid.uuid4().hex[:6]}"
    await user.client.send(GenerationState, "set_prompt", value=value)
    try:
        await user.client.wait_for(
            lambda: user.client.get(GenerationState, "prompt") == value, timeout_s
        )
    except TimeoutError:
        return False
    return True


async def _settle(users: list[PageUser], index: sa.Engine, deadline_s: float) -> None:
    """Until every tab shows or was told about each of its jobs and every job has ended.

    A worker killed between indexing a job's image and recording the job's end leaves a tab
    that already shows the image and a row still running in the index: the row ends
    (succeeded, with the image) only when its heartbeat goes stale, so the tabs alone are
    not the end of the run.
    """
    for _ in range(int(deadline_s * 2)):
        if all(user.settled() for user in users):
            rows = await asyncio.to_thread(_jobs, index)
            if not any(status in ("queued", "running") for _, status, _, _ in rows):
                return
        await asyncio.sleep(0.5)


async def _run(
    cluster: Cluster,
    database_url: str,
    clients: int,
    stale_s: float,
    log: Callable,
    rolling: bool,
    latency_ms: int,
) -> dict:
    index = make_index_engine(database_url)
    # Each tab's browser has its visitor cookie, and sends it again when it reconnects.
    users = [
        PageUser(
            ReflexClient(
                cluster.url,
                cookies={"visionary_visitor": uuid.uuid4().hex},
                reconnect=True,
            )
        )
        for _ in range(clients)
    ]
    for first in range(0, clients, 10):
        await asyncio.gather(*(u.client.connect(timeout_s=60) for u in users[first : first + 10]))
    log(f"{clients} tabs connected through {cluster.url}")
    started = time.monotonic()
    for number, user in enumerate(users):
        await user.generate(f"chaos {number} {uuid.uuid4().hex[:8]}")
    if rolling:  # each backend in turn, as a deploy does, while the jobs run
        on_victim, stopped = [], []
        for number in range(len(cluster.backends)):
            pids = {str(pid) for pid in cluster.pids(number)}
            least = len(users) // 4 if number == 0 else 0
            running = await _running_on(index, pids, least, len(users))
            on_victim += running
            stopped.append(await asyncio.to_thread(cluster.restart, number))
            log(f"restarted backend {number} (SIGTERM) with {len(running)} job(s) running on it; "
                f"it stopped in {stopped[-1]:.1f} s")  # fmt: skip
        killed_at = time.monotonic() - started
    else:  # kill a backend in the middle: a quarter have finished, it runs some of the rest
        victim = {str(pid) for pid in cluster.pids(1)}
        on_victim = await _running_on(
            index, victim, len(users) // 4, len(users), within_s=latency_ms / 2000
        )
        cluster.kill(1)
        killed_at = time.monotonic() - started
        log(f"killed backend 1 (pids {', '.join(sorted(victim))}) at {killed_at:.1f} s; "
            f"{len(on_victim)} of its jobs were running")  # fmt: skip

    await _settle(users, index, stale_s + 60)
    wall = time.monotonic() - started
    reconnected = [u for u in users if u.client.connects > 1]
    carried_on = sum(await asyncio.gather(*(_round_trip(u) for u in reconnected)))

    rows = _jobs(index)
    jobs = {prompt: (status, error) for prompt, status, error, _ in rows}
    unfinished = sum(1 for _, status, _, _ in rows if status in ("queued", "running"))
    images = _images_per_prompt(index)
    prompts = [p for user in users for p in user.prompts]
    ok = [p for p in prompts if jobs.get(p, ("",))[0] == "succeeded" and images.get(p) == 1]
    told = [
        p for user in users for p in user.prompts
        if jobs.get(p, ("",))[0] == "failed" and user.failed(p)
    ]  # fmt: skip
    for user in users:  # what a lost job's row and tab say, to find out why
        for prompt in user.prompts:
            if prompt not in ok and prompt not in told:
                status, error = jobs.get(prompt, ("missing", None))
                log(
                    f"lost: {prompt!r} is {status} ({error}); its tab connected "
                    f"{user.client.connects} time(s) and was told {user.client.toasts}"
                )
    duplicates = sum(max(0, count - 1) for count in images.values())
    duplicates += sum(1 for p in prompts if jobs.get(p, ("",))[0] != "succeeded" and images.get(p))
    orphans, sync_line = _disagreements(cluster)
    log(f"sync --dry-run: {sync_line}")
    await asyncio.gather(*(u.client.close() for u in users), return_exceptions=True)
    index.dispose()
    retried = _retried(index)
    return {
        "benchmark": "chaos --rolling" if rolling else "chaos",
        "backends": len(cluster.backends),
        "stopped_with": "SIGTERM, each in turn" if rolling else "SIGKILL",
        "killed_at_s": round(killed_at, 1),
        "jobs_on_killed_backend": len(on_victim),
        "jobs_retried": retried,
        "jobs": len(prompts),
        "jobs_ok": len(ok),
        "jobs_ok == jobs": len(ok) == len(prompts),
        "jobs_failed_with_reason": len(told),
        "jobs_lost": len(prompts) - len(ok) - len(told),
        "jobs_unfinished_in_index": unfinished,
        "duplicates": duplicates,
        "orphans": orphans,
        "reconnected_tabs": carried_on,
        "tabs_that_lost_their_backend": len(reconnected),
        "wall_s": round(wall, 1),
        "stale_timeout_s": stale_s,
    }


async def run_chaos(
    *,
    clients: int,
    latency_ms: int,
    stale_s: float,
    redis_url: str,
    database_url: str,
    env: dict[str, str],
    log: Callable[[str], None],
    work: Path,
    rolling: bool = False,
    drain_s: int = 60,
) -> dict:
    """Start the layout, run the load, stop backends, and check every job and blob."""
    env = {
        **env,
        "REFLEX_REDIS_URL": redis_url,
        "VISIONARY_DATABASE_URL": database_url,
        "VISIONARY_OFFLINE_LATENCY_MS": str(latency_ms),
        "VISIONARY_JOB_STALE_SECONDS": str(int(stale_s)),
        "VISIONARY_DRAIN_SECONDS": str(drain_s),
    }
    log(f"starting Caddy and two backends in {work} ...")
    with run_cluster(work, env, backends=2) as cluster:
        log(f"up at {cluster.url} (backends {', '.join(cluster.backend_urls)})")
        result = await _run(cluster, database_url, clients, stale_s, log, rolling, latency_ms)
    result["cpu_count"] = os.cpu_count()
    return result
