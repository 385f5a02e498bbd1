"""Property test of the job queue: whatever happens in whatever order, the caps and limits hold."""

import asyncio
import tempfile
from datetime import timedelta
from pathlib import Path

import sqlalchemy as sa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from visionary_app.models import JobStatus
from visionary_app.services.gallery.catalog import make_index_engine
from visionary_app.services.generation.providers.base import ImageOptions
from visionary_app.services.generation.queue import JobQueue
from visionary_app.services.kit.database import upgrade_to_head
from visionary_app.services.limits.image_limits import JobLimits, LimitReached

LIMITS = JobLimits(
    max_concurrent=3, max_running_per_owner=2, images_per_owner_per_hour=6, images_per_day=14
)
OWNERS = ["alice", "bob", "carol"]

submit = st.tuples(st.just("submit"), st.sampled_from(OWNERS), st.integers(1, 2))
operations = st.lists(
    st.one_of(
        submit,
        submit,
        submit,
        st.tuples(st.just("start"), st.integers(0, 30), st.just(0)),
        st.tuples(st.just("poll"), st.just(0), st.just(0)),
        st.tuples(st.just("succeed"), st.integers(0, 30), st.integers(0, 3)),
        st.tuples(st.just("fail"), st.integers(0, 30), st.just(0)),
        st.tuples(st.just("cancel"), st.integers(0, 30), st.just(0)),
        st.tuples(st.just("lose"), st.integers(0, 30), st.just(0)),
    ),
    min_size=5,
    max_size=40,
)


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(operations)
def test_caps_and_limits_hold_under_any_sequence(steps):
    with tempfile.TemporaryDirectory() as work:
        url = f"sqlite:///{Path(work) / 'index.db'}"
        upgrade_to_head(url)
        engine = make_index_engine(url)
        try:
            asyncio.run(_play(JobQueue(engine, LIMITS), steps))
        finally:
            engine.dispose()


async def _play(queue: JobQueue, steps) -> None:
    jobs = []
    for action, target, amount in steps:
        if action == "submit":
            try:
                jobs.append(await queue.submit(target, "p", ImageOptions(n=amount)))
            except LimitReached as refusal:
                assert "Try again in about" in str(refusal)
        elif jobs:
            job = jobs[target % len(jobs)]
            if action == "start":  # a worker with room for one more
                await queue.claim(1)
            elif action == "poll":  # a worker with room for everything
                await queue.claim(len(jobs))
            elif action == "lose":  # its worker vanished: it goes back to the queue once
                with queue._engine.begin() as connection:
                    connection.execute(
                        sa.text("UPDATE generation_job SET heartbeat_at = :then WHERE id = :id"),
                        {"then": "2000-01-01 00:00:00.000000", "id": job.id.hex},
                    )
                await queue.recover_lost(timedelta(seconds=60))
            elif action == "succeed":
                kept = [job.id] * min(amount, job.n)  # ids are only counted here
                await queue.finish(job.id, JobStatus.SUCCEEDED, kept)
            elif action == "fail":
                await queue.finish(job.id, JobStatus.FAILED, error="x")
            else:
                await queue.cancel(job.id, job.owner)
        statuses = await queue.heartbeat(job.id for job in jobs) if jobs else {}
        running = [job for job in jobs if statuses[job.id] == "running"]
        assert len(running) <= LIMITS.max_concurrent
        for owner in OWNERS:
            assert sum(job.owner == owner for job in running) <= LIMITS.max_running_per_owner
        refreshed = [await queue.get(job.id) for job in jobs]
        assert sum(job.images for job in refreshed) <= LIMITS.images_per_day
        for owner in OWNERS:
            mine = sum(job.images for job in refreshed if job.owner == owner)
            assert mine <= LIMITS.images_per_owner_per_hour
