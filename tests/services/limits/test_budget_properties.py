"""Property test of budgets: concurrent jobs with random estimates, cancels, failures and bills
never spend past a budget, and every reservation ends settled or released."""

import asyncio
import tempfile
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlmodel import Session, col, select

from visionary_app.models import GenerationJob, JobStatus
from visionary_app.services.gallery.catalog import make_index_engine
from visionary_app.services.generation.providers.base import ImageOptions
from visionary_app.services.generation.queue import ACTIVE, JobQueue
from visionary_app.services.kit.database import upgrade_to_head
from visionary_app.services.limits.budgets import Budgets
from visionary_app.services.limits.image_limits import JobLimits, LimitReached

BUDGET = 100_000  # $0.10 a day each, and for the studio
OWNERS = ["user:alice", "user:bob", "visitor:x"]
LIMITS = JobLimits(max_concurrent=50, max_running_per_owner=50)
BUDGETS = Budgets(user_per_day=BUDGET, visitors_per_day=BUDGET, app_per_day=2 * BUDGET)

# Each job: who, its estimate, and how it ends: a bill of some part of its estimate, a failure
# after the call (the estimate), a cancel before it starts (nothing) or after (the estimate).
job = st.tuples(
    st.sampled_from(OWNERS),
    st.integers(1, 40_000),
    st.sampled_from(["billed", "failed", "cancel-waiting", "cancel-running"]),
    st.floats(0, 1),
)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(job, min_size=1, max_size=30))
def test_spend_never_passes_a_budget_and_every_reservation_ends(jobs):
    with tempfile.TemporaryDirectory() as work:
        url = f"sqlite:///{Path(work) / 'index.db'}"
        upgrade_to_head(url)
        engines = [make_index_engine(url) for _ in range(2)]  # two workers
        try:
            asyncio.run(_play([JobQueue(e, LIMITS, budgets=BUDGETS) for e in engines], jobs))
        finally:
            for engine in engines:
                engine.dispose()


async def _one(queue: JobQueue, index: int, owner: str, estimate: int, end: str, part: float):
    try:
        job = await queue.submit(owner, f"job {index}", ImageOptions(), estimated_micros=estimate)
    except LimitReached as refusal:
        assert "budget" in str(refusal) and "resets" in str(refusal)
        return
    if end == "cancel-waiting":
        await queue.cancel(job.id, owner)
        return
    await queue.claim(1)  # a worker takes the next job in line (this one, or another)
    if end == "billed":
        await queue.finish(job.id, JobStatus.SUCCEEDED, cost_micros=int(estimate * part))
    elif end == "failed":
        await queue.finish(job.id, JobStatus.FAILED, error="x")
    else:
        await queue.cancel(job.id, owner)


async def _play(queues: list[JobQueue], jobs) -> None:
    await asyncio.gather(*(
        _one(queues[i % 2], i, *spec) for i, spec in enumerate(jobs)))  # fmt: skip
    queue = queues[0]
    rows = [await queue.get(j.id) for owner in OWNERS for j in await _all(queue, owner)]
    for row in rows:
        assert row.status not in ACTIVE
        assert row.cost_micros is not None  # settled or released: no reservation left
        assert row.cost_micros <= row.estimated_micros  # bills here never exceed estimates
    for owner in OWNERS:
        assert sum(r.cost_micros for r in rows if r.owner == owner) <= BUDGET
    visitors = [r for r in rows if r.owner.startswith("visitor:")]
    assert sum(r.cost_micros for r in visitors) <= BUDGET
    assert sum(r.cost_micros for r in rows) <= 2 * BUDGET
    for owner in OWNERS:  # what the budgets count is what the rows hold, once each
        spent = {b.label: b.spent for b in await queue.budgets_left(owner)}
        mine = sum(r.cost_micros for r in rows if r.owner == owner)
        label = "the visitors' shared daily budget" if owner.startswith("visitor:") \
            else "your daily budget"  # fmt: skip
        expected = sum(r.cost_micros for r in visitors) if owner.startswith("visitor:") else mine
        assert spent[label] == expected


async def _all(queue: JobQueue, owner: str):
    with Session(queue._engine) as session:
        return list(session.exec(select(GenerationJob).where(col(GenerationJob.owner) == owner)))
