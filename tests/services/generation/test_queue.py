"""The job queue: caps, order, cost limits, cancel and lost jobs, on SQLite and Postgres."""

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
from visionary_app.services.generation.queue import JobQueue
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


async def _running(queue: JobQueue, jobs) -> list[bool]:
    return [(await queue.get(job.id)).status == JobStatus.RUNNING for job in jobs]


async def _start(queue: JobQueue, job) -> None:
    """Claim what may start (as a dispatcher would) and check that `job` is among it."""
    await queue.claim(100)
    assert (await queue.get(job.id)).status == JobStatus.RUNNING


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
    # Two slots: the two oldest get them; the others keep their places.
    assert [job.id for job in await queue.claim(10)] == [jobs[0].id, jobs[1].id]
    assert await _running(queue, jobs) == [True, True, False, False]
    third, fourth = await queue.get(jobs[2].id), await queue.get(jobs[3].id)
    assert (await queue.ahead(third), await queue.ahead(fourth)) == (0, 1)
    await queue.finish(jobs[0].id, JobStatus.SUCCEEDED)
    assert [job.id for job in await queue.claim(10)] == [jobs[2].id]  # the third's slot
    assert await _running(queue, jobs) == [False, True, True, False]


async def test_a_burst_under_the_cap_starts_at_once(make_queue):
    queue = make_queue(max_concurrent=20, max_running_per_owner=20)
    jobs = [await queue.submit("alice", f"burst {i}", ONE) for i in range(20)]
    assert [job.id for job in await queue.claim(20)] == [job.id for job in jobs]


async def test_owner_at_cap_does_not_hold_up_others(make_queue):
    queue = make_queue(max_concurrent=5, max_running_per_owner=1)
    first = await queue.submit("alice", "one", ONE)
    second = await queue.submit("alice", "two", ONE)
    other = await queue.submit("bob", "three", ONE)
    await queue.claim(5)  # alice's second is not eligible; bob's, submitted after, is
    assert await _running(queue, [first, second, other]) == [True, False, True]
    await queue.finish(first.id, JobStatus.SUCCEEDED)
    await _start(queue, second)


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
    await _start(queue, second)
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
    for _ in range(3):
        await asyncio.gather(*(worker.claim(12) for worker in workers))
    statuses = await workers[0].heartbeat(job.id for job in jobs)
    assert list(statuses.values()).count("running") == 3


async def test_a_followed_job_is_told_its_place_and_any_worker_starts_it(make_queue):
    queue = make_queue(max_concurrent=1)
    running = await queue.submit("alice", "first", ONE)
    await _start(queue, running)
    waiting = await queue.submit("bob", "second", ONE)
    later = await queue.submit("carol", "third", ONE)
    positions: list[int] = []

    unfollow = queue.follow_place(later.id, positions.append)
    await _eventually(lambda: positions == [1])
    await queue.finish(running.id, JobStatus.SUCCEEDED)
    await _start(queue, waiting)
    queue._notify()  # what the end and the start do on PostgreSQL (NOTIFY)
    await _eventually(lambda: positions == [1, 0])
    assert (await queue.get(later.id)).status == "queued"  # first in line, the slot taken
    await queue.finish(waiting.id, JobStatus.SUCCEEDED)
    other = make_queue(max_concurrent=1, worker="host-b:2:bb")  # another worker takes it
    await _start(other, later)
    assert (await queue.get(later.id)).worker == "host-b:2:bb"
    unfollow()


async def test_cancel_ends_a_waiting_job_and_marks_a_running_one(make_queue):
    queue = make_queue(max_concurrent=1)
    running = await queue.submit("alice", "first", ONE)
    await _start(queue, running)
    waiting = await queue.submit("alice", "second", ONE)
    assert await queue.cancel(waiting.id, "alice")
    assert await queue.claim(10) == []  # a cancelled job never starts
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
    await _start(honest, live)
    await honest.heartbeat([live.id])

    class FastClock(Clock):
        def __call__(self) -> datetime:
            return datetime.now(UTC) + timedelta(seconds=90)

    fast = make_queue(clock=FastClock(), worker="host-b:202:bbbb")
    assert await fast.recover_lost(stale_after=timedelta(seconds=60)) == []
    assert (await honest.get(live.id)).status == JobStatus.RUNNING


def _age_heartbeat(queue: JobQueue, job_id, seconds: float) -> None:
    """Move a job's last heartbeat `seconds` into the past, as a silent worker would leave it."""
    with Session(queue._engine) as session:
        job = session.get(GenerationJob, job_id)
        job.heartbeat_at -= timedelta(seconds=seconds)
        session.add(job)
        session.commit()


async def test_without_retries_a_gone_workers_job_fails_and_its_owner_is_told_once(make_queue):
    queue = make_queue(max_running_per_owner=1)
    stale = await queue.submit("alice", "stale heartbeat", TWO)
    await _start(queue, stale)
    fresh = await queue.submit("alice", "waits: belongs to no worker", ONE)
    _age_heartbeat(queue, stale.id, 90)
    recovered = await queue.recover_lost(stale_after=timedelta(seconds=60), retry=False)
    assert recovered == [stale.id]
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
        await _start(queue, job)
        _age_heartbeat(queue, job.id, 90)
        with Session(queue._engine) as session:
            for index in range(indexed):
                row = indexed_image(datetime.now(UTC), id=planned_image_id(job.id, index))
                row.blob_name = f"images/{row.id}.png"
                session.add(row)
            session.commit()
    assert len(await queue.recover_lost(stale_after=timedelta(seconds=60))) == 2
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
    await _start(queue, job)  # this process's, alive
    gone = await asyncio.create_subprocess_exec("true")
    await gone.wait()
    previous = make_queue(worker=f"{socket.gethostname()}:{gone.pid}:deadbeef")
    orphan = await previous.submit("bob", "q", ONE)
    await _start(previous, orphan)
    alive = make_queue(worker=f"{socket.gethostname()}:{os.getppid()}:cafe")
    living = await alive.submit("carol", "r", ONE)
    await _start(alive, living)
    assert await queue.recover_lost(stale_after=timedelta(hours=1)) == [orphan.id]
    back = await queue.get(orphan.id)
    assert (back.status, back.retries, back.worker) == ("queued", 1, None)  # runs once more
    assert (await queue.get(job.id)).status == "running"
    assert (await queue.get(living.id)).status == "running"


async def test_anonymous_visitors_share_one_budget_however_many_cookies(make_queue):
    # A new cookie is a new visitor: each has their own hourly limit, and all of them one.
    queue = make_queue(images_per_owner_per_hour=3, anonymous_images_per_hour=5)
    for cookie in range(5):
        await queue.submit(f"visitor:{cookie:032x}", "p", ONE)
    with pytest.raises(LimitReached, match="visitors without an account have together"):
        await queue.submit("visitor:" + "f" * 32, "p", ONE)
    await queue.submit("user:alice", "signed in: not in the visitors' budget", ONE)


async def test_visitors_from_one_address_share_one_visitors_limit(make_queue):
    # A fresh cookie is a fresh visitor, but not a fresh address.
    queue = make_queue(anonymous_images_per_address_per_hour=2, anonymous_images_per_hour=50)
    for cookie in range(2):
        await queue.submit(f"visitor:{cookie:032x}", "p", ONE, client="203.0.113.5")
    with pytest.raises(LimitReached, match="visitors from your address have reached"):
        await queue.submit("visitor:" + "e" * 32, "p", ONE, client="203.0.113.5")
    await queue.submit("visitor:" + "e" * 32, "elsewhere", ONE, client="198.51.100.9")
    signed_in = await queue.submit("user:alice", "named users", ONE, client="203.0.113.5")
    assert signed_in.client is None  # only visitors are counted by address


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
    await _start(queue, blocker)
    burst = [await queue.submit("alice", f"alice {i}", ONE) for i in range(4)]
    bob = await queue.submit("bob", "bob's one", ONE)
    order = []
    for _ in range(6):
        running = [job for job in [*burst, bob] if (await queue.get(job.id)).status == "running"]
        for job in running:
            order.append(job.prompt)
            await queue.finish(job.id, JobStatus.SUCCEEDED)
        await queue.finish(blocker.id, JobStatus.SUCCEEDED)
        await queue.claim(1)
    # Alice's first, then Bob's (submitted after all of Alice's), then the rest of hers.
    assert order[:3] == ["alice 0", "bob's one", "alice 1"]


async def test_waiting_jobs_are_told_their_places_without_polling_the_database(make_queue):
    queue = make_queue(max_concurrent=1)
    queue.poll_interval_s = 30.0  # the safety net must not be what starts them
    first = await queue.submit("alice", "first", ONE)
    await _start(queue, first)  # the only slot, held without a heartbeat here
    waiting = [await queue.submit(f"user{i}", "waits", ONE) for i in range(20)]
    started: list = []
    queue.serve(lambda job: started.append(job.id) or (lambda _status: None))
    places: dict[int, list[int]] = {i: [] for i in range(20)}
    for i, job in enumerate(waiting):
        queue.follow_place(job.id, places[i].append)
    await _eventually(lambda: all(places.values()))
    for _ in range(50):  # wake-ups from the submissions (NOTIFY on PostgreSQL) die down
        passes = queue.passes
        await asyncio.sleep(0.2)
        if queue.passes == passes:
            break
    passes = queue.passes
    await asyncio.sleep(1.0)
    assert queue.passes == passes  # idle: nothing runs here, nothing to poll for
    assert [places[i][-1] for i in range(3)] == [0, 1, 2]
    await queue.finish(first.id, JobStatus.SUCCEEDED)  # a slot frees: wakes the dispatcher
    await _eventually(lambda: started == [waiting[0].id], timeout_s=2)
    await _eventually(lambda: places[1][-1] == 0, timeout_s=2)
    await queue.close()


async def test_a_submit_on_a_serving_worker_starts_what_fits_without_a_dispatcher_pass(
    make_queue, monkeypatch
):
    queue = make_queue(max_concurrent=1)
    monkeypatch.setattr(queue, "_ensure_dispatcher", lambda: None)  # no pass can start it
    started: list = []
    queue.serve(lambda job: started.append(job.id) or (lambda _status: None))
    first = await queue.submit("alice", "fits", ONE)
    assert started == [first.id] and (await _running(queue, [first])) == [True]
    second = await queue.submit("bob", "over the cap", ONE)  # the cap holds at submit too
    assert started == [first.id] and (await _running(queue, [second])) == [False]
    queue.stop_claiming()
    await queue.finish(first.id, JobStatus.SUCCEEDED)
    third = await queue.submit("carol", "a worker that stopped claiming", ONE)
    assert started == [first.id] and (await _running(queue, [second, third])) == [False, False]


async def test_a_slot_freed_on_another_worker_wakes_this_one_at_once(postgres_url):
    """Two workers on PostgreSQL: the end of a job on one starts the next on the other."""
    engines = [make_index_engine(postgres_url) for _ in range(2)]
    here, there = (
        JobQueue(
            engine, JobLimits(max_concurrent=1), poll_interval_s=30.0, heartbeat_s=30.0, worker=name
        )
        for engine, name in zip(engines, ("host-a:1:aa", "host-b:2:bb"), strict=True)
    )
    started: list = []
    try:
        running = await there.submit("alice", "there", ONE)
        await _start(there, running)
        waiting = await there.submit("bob", "submitted there, started here", ONE)
        here.serve(lambda job: started.append(job.id) or (lambda _status: None))
        await asyncio.sleep(1.0)  # the listener is up; nothing can start yet
        assert started == []
        begun = asyncio.get_running_loop().time()
        await there.finish(running.id, JobStatus.SUCCEEDED)
        await _eventually(lambda: started == [waiting.id], timeout_s=5)
        assert asyncio.get_running_loop().time() - begun < 1  # not the 30 s safety net
    finally:
        for queue in (here, there):
            await queue.close()
        for engine in engines:
            engine.dispose()


async def test_prompt_history_is_each_prompt_once_newest_first_and_searchable(make_queue):
    from visionary_app.models import ImageKind

    clock = [datetime(2026, 12, 1, 9, tzinfo=UTC)]

    def now() -> datetime:
        clock[0] += timedelta(minutes=1)
        return clock[0]

    queue = make_queue(clock=now)
    for prompt in ("a red fox", "50% off_sale", "a red fox", "a blue whale"):
        await queue.submit("user:alice", prompt, ONE)
    await queue.submit("user:bob", "bob's own", ONE)
    await queue.submit("user:alice", "vary it", ONE, kind=ImageKind.VARIATION)

    assert await queue.recent_prompts("user:alice") == ["a blue whale", "a red fox", "50% off_sale"]
    assert await queue.recent_prompts("user:alice", "RED") == ["a red fox"]
    assert await queue.recent_prompts("user:alice", "0% o") == ["50% off_sale"]  # literal %
    assert await queue.recent_prompts("user:alice", "f_s") == ["50% off_sale"]  # literal _
    assert await queue.recent_prompts("user:alice", "%") == ["50% off_sale"]
    assert await queue.recent_prompts("user:alice", limit=1) == ["a blue whale"]
    assert await queue.recent_prompts("user:carol") == []
