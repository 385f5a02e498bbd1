"""What jobs cost while they wait: CPU of 1,000 waiting jobs, against polling one by one.

The queue is full (a running job holds the only slot) and `--jobs` jobs wait for their turn,
each followed on this worker (told its place) by one dispatcher per worker. Over `--seconds`,
the process's CPU time is measured: any safety-net passes. The baseline is what the queue did
before: every waiting job asked where it stood every 0.2 s; it is measured with
`--baseline-jobs` jobs doing exactly that and scaled to `--jobs`.
"""

from __future__ import annotations

import asyncio
import tempfile
import time
from pathlib import Path

from visionary_app.models import JobStatus
from visionary_app.services.gallery.catalog import make_index_engine
from visionary_app.services.generation.providers.base import ImageOptions
from visionary_app.services.generation.queue import JobQueue
from visionary_app.services.kit.database import upgrade_to_head
from visionary_app.services.limits.image_limits import JobLimits

ONE = ImageOptions(size="256x256")
_OLD_POLL_S = 0.2


async def _full_queue(url: str, jobs: int) -> tuple[JobQueue, list]:
    queue = JobQueue(make_index_engine(url), JobLimits(max_concurrent=1, max_running_per_owner=1))
    blocker = await queue.submit("user:holder", "holds the only slot", ONE)
    assert [job.id for job in await queue.claim(1)] == [blocker.id]
    waiting = [await queue.submit(f"user:u{i}", "waits", ONE) for i in range(jobs)]
    return queue, waiting


async def _cpu_percent(seconds: float) -> float:
    wall, cpu = time.perf_counter(), time.process_time()
    await asyncio.sleep(seconds)
    return 100 * (time.process_time() - cpu) / (time.perf_counter() - wall)


async def measure_dispatcher(url: str, jobs: int, seconds: float, log) -> dict:
    """The queue now: one dispatcher for all of this worker's waiting jobs."""
    queue, waiting = await _full_queue(url, jobs)
    places: dict = {}
    queue.serve(lambda job: lambda _status: None)  # a worker that would take them
    stops = [
        queue.follow_place(job.id, lambda ahead, j=job.id: places.__setitem__(j, ahead))
        for job in waiting
    ]
    await asyncio.sleep(3)  # every job has registered and been told its place
    passes = queue.passes
    cpu = await _cpu_percent(seconds)
    passes = queue.passes - passes
    log(f"dispatcher: {jobs} waiting jobs cost {cpu:.2f} % of one core ({passes} passes)")
    for stop in stops:
        stop()
    await queue.close()
    return {"cpu_percent": round(cpu, 2), "passes": passes, "told_places": len(places)}


async def measure_polling(url: str, jobs: int, seconds: float, log) -> float:
    """The queue before this change: each waiting job tried to start every 0.2 s."""
    queue, waiting = await _full_queue(url, jobs)

    async def poll(job) -> None:
        while (await queue.get(job.id)).status == JobStatus.QUEUED:
            await queue.ahead(job)
            await asyncio.sleep(_OLD_POLL_S)

    tasks = [asyncio.create_task(poll(job)) for job in waiting]
    await asyncio.sleep(1)
    cpu = await _cpu_percent(seconds)
    log(f"polling (before): {jobs} waiting jobs cost {cpu:.1f} % of one core")
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    return cpu


async def run(jobs: int, baseline_jobs: int, seconds: float, log) -> dict:
    """Both designs on fresh SQLite indexes, side by side."""
    work = Path(tempfile.mkdtemp(prefix="bench-waiting-"))
    urls = [f"sqlite:///{work / name}" for name in ("dispatcher.db", "polling.db")]
    for url in urls:
        upgrade_to_head(url)
    now = await measure_dispatcher(urls[0], jobs, seconds, log)
    before = await measure_polling(urls[1], baseline_jobs, seconds, log)
    scaled = before * jobs / baseline_jobs
    log(f"polling scaled to {jobs} jobs: {scaled:.0f} % of one core")
    return {
        "benchmark": "waiting-jobs",
        "jobs": jobs,
        "seconds": seconds,
        "cpu_percent_of_one_core": now["cpu_percent"],
        "dispatcher_passes": now["passes"],
        "baseline_polling_cpu_percent": round(before, 1),
        "baseline_jobs": baseline_jobs,
        "baseline_scaled_cpu_percent": round(scaled),
        "target_percent": 5,
        "target_met": now["cpu_percent"] < 5 and now["told_places"] == jobs,
    }
