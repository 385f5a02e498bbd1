"""The job queue: caps, order, cost limits, cancel and abandoned jobs, on SQLite and Postgres."""

import asyncio
import os
import socket
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa
from sqlmodel import Session

from tests.conftest import indexed_image
from visionary_app.models import GenerationJob, JobStatus, planned_image_id
from visionary_app.services.gallery.catalog import make_index_engine
from visionary_app.services.generation.providers.base import ImageOptions
from visionary_app.services.generation.queue import JobCancelled, JobQueue
from visionary_app.services.limits.image_limits import JobLimits, LimitReached

ONE = ImageOptions(size="256x256")
TWO = ImageOptions(size="256x256", n=2)


class Clock:
    """A settable UTC clock; each reading moves on by a millisecond so rows order strictly."""

    def __init__(self) -> None:
        self.now = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        self.now += timedelta(milliseconds=1)
        return self.now


async def _eventually(condition, timeout_s: float = 5.0) -> None:
    """Wait until `condition()` holds (the waiter polls every 20 ms), failing after a bound."""
    for _ in range(int(timeout_s / 0.02)):
        if condition():
            return
        await asyncio.sleep(0.02)
    assert condition()


@pytest.fixture
def make_queue(db_url):
    """Queues on their own engines, as separate workers would have."""
    engines: list[sa.Engine] = []

    def make(clock=None, worker=None, **limits) -> JobQueue:
        engine = make_index_engine(db_url)
        engines.append(engine)
        kwargs = {"clock": clock} if clock else {}
        return JobQueue(engine, JobLimits(**limits), poll_interval_s=0.02, worker=worker, **kwargs)

    yield make
    for engine in engines:
        engine.dispose()


async def test_global_cap_and_submission_order(make_queue):
    queue = make_queue(max_concurrent=2, max_running_per_owner=5)
    jobs = [await queue.submit(f"user{i}", f"prompt {i}", ONE) for i in range(4)]
    turns = [await queue.try_start(job) for job in reversed(jobs)]  # the newest asks first
    # Two slots: the two oldest get them, whoever asks first; the others keep their places.
    assert [t.started for t in turns] == [False, False, True, True]
    third, fourth = await queue.try_start(jobs[2]), await queue.try_start(jobs[3])
    assert (third.started, third.ahead, third.status) == (False, 0, "queued")
    assert (fourth.started, fourth.ahead) == (False, 1)
    await queue.finish(jobs[0].id, JobStatus.SUCCEEDED)
    assert not (await queue.try_start(jobs[3])).started  # the freed slot is the third's
    assert (await queue.try_start(jobs[2])).started


async def test_a_burst_under_the_cap_starts_at_once(make_queue):
    queue = make_queue(max_concurrent=20, max_running_per_owner=20)
    jobs = [await queue.submit("alice", f"burst {i}", ONE) for i in range(20)]
    turns = [await queue.try_start(job) for job in reversed(jobs)]
    assert all(turn.started for turn in turns)


async def test_owner_at_cap_does_not_hold_up_others(make_queue):
    queue = make_queue(max_concurrent=5, max_running_per_owner=1)
    first = await queue.submit("alice", "one", ONE)
    second = await queue.submit("alice", "two", ONE)
    other = await queue.submit("bob", "three", ONE)
    assert (await queue.try_start(first)).started
    assert not (await queue.try_start(second)).started
    assert (await queue.try_start(other)).started  # alice's waiting job is not eligible
    await queue.finish(first.id, JobStatus.SUCCEEDED)
    assert (await queue.try_start(second)).started


async def test_hourly_limit_per_owner_says_when_to_retry(make_queue):
    clock = Clock()
    queue = make_queue(clock=clock, images_per_owner_per_hour=3)
    first = await queue.submit("alice", "a", TWO)
    clock.now += timedelta(minutes=20)
    await queue.submit("alice", "b", ONE)
    with pytest.raises(LimitReached) as refused:
        await queue.submit("alice", "c", ONE)
    assert refused.value.retry_at == first.created_at + timedelta(hours=1)
    assert "limit of 3 images per hour" in str(refused.value)
    assert "Try again in about 40 minutes (at 13:00 UTC)" in str(refused.value)
    await queue.submit("bob", "d", TWO)  # another user has their own allowance
    # A job that ends before its provider call started gives back what it reserved...
    await queue.finish(first.id, JobStatus.FAILED, error="never started")
    second = await queue.submit("alice", "e", TWO)
    # ...one whose call started keeps counting, whatever its outcome.
    assert (await queue.try_start(second)).started
    await queue.finish(second.id, JobStatus.FAILED, error="provider refused")
    with pytest.raises(LimitReached):
        await queue.submit("alice", "g", ONE)
    clock.now += timedelta(hours=1)
    await queue.submit("alice", "f", TWO)


async def test_daily_limit_for_the_whole_app(make_queue):
    queue = make_queue(images_per_day=3)
    await queue.submit("alice", "a", TWO)
    await queue.submit("bob", "b", ONE)
    with pytest.raises(LimitReached, match="the studio has reached its limit of 3 images per day"):
        await queue.submit("carol", "c", ONE)


async def test_concurrent_submissions_from_many_workers_never_overshoot_a_limit(make_queue):
    workers = [make_queue(images_per_day=7) for _ in range(6)]
    outcomes = await asyncio.gather(
        *(workers[i % 6].submit(f"user{i}", "p", ONE) for i in range(20)), return_exceptions=True
    )
    accepted = [o for o in outcomes if isinstance(o, GenerationJob)]
    refused = [o for o in outcomes if isinstance(o, LimitReached)]
    assert len(accepted) == 7 and len(refused) == 13


async def test_concurrent_starts_from_many_workers_never_exceed_the_cap(make_queue):
    workers = [make_queue(max_concurrent=3, max_running_per_owner=10) for _ in range(5)]
    jobs = [await workers[0].submit(f"user{i}", "p", ONE) for i in range(12)]
    for _ in range(5):
        await asyncio.gather(*(workers[i % 5].try_start(job) for i, job in enumerate(jobs)))
    statuses = await workers[0].heartbeat(job.id for job in jobs)
    assert list(statuses.values()).count("running") == 3


async def test_wait_turn_reports_position_and_starts_when_a_slot_frees(make_queue):
    queue = make_queue(max_concurrent=1)
    running = await queue.submit("alice", "first", ONE)
    assert (await queue.try_start(running)).started
    waiting = await queue.submit("bob", "second", ONE)
    later = await queue.submit("carol", "third", ONE)
    positions: list[int] = []

    waiter = asyncio.create_task(queue.wait_turn(later, positions.append))
    await _eventually(lambda: positions == [1])
    assert not waiter.done()
    await queue.finish(running.id, JobStatus.SUCCEEDED)
    assert (await queue.try_start(waiting)).started
    await _eventually(lambda: positions == [1, 0])
    assert not waiter.done()  # first in line, but the slot is taken
    await queue.finish(waiting.id, JobStatus.SUCCEEDED)
    await asyncio.wait_for(waiter, 5)
    assert (await queue.get(later.id)).status == "running"


async def test_cancel_ends_a_waiting_job_and_marks_a_running_one(make_queue):
    queue = make_queue(max_concurrent=1)
    running = await queue.submit("alice", "first", ONE)
    assert (await queue.try_start(running)).started
    waiting = await queue.submit("alice", "second", ONE)

    waiter = asyncio.create_task(queue.wait_turn(waiting, lambda _ahead: None))
    await asyncio.sleep(0.05)
    assert await queue.cancel(waiting.id, "alice")
    with pytest.raises(JobCancelled):
        await asyncio.wait_for(waiter, 5)
    assert not await queue.cancel(running.id, "mallory")  # not theirs
    assert await queue.cancel(running.id, "alice")
    ended = await queue.get(running.id)
    # Its provider call had started: cancelling does not refund the image against the limits.
    assert (ended.status, ended.images) == (JobStatus.CANCELLED, 1)
    assert (await queue.get(waiting.id)).images == 0  # never started: nothing spent
    # Finishing after a cancel changes nothing: the caller learns the job had ended.
    assert not await queue.finish(running.id, JobStatus.SUCCEEDED)


async def test_a_worker_whose_clock_runs_fast_fails_nobody_elses_live_jobs(make_queue):
    honest = make_queue(worker="host-a:101:aaaa")  # two machines
    live = await honest.submit("alice", "running elsewhere", ONE)
    assert (await honest.try_start(live)).started
    await honest.heartbeat([live.id])

    class FastClock(Clock):
        def __call__(self) -> datetime:
            return datetime.now(UTC) + timedelta(seconds=90)

    fast = make_queue(clock=FastClock(), worker="host-b:202:bbbb")
    assert await fast.fail_abandoned(stale_after=timedelta(seconds=60)) == 0
    assert (await honest.get(live.id)).status == JobStatus.RUNNING


def _age_heartbeat(queue: JobQueue, job_id, seconds: float) -> None:
    """Move a job's last heartbeat `seconds` into the past, as a silent worker would leave it."""
    with Session(queue._engine) as session:
        job = session.get(GenerationJob, job_id)
        job.heartbeat_at -= timedelta(seconds=seconds)
        session.add(job)
        session.commit()


async def test_jobs_of_a_gone_worker_are_failed_and_their_owner_told_once(make_queue):
    queue = make_queue()
    stale = await queue.submit("alice", "stale heartbeat", TWO)
    assert (await queue.try_start(stale)).started
    fresh = await queue.submit("alice", "fresh heartbeat", ONE)
    _age_heartbeat(queue, stale.id, 90)
    assert await queue.fail_abandoned(stale_after=timedelta(seconds=60)) == 1
    ended = await queue.get(stale.id)
    assert ended.status == "failed" and "server restarted" in ended.error
    # It was running, so its provider call had started: both images still count.
    assert "while this job was running" in ended.error and ended.images == 2
    assert [job.id for job in await queue.unseen("alice")] == [stale.id]
    await queue.mark_seen("bob", [stale.id])  # not bob's to acknowledge
    assert [job.id for job in await queue.unseen("alice")] == [stale.id]
    await queue.mark_seen("alice", [stale.id])
    assert await queue.unseen("alice") == []
    assert [job.id for job in await queue.active("alice")] == [fresh.id]


async def test_a_gone_workers_job_whose_images_it_indexed_succeeded(make_queue):
    """Killed after indexing and before recording the end: the images are in the gallery."""
    queue = make_queue()
    whole = await queue.submit("alice", "indexed both", TWO)
    half = await queue.submit("alice", "indexed one", TWO)
    for job, indexed in ((whole, 2), (half, 1)):
        assert (await queue.try_start(job)).started
        _age_heartbeat(queue, job.id, 90)
        with Session(queue._engine) as session:
            for index in range(indexed):
                row = indexed_image(datetime.now(UTC), id=planned_image_id(job.id, index))
                row.blob_name = f"images/{row.id}.png"
                session.add(row)
            session.commit()
    assert await queue.fail_abandoned(stale_after=timedelta(seconds=60)) == 2
    ended_whole, ended_half = await queue.get(whole.id), await queue.get(half.id)
    assert ended_whole.status == "succeeded" and ended_whole.error is None
    assert (
        ended_whole.image_ids == f"{planned_image_id(whole.id, 0)} {planned_image_id(whole.id, 1)}"
    )
    # One of two: the job still succeeded, and says why the other is missing.
    assert ended_half.status == "succeeded" and "while this job was running" in ended_half.error
    assert ended_half.image_ids == str(planned_image_id(half.id, 0))
    assert ended_half.images == 2  # both were paid for


async def test_a_dead_process_on_this_host_is_noticed_without_waiting(make_queue):
    queue = make_queue()
    job = await queue.submit("alice", "p", ONE)
    gone = await asyncio.create_subprocess_exec("true")
    await gone.wait()
    previous = make_queue()
    previous.worker = f"{socket.gethostname()}:{gone.pid}:deadbeef"
    orphan = await previous.submit("bob", "q", ONE)
    alive = make_queue()
    alive.worker = f"{socket.gethostname()}:{os.getppid()}:cafe"
    living = await alive.submit("carol", "r", ONE)
    assert await queue.fail_abandoned(stale_after=timedelta(hours=1)) == 1
    assert (await queue.get(orphan.id)).status == "failed"
    assert (await queue.get(job.id)).status == "queued"
    assert (await queue.get(living.id)).status == "queued"


async def test_anonymous_visitors_share_one_budget_however_many_cookies(make_queue):
    # A new cookie is a new visitor: each has their own hourly limit, and all of them one.
    queue = make_queue(images_per_owner_per_hour=3, anonymous_images_per_hour=5)
    for cookie in range(5):
        await queue.submit(f"visitor:{cookie:032x}", "p", ONE)
    with pytest.raises(LimitReached, match="visitors without an account have together"):
        await queue.submit("visitor:" + "f" * 32, "p", ONE)
    await queue.submit("user:alice", "signed in: not in the visitors' budget", ONE)


async def test_one_user_cannot_fill_the_queue(make_queue):
    queue = make_queue(max_concurrent=1, max_queued_per_owner=3)
    jobs = [await queue.submit("user:alice", f"p{i}", ONE) for i in range(3)]
    with pytest.raises(LimitReached, match="already have 3 jobs waiting or running"):
        await queue.submit("user:alice", "one too many", ONE)
    await queue.submit("user:bob", "others still can", ONE)
    await queue.cancel(jobs[0].id, "user:alice")
    await queue.submit("user:alice", "room again", ONE)


async def test_one_users_burst_does_not_starve_the_others(make_queue):
    queue = make_queue(max_concurrent=1, max_running_per_owner=1)
    blocker = await queue.submit("carol", "running", ONE)
    assert (await queue.try_start(blocker)).started
    burst = [await queue.submit("alice", f"alice {i}", ONE) for i in range(4)]
    bob = await queue.submit("bob", "bob's one", ONE)
    order = []
    for _ in range(6):
        running = [job for job in [*burst, bob] if (await queue.get(job.id)).status == "running"]
        for job in running:
            order.append(job.prompt)
            await queue.finish(job.id, JobStatus.SUCCEEDED)
        await queue.finish(blocker.id, JobStatus.SUCCEEDED)
        for job in [*burst, bob]:
            await queue.try_start(job)
    # Alice's first, then Bob's (submitted after all of Alice's), then the rest of hers.
    assert order[:3] == ["alice 0", "bob's one", "alice 1"]


async def test_waiting_jobs_start_from_one_dispatcher_without_polling_the_database(make_queue):
    queue = make_queue(max_concurrent=1)
    queue.poll_interval_s = 30.0  # the safety net must not be what starts them
    first = await queue.submit("alice", "first", ONE)
    assert (await queue.try_start(first)).started
    waiting = [await queue.submit(f"user{i}", "waits", ONE) for i in range(20)]
    places: dict[int, list[int]] = {i: [] for i in range(20)}
    tasks = [
        asyncio.create_task(queue.wait_turn(job, places[i].append)) for i, job in enumerate(waiting)
    ]
    await asyncio.sleep(0.3)
    passes = queue.passes
    await asyncio.sleep(1.0)
    assert queue.passes - passes <= 1  # idle: a heartbeat at most, no polling
    assert [places[i][-1] for i in range(3)] == [0, 1, 2]
    await queue.finish(first.id, JobStatus.SUCCEEDED)  # a slot frees: wakes the dispatcher
    await asyncio.wait_for(tasks[0], 2)
    assert not tasks[1].done()
    for task in tasks[1:]:
        task.cancel()


async def test_a_slot_freed_on_another_worker_wakes_this_one_at_once(postgres_url):
    """Two workers on PostgreSQL: the end of a job on one starts the next on the other."""
    engines = [make_index_engine(postgres_url) for _ in range(2)]
    here, there = (
        JobQueue(
            engine, JobLimits(max_concurrent=1), poll_interval_s=30.0, heartbeat_s=30.0, worker=name
        )
        for engine, name in zip(engines, ("host-a:1:aa", "host-b:2:bb"), strict=True)
    )
    try:
        running = await there.submit("alice", "there", ONE)
        assert (await there.try_start(running)).started
        waiting = await here.submit("bob", "here", ONE)
        waiter = asyncio.create_task(here.wait_turn(waiting, lambda _ahead: None))
        await asyncio.sleep(1.0)  # the listener is up; nothing can start yet
        assert not waiter.done()
        started = asyncio.get_running_loop().time()
        await there.finish(running.id, JobStatus.SUCCEEDED)
        await asyncio.wait_for(waiter, 5)
        assert asyncio.get_running_loop().time() - started < 1  # not the 30 s safety net
    finally:
        for queue in (here, there):
            for task in (queue._dispatcher, queue._listener):
                if task is not None:
                    task.cancel()
        for engine in engines:
            engine.dispose()
