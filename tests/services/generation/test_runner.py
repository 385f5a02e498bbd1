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
from visionary_app.services.generation.job_events import JobEvents
from visionary_app.services.generation.pipeline import InvalidOptions, InvalidPrompt
from visionary_app.services.generation.providers import OfflineProvider, ProviderError
from visionary_app.services.generation.providers.base import ImageOptions
from visionary_app.services.generation.queue import RETRY_LOST_MESSAGE, JobQueue
from visionary_app.services.generation.runner import (
    UNEXPECTED_FAILURE,
    Cancelled,
    Failed,
    JobRunner,
    PartialImage,
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
    return [event async for event in runner.follow(job)]


async def test_a_job_runs_to_a_stored_image(make_runner, catalog, store):
    runner = make_runner(OfflineProvider(latency_ms=300))
    job = await runner.submit("alice", "  a red fox  ", ONE)
    events = await _events(runner, job)
    if isinstance(events[0], Queued):  # followed before a dispatcher claimed it
        assert events.pop(0) == Queued(job.id, ahead=0)
    assert isinstance(events[0], Running) and events[0].elapsed_s < 0.5
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
        await self.queue.recover_lost(timedelta(seconds=-1))
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


async def _hold_the_slot(engine, owner: str = "bob"):
    """A job of `owner` running on another worker (which does nothing with it)."""
    elsewhere = JobQueue(engine, JobLimits(max_concurrent=1), worker="host-b:2:bb")
    blocker = await elsewhere.submit(owner, "first", ONE)
    assert [job.id for job in await elsewhere.claim(1)] == [blocker.id]
    return elsewhere, blocker


async def test_a_waiting_job_reports_its_place_then_runs(make_runner, engine):
    elsewhere, blocker = await _hold_the_slot(engine)
    runner = make_runner(max_concurrent=1)
    job = await runner.submit("alice", "second", ONE)
    events: list = []

    async def follow() -> None:
        async for event in runner.follow(job):
            events.append(event)

    following = asyncio.create_task(follow())
    for _ in range(200):
        if events:
            break
        await asyncio.sleep(0.01)
    assert events == [Queued(job.id, ahead=0)]
    await asyncio.sleep(0.3)
    assert (await runner.queue.get(job.id)).status == JobStatus.QUEUED
    await elsewhere.finish(blocker.id, JobStatus.SUCCEEDED)  # the slot frees elsewhere
    await asyncio.wait_for(following, 10)
    assert isinstance(events[1], Running) and isinstance(events[-1], Stored)
    assert (await runner.queue.get(job.id)).worker == runner.queue.worker  # claimed here


async def test_cancel_while_running_keeps_nothing(make_runner, catalog, store):
    runner = make_runner(OfflineProvider(latency_ms=5000))
    job = await runner.submit("alice", "a slow fox", ONE)
    events: list = []

    async def follow() -> None:
        async for event in runner.follow(job):
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
        async for event in runner.follow(job):
            events.append(event)
            if isinstance(event, Running) and event.elapsed_s == 0:
                assert await elsewhere.cancel(job.id, "alice")
        return events

    events = await asyncio.wait_for(follow(), 10)
    assert events[-1] == Cancelled(job.id, started=True)
    assert await catalog.count() == 0 and _files(store) == []


async def test_cancel_while_queued(make_runner, engine):
    await _hold_the_slot(engine)
    runner = make_runner(max_concurrent=1)
    job = await runner.submit("alice", "second", ONE)

    async def follow() -> list:
        events = []
        async for event in runner.follow(job):
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


async def test_a_follower_that_leaves_changes_nothing_for_the_job(make_runner, catalog):
    runner = make_runner(OfflineProvider(latency_ms=500))
    job = await runner.submit("alice", "followed for a moment", ONE)
    events = runner.follow(job)
    while not isinstance(await anext(events), Running):
        pass
    await events.aclose()  # the tab closed, or its server stopped: the job is the queue's
    for _ in range(100):
        if (await runner.queue.get(job.id)).status == JobStatus.SUCCEEDED:
            break
        await asyncio.sleep(0.05)
    assert (await runner.queue.get(job.id)).status == JobStatus.SUCCEEDED
    assert await catalog.count() == 1
    assert isinstance((await _events(runner, job))[-1], Stored)  # followed again: its outcome


def _worker(engine, store, catalog, name: str, provider=None, **settings) -> JobRunner:
    queue = JobQueue(engine, JobLimits(), worker=name, poll_interval_s=0.02, heartbeat_s=0.1)
    return JobRunner(queue, small_pipeline(store, catalog, provider), progress_s=0.05, **settings)


async def _until(condition, timeout_s: float = 10.0) -> None:
    for _ in range(int(timeout_s / 0.02)):
        if await condition():
            return
        await asyncio.sleep(0.02)
    raise AssertionError("timed out")


async def test_a_draining_worker_hands_back_its_job_and_another_finishes_it(engine, store, catalog):
    events = JobEvents()  # the feed every worker hears
    first = _worker(engine, store, catalog, "host-a:1:aa", OfflineProvider(latency_ms=3000),
                    events=events)  # fmt: skip
    job = await first.submit("alice", "a fox, handed over", ONE)
    following = asyncio.create_task(_events(first, job))
    await _until(lambda: _status_is(first, job, JobStatus.RUNNING))
    assert await asyncio.wait_for(first.drain(0.2, timedelta(seconds=60)), 10) == 1  # SIGTERM
    row = await first.queue.get(job.id)
    assert (row.status, row.retries, row.images) == (JobStatus.QUEUED, 1, 2)  # a call lost
    assert await catalog.count() == 0 and _files(store) == []
    second = _worker(engine, store, catalog, "host-b:2:bb", OfflineProvider(latency_ms=50),
                     events=events)  # fmt: skip
    second.serve()
    final = (await asyncio.wait_for(following, 10))[-1]
    assert isinstance(final, Stored), final
    row = await second.queue.get(job.id)
    assert (row.status, row.worker) == (JobStatus.SUCCEEDED, "host-b:2:bb")
    blobs = [path for path in _files(store) if not path.name.endswith(".props.json")]
    assert await catalog.count() == 1 and len(blobs) == 2  # once: the image, its thumbnail


async def _status_is(runner: JobRunner, job, status: JobStatus) -> bool:
    return (await runner.queue.get(job.id)).status == status


async def _lose_worker(engine, job_id) -> None:
    """The worker running the job vanished (SIGKILL): its heartbeat is long past."""
    with engine.begin() as connection:
        connection.execute(
            sa.text("UPDATE generation_job SET heartbeat_at = :then WHERE id = :id"),
            {"then": "2000-01-01 00:00:00.000000", "id": job_id.hex},
        )


async def test_a_job_whose_worker_vanished_runs_once_more_elsewhere(engine, store, catalog):
    dead = JobQueue(engine, JobLimits(), worker="host-a:1:aa")
    survivor = _worker(engine, store, catalog, "host-b:2:bb")
    job = await survivor.submit("alice", "a fox, twice called", ONE)
    survivor.queue.stop_claiming()  # so the doomed worker takes it
    await survivor.queue.close()
    [claimed] = await dead.claim(1)
    assert claimed.id == job.id
    await _lose_worker(engine, job.id)
    assert await survivor.recover_lost(timedelta(seconds=30)) == 1
    row = await survivor.queue.get(job.id)
    assert (row.status, row.retries, row.images, row.worker) == (JobStatus.QUEUED, 1, 2, None)
    survivor._serving = False
    final = (await asyncio.wait_for(_events(survivor, job), 10))[-1]  # serves and follows
    assert isinstance(final, Stored), final
    assert await catalog.count() == 1
    assert (await survivor.queue.get(job.id)).images == 2  # both calls count


async def test_a_job_lost_twice_fails_with_the_reason(engine, store, catalog):
    survivor = _worker(engine, store, catalog, "host-b:2:bb")
    queue = survivor.queue
    job = await queue.submit("alice", "a fox, twice lost", ONE)
    for _ in range(2):
        [claimed] = await JobQueue(engine, JobLimits(), worker="host-a:1:aa").claim(1)
        assert claimed.id == job.id
        await _lose_worker(engine, job.id)
        assert await survivor.recover_lost(timedelta(seconds=30)) == 1
    row = await queue.get(job.id)
    assert (row.status, row.error) == (JobStatus.FAILED, RETRY_LOST_MESSAGE)
    assert row.images == 2 and [told.id for told in await queue.unseen("alice")] == [job.id]


async def test_without_retries_a_lost_job_fails_as_before(engine, store, catalog):
    survivor = _worker(engine, store, catalog, "host-b:2:bb", retry_lost=False)
    job = await survivor.queue.submit("alice", "a fox, not retried", ONE)
    await JobQueue(engine, JobLimits(), worker="host-a:1:aa").claim(1)
    await _lose_worker(engine, job.id)
    assert await survivor.recover_lost(timedelta(seconds=30)) == 1
    row = await survivor.queue.get(job.id)
    assert row.status == JobStatus.FAILED and "server restarted" in row.error
    assert (row.retries, row.images) == (0, 1)


async def test_a_retry_is_counted_against_the_limits_and_refused_past_them(engine, store, catalog):
    limits = JobLimits(images_per_owner_per_hour=1)
    survivor = JobRunner(
        JobQueue(engine, limits, worker="host-b:2:bb"), small_pipeline(store, catalog)
    )
    job = await survivor.queue.submit("alice", "a fox at the limit", ONE)
    await JobQueue(engine, limits, worker="host-a:1:aa").claim(1)
    await _lose_worker(engine, job.id)
    assert await survivor.recover_lost(timedelta(seconds=30)) == 1
    row = await survivor.queue.get(job.id)
    assert row.status == JobStatus.FAILED and "It was not retried" in row.error
    assert "limit of 1 images per hour" in row.error
    assert (row.retries, row.images) == (0, 1)  # the lost call counts; no second one


async def test_submit_refuses_bad_input_before_queueing(make_runner, engine):
    runner = make_runner()
    with pytest.raises(InvalidPrompt):
        await runner.submit("alice", "   ", ONE)
    with pytest.raises(InvalidOptions):
        await runner.submit("alice", "a fox", ImageOptions(size="7x7"))
    with engine.connect() as connection:
        assert connection.execute(sa.text("SELECT count(*) FROM generation_job")).scalar() == 0


async def test_the_running_time_is_told_while_partial_images_keep_arriving(engine, store, catalog):
    provider = OfflineProvider(latency_ms=2400, partial_images=5)  # one every 0.4 s
    queue = JobQueue(engine, JobLimits(), poll_interval_s=0.02, heartbeat_s=0.1)
    runner = JobRunner(queue, small_pipeline(store, catalog, provider), progress_s=0.5)
    job = await runner.submit("alice", "a busy fox", ONE)
    events = await _events(runner, job)
    partials = [i for i, event in enumerate(events) if isinstance(event, PartialImage)]
    assert len(partials) == 5
    ticks = [e for e in events[partials[0] : partials[-1]] if isinstance(e, Running)]
    assert len(ticks) >= 2, events  # one each 0.5 s, not put off by each partial
    assert [tick.elapsed_s for tick in ticks] == sorted(tick.elapsed_s for tick in ticks)
