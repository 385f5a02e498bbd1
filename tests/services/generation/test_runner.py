"""The job runner: a job's whole life as events, without Reflex, on a real queue and store."""

import asyncio
from datetime import timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa

from tests.conftest import ANYONE, small_pipeline
from visionary_app.models import JobStatus
from visionary_app.services.gallery.catalog import Catalog
from visionary_app.services.gallery.live_feed import LocalFeed
from visionary_app.services.generation.pipeline import InvalidOptions, InvalidPrompt
from visionary_app.services.generation.providers import OfflineProvider, ProviderError
from visionary_app.services.generation.providers.base import ImageOptions
from visionary_app.services.generation.queue import JobQueue
from visionary_app.services.generation.runner import (
    UNEXPECTED_FAILURE,
    Cancelled,
    Failed,
    JobRunner,
    Queued,
    Running,
    Stored,
)
from visionary_app.services.limits.image_limits import JobLimits

ONE = ImageOptions(size="256x256")


class RefusingProvider(OfflineProvider):
    """The offline provider, refusing every prompt as a safety system would."""

    async def generate(self, prompt, options, **_identity):
        raise ProviderError("The provider's safety system refused this prompt.")


class BrokenProvider(OfflineProvider):
    """A provider with a bug: it raises something no one planned for."""

    async def generate(self, prompt, options, **_identity):
        raise RuntimeError("boom")


def _files(store) -> list[Path]:
    return [p for p in store.root.rglob("*") if p.is_file()] if store.root.exists() else []


@pytest.fixture
def make_runner(engine, store, catalog):
    def make(provider=None, **limits) -> JobRunner:
        queue = JobQueue(engine, JobLimits(**limits), poll_interval_s=0.02, heartbeat_s=0.1)
        pipeline = small_pipeline(store, catalog, provider)
        return JobRunner(queue, pipeline, progress_s=0.05)

    return make


async def _events(runner: JobRunner, job) -> list:
    return [event async for event in runner.run(job)]


async def test_a_job_runs_to_a_stored_image(make_runner, catalog, store):
    runner = make_runner(OfflineProvider(latency_ms=300))
    job = await runner.submit("alice", "  a red fox  ", ONE)
    events = await _events(runner, job)
    assert isinstance(events[0], Running) and events[0].elapsed_s == 0
    assert any(isinstance(e, Running) and e.elapsed_s > 0 for e in events[1:-1])  # progress
    final = events[-1]
    assert isinstance(final, Stored) and final.failures == []
    (image,) = final.images
    assert image.prompt == "a red fox"
    assert [i.id for i in await catalog.newest(5, viewer=ANYONE)] == [image.id]
    row = await runner.queue.get(job.id)
    assert (row.status, row.images, row.image_ids) == (JobStatus.SUCCEEDED, 1, str(image.id))
    assert row.provider_ms is not None and row.provider_ms >= 300


class SlowFeed(LocalFeed):
    """This worker's feed, slow to hand a change on (a busy Redis)."""

    def __init__(self) -> None:
        super().__init__()
        self.asked, self.told = 0, 0

    async def publish(self, change) -> None:
        self.asked += 1
        await asyncio.sleep(0.3)
        await super().publish(change)
        self.told += 1


async def test_a_job_is_not_stopped_by_a_heartbeat_that_sees_its_own_end(engine, store, catalog):
    # The end is committed, then told to the owner's pages: a heartbeat in between reads the
    # job ended and used to stop its work as if ended elsewhere, reporting success as a cancel.
    feed = SlowFeed()
    queue = JobQueue(engine, JobLimits(), poll_interval_s=0.01, heartbeat_s=0.01, feed=feed)
    runner = JobRunner(queue, small_pipeline(store, catalog), progress_s=0.05)
    job = await runner.submit("alice", "a red fox", ONE)
    final = (await _events(runner, job))[-1]
    assert isinstance(final, Stored), final
    assert (await queue.get(job.id)).status == JobStatus.SUCCEEDED
    assert feed.told == feed.asked == 3  # queued, started, ended: the owner's pages heard each


class AbandoningCatalog(Catalog):
    """The index, and right after each image is added, a watcher that sees every job stale."""

    queue: JobQueue

    async def add(self, image):
        added = await super().add(image)
        await self.queue.fail_abandoned(timedelta(seconds=-1))
        return added


async def test_a_job_the_watcher_ended_with_its_images_reports_them(engine, store):
    # A worker too busy to beat in time: the watcher ends its job succeeded with the images
    # it had indexed; the runner reports what the row says, not a cancel.
    catalog = AbandoningCatalog(engine)
    queue = catalog.queue = JobQueue(engine, JobLimits(), poll_interval_s=0.02, heartbeat_s=0.1)
    runner = JobRunner(queue, small_pipeline(store, catalog), progress_s=0.05)
    job = await runner.submit("alice", "a red fox", ONE)
    final = (await _events(runner, job))[-1]
    assert isinstance(final, Stored), final
    assert [image.prompt for image in final.images] == ["a red fox"]
    assert (await queue.get(job.id)).status == JobStatus.SUCCEEDED
    assert await catalog.count() == 1 and await store.exists(final.images[0].blob_name)


async def test_a_waiting_job_reports_its_place_then_runs(make_runner):
    runner = make_runner(max_concurrent=1)
    blocker = await runner.queue.submit("bob", "first", ONE)
    assert (await runner.queue.try_start(blocker)).started
    job = await runner.submit("alice", "second", ONE)
    events: list = []

    async def follow() -> None:
        async for event in runner.run(job):
            events.append(event)

    following = asyncio.create_task(follow())
    for _ in range(200):
        if events:
            break
        await asyncio.sleep(0.01)
    assert events == [Queued(job.id, ahead=0)]
    before = (await runner.queue.get(job.id)).heartbeat_at
    await asyncio.sleep(0.3)
    assert (await runner.queue.get(job.id)).heartbeat_at > before  # alive while waiting
    await runner.queue.finish(blocker.id, JobStatus.SUCCEEDED)
    await asyncio.wait_for(following, 10)
    assert isinstance(events[1], Running) and isinstance(events[-1], Stored)


async def test_cancel_while_running_keeps_nothing(make_runner, catalog, store):
    runner = make_runner(OfflineProvider(latency_ms=5000))
    job = await runner.submit("alice", "a slow fox", ONE)
    events: list = []

    async def follow() -> None:
        async for event in runner.run(job):
            events.append(event)
            if isinstance(event, Running) and event.elapsed_s == 0:
                assert not await runner.cancel(job.id, "mallory")  # not theirs
                assert await runner.cancel(job.id, "alice")

    await asyncio.wait_for(follow(), 10)
    assert events[-1] == Cancelled(job.id, started=True)
    assert await catalog.count() == 0 and _files(store) == []
    assert (await runner.queue.get(job.id)).status == JobStatus.CANCELLED


async def test_a_cancel_on_another_worker_reaches_the_job_by_heartbeat(
    make_runner, engine, catalog, store
):
    runner = make_runner(OfflineProvider(latency_ms=5000))
    elsewhere = JobQueue(engine, JobLimits())  # another worker's queue on the same database
    job = await runner.submit("alice", "a slow fox", ONE)

    async def follow() -> list:
        events = []
        async for event in runner.run(job):
            events.append(event)
            if isinstance(event, Running) and event.elapsed_s == 0:
                assert await elsewhere.cancel(job.id, "alice")
        return events

    events = await asyncio.wait_for(follow(), 10)
    assert events[-1] == Cancelled(job.id, started=True)
    assert await catalog.count() == 0 and _files(store) == []


async def test_cancel_while_queued(make_runner):
    runner = make_runner(max_concurrent=1)
    blocker = await runner.queue.submit("bob", "first", ONE)
    assert (await runner.queue.try_start(blocker)).started
    job = await runner.submit("alice", "second", ONE)

    async def follow() -> list:
        events = []
        async for event in runner.run(job):
            events.append(event)
            if isinstance(event, Queued):
                assert await runner.cancel(job.id, "alice")
        return events

    events = await asyncio.wait_for(follow(), 10)
    assert events[-1] == Cancelled(job.id, started=False)


async def test_a_refusal_fails_the_job_with_the_reason(make_runner, catalog):
    runner = make_runner(RefusingProvider())
    job = await runner.submit("alice", "something refused", ONE)
    final = (await _events(runner, job))[-1]
    assert final == Failed(job.id, "The provider's safety system refused this prompt.")
    row = await runner.queue.get(job.id)
    assert (row.status, row.error) == (JobStatus.FAILED, final.reason)
    assert await catalog.count() == 0


async def test_an_unexpected_error_fails_the_job_and_never_escapes(make_runner, caplog):
    runner = make_runner(BrokenProvider())
    job = await runner.submit("alice", "a bug", ONE)
    final = (await _events(runner, job))[-1]
    assert final == Failed(job.id, UNEXPECTED_FAILURE)
    assert "boom" in caplog.text  # the details are in the log, not in the toast
    assert (await runner.queue.get(job.id)).status == JobStatus.FAILED


async def test_a_job_stopped_with_the_server_keeps_nothing_and_its_owner_is_told(
    make_runner, catalog, store
):
    runner = make_runner(OfflineProvider(latency_ms=5000))
    job = await runner.submit("alice", "interrupted", ONE)
    events = runner.run(job)
    assert isinstance(await anext(events), Running)
    await events.aclose()  # what a server shutting down does to the task following the job
    row = await runner.queue.get(job.id)
    assert row.status == JobStatus.FAILED and "server restarted" in row.error
    assert [told.id for told in await runner.queue.unseen("alice")] == [job.id]
    assert await catalog.count() == 0 and _files(store) == []


async def test_submit_refuses_bad_input_before_queueing(make_runner, engine):
    runner = make_runner()
    with pytest.raises(InvalidPrompt):
        await runner.submit("alice", "   ", ONE)
    with pytest.raises(InvalidOptions):
        await runner.submit("alice", "a fox", ImageOptions(size="7x7"))
    with engine.connect() as connection:
        assert connection.execute(sa.text("SELECT count(*) FROM generation_job")).scalar() == 0
