"""The durable job queue: generation jobs as rows, started under caps, limited by cost.

Every submission becomes a `GenerationJob` row before anything is spent. A job starts only
when the app-wide cap on concurrent provider calls and its owner's cap on running jobs allow,
and then in submission order. Cost limits (`limits`: images per owner per hour, images per day
for the whole app) are checked when the job is submitted, in the same transaction that inserts
it, so concurrent submissions from any number of workers cannot overshoot them.

Jobs heartbeat while they wait and run. A job whose worker is gone (a restart, a crash) is
failed with a reason the owner is shown on their next visit; nothing is ever left "running".
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
import uuid
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TypeVar

import sqlalchemy as sa
from sqlmodel import Session, col, select

from visionary_app.models import (
    GenerationJob,
    Image,
    ImageKind,
    JobStatus,
    join_ids,
    planned_image_id,
)
from visionary_app.services.gallery.live_feed import Change, ChangeKind, LiveFeed
from visionary_app.services.generation.providers.base import ImageOptions
from visionary_app.services.kit.database import database_now, in_session
from visionary_app.services.limits.budgets import (
    BudgetLeft,
    Budgets,
    budget_refusal,
    budgets_left,
)
from visionary_app.services.limits.image_limits import (
    JobLimits,
    QueueUnavailable,
    image_limit_refusal,
)

__all__ = [
    "ABANDONED_MESSAGES",
    "ACTIVE",
    "JobCancelled",
    "JobQueue",
    "Turn",
    "worker_name",
]

T = TypeVar("T")
logger = logging.getLogger(__name__)

ACTIVE = (JobStatus.QUEUED, JobStatus.RUNNING)
ABANDONED_MESSAGES = {
    JobStatus.QUEUED: "The server restarted (or stopped) while this job was waiting, so "
    "it never started and nothing was spent. Please generate it again.",
    JobStatus.RUNNING: "The server restarted (or stopped) while this job was running, so "
    "it did not finish. Any image it had already added is in the gallery; please generate the "
    "rest again.",
}
# What an ending job counts against the limits: nothing if it never started (nothing was
# spent), else what it requested (the provider call was made, whatever came of it).
_REFUND_IF_QUEUED = sa.case(
    (col(GenerationJob.status) == JobStatus.QUEUED, 0), else_=col(GenerationJob.images)
)
# The same for money: a job ended before its provider call cost nothing, one ended after it
# costs its estimate (unless the provider said what it used).
_COST_IF_ENDED = sa.case(
    (col(GenerationJob.status) == JobStatus.QUEUED, 0), else_=col(GenerationJob.estimated_micros)
)
# Any constant works: it names the one lock all workers take to submit or start jobs.
_POSTGRES_QUEUE_LOCK = 0x56495349  # "VISI"
# Workers tell each other that the queue changed on this PostgreSQL channel.
_CHANNEL = "visionary_jobs"


def _utcnow() -> datetime:
    return datetime.now(UTC)


def worker_name() -> str:
    """`host:pid:nonce` of this process; the nonce tells a restarted process from its past."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


class JobCancelled(Exception):
    """The job was cancelled (or ended elsewhere) while it waited for its turn."""


@dataclass(frozen=True)
class Turn:
    """The answer to "may this job start now?"."""

    started: bool
    status: JobStatus
    ahead: int = 0  # queued jobs that start before this one


def _beat(
    session: Session, ids: Iterable[uuid.UUID], now: datetime | None
) -> dict[uuid.UUID, JobStatus]:
    """Mark the active ones of these jobs alive at `now` (unless None); each one's status."""
    ids = list(ids)
    if now is not None:
        session.exec(
            sa.update(GenerationJob)
            .where(col(GenerationJob.id).in_(ids), col(GenerationJob.status).in_(ACTIVE))
            .values(heartbeat_at=now)
        )
    rows = session.exec(
        select(GenerationJob.id, GenerationJob.status).where(col(GenerationJob.id).in_(ids))
    )
    return dict(rows.all())


@dataclass
class _Waiter:
    """A job of this worker waiting for its turn."""

    started: asyncio.Future
    on_wait: Callable[[int], None]
    ahead: int = -1


def _indexed_images(session: Session, job: GenerationJob) -> list[uuid.UUID]:
    """Which of a job's images are in the index, in order (their ids follow from the job)."""
    planned = [planned_image_id(job.id, index) for index in range(job.n)]
    found = set(session.exec(select(Image.id).where(col(Image.id).in_(planned))))
    return [image_id for image_id in planned if image_id in found]


class JobQueue:
    """Submits, starts, watches and ends generation jobs in the index database."""

    def __init__(
        self,
        engine: sa.Engine,
        limits: JobLimits,
        *,
        worker: str | None = None,
        poll_interval_s: float = 5.0,
        heartbeat_s: float = 2.0,
        clock: Callable[[], datetime] = _utcnow,
        feed: LiveFeed | None = None,
        budgets: Budgets | None = None,
    ) -> None:
        """A queue on `engine` under `limits`, for this worker.

        `feed`, if given, hears of every owner whose jobs were queued, started or ended, so
        their open pages update without asking.

        `poll_interval_s` is the safety net: a waiting job is looked at that often even if
        nothing wakes it; `heartbeat_s` is how often this worker marks its jobs alive.
        """
        self._engine = engine
        self.limits = limits
        self.budgets = budgets or Budgets()
        self.worker = worker or worker_name()
        self.poll_interval_s = poll_interval_s
        self.heartbeat_s = heartbeat_s
        self._clock = clock
        self._waiting: dict[uuid.UUID, _Waiter] = {}
        self._tracked: dict[uuid.UUID, Callable[[JobStatus], None]] = {}
        self._wake = asyncio.Event()
        self._dispatcher: asyncio.Task | None = None
        self._listener: asyncio.Task | None = None
        self.passes = 0  # dispatcher passes so far (the idle benchmark reads it)
        self._feed = feed

    async def _tell_owners(self, owners: Iterable[str]) -> None:
        """Tell the owners' open pages, on every worker, that their jobs moved."""
        if self._feed is not None:
            for owner in sorted(set(owners)):
                await self._feed.publish(Change(ChangeKind.JOBS, owner=owner))

    async def _run(self, work: Callable[[Session], T]) -> T:
        def failure(error: str) -> QueueUnavailable:
            return QueueUnavailable(f"the job queue is unavailable: {error}")

        return await in_session(self._engine, work, failure)

    def _lock_queue(self, session: Session) -> None:
        """Serialise submit and start across workers, before anything is read."""
        if self._engine.dialect.name == "postgresql":
            session.exec(sa.select(sa.func.pg_advisory_xact_lock(_POSTGRES_QUEUE_LOCK)))
        else:  # a write, even of no row, takes SQLite's one write lock
            session.exec(sa.update(GenerationJob).where(sa.false()).values(turn=GenerationJob.turn))

    def _notify(self) -> None:
        """Wake this worker's dispatcher: a slot or a place in the queue may have opened."""
        self._wake.set()

    def _tell_workers(self, session: Session) -> None:
        """Wake every worker's dispatcher when this transaction commits (PostgreSQL NOTIFY).

        On SQLite there is one worker, woken by `_notify`.
        """
        if self._engine.dialect.name == "postgresql":
            session.exec(sa.text(f"NOTIFY {_CHANNEL}"))

    async def _listen(self) -> None:
        """Wake this worker's dispatcher whenever another worker's queue changes (LISTEN)."""
        import psycopg

        url = self._engine.url.set(drivername="postgresql")
        while True:
            try:
                async with await psycopg.AsyncConnection.connect(
                    url.render_as_string(hide_password=False), autocommit=True
                ) as connection:
                    await connection.execute(f"LISTEN {_CHANNEL}")
                    self._notify()  # anything missed while not listening
                    async for _ in connection.notifies():
                        self._notify()
            except (psycopg.Error, OSError) as exc:
                logger.warning("not listening for queue changes (polling meanwhile): %s", exc)
                await asyncio.sleep(self.poll_interval_s)

    async def submit(
        self,
        owner: str,
        prompt: str,
        options: ImageOptions,
        *,
        kind: ImageKind = ImageKind.GENERATED,
        sources: Sequence[uuid.UUID] = (),
        estimated_micros: int = 0,
    ) -> GenerationJob:
        """Queue a job, or raise LimitReached if its images would exceed a cost limit.

        `estimated_micros` is what it should cost (micro-dollars), kept with the row.
        """
        now = self._clock()
        job = GenerationJob(
            owner=owner, prompt=prompt, size=options.size, quality=options.quality,
            style=options.style, n=options.n, status=JobStatus.QUEUED, images=options.n,
            created_at=now, worker=self.worker, kind=kind.value, source_ids=join_ids(sources),
            background=options.background, complexity=options.complexity, model=options.model,
            estimated_micros=estimated_micros,
        )  # fmt: skip

        def work(session: Session) -> GenerationJob:
            self._lock_queue(session)  # so the counts and sums below cannot go stale
            job.heartbeat_at = database_now(session)
            # The owner's jobs already waiting or running: the new one's turn, and its cap.
            job.turn = session.exec(
                select(sa.func.count()).where(
                    col(GenerationJob.owner) == owner, col(GenerationJob.status).in_(ACTIVE)
                )
            ).one()
            session.add(job)
            session.flush()
            refusal = image_limit_refusal(
                session, self.limits, owner, now, active=job.turn
            ) or budget_refusal(session, self.budgets, owner, now, job.estimated_micros)
            if refusal is not None:
                session.rollback()
                raise refusal
            self._tell_workers(session)
            session.commit()
            return job

        submitted = await self._run(work)
        self._notify()
        await self._tell_owners([owner])
        return submitted

    def _starts(
        self, session: Session, candidates: set[uuid.UUID]
    ) -> tuple[set[uuid.UUID], dict[uuid.UUID, int]]:
        """Which of `candidates` may start now, and how many jobs are ahead of each.

        One read of the queue, in start order (turn, then submission): a job gets a slot only
        if the slots left over by the jobs before it allow, and its owner is under the
        per-user cap. Jobs of other workers take their slots too, so nobody overtakes them.
        """
        running = dict(
            session.exec(
                select(GenerationJob.owner, sa.func.count())
                .where(col(GenerationJob.status) == JobStatus.RUNNING)
                .group_by(col(GenerationJob.owner))
            ).all()
        )
        queued = session.exec(
            select(GenerationJob.id, GenerationJob.owner)
            .where(col(GenerationJob.status) == JobStatus.QUEUED)
            .order_by(col(GenerationJob.turn), col(GenerationJob.created_at), col(GenerationJob.id))
        ).all()
        free = self.limits.max_concurrent - sum(running.values())
        starts: set[uuid.UUID] = set()
        ahead: dict[uuid.UUID, int] = {}
        for index, (job_id, owner) in enumerate(queued):
            if job_id in candidates:
                ahead[job_id] = index
            if free > 0 and running.get(owner, 0) < self.limits.max_running_per_owner:
                free -= 1
                running[owner] = running.get(owner, 0) + 1
                if job_id in candidates:
                    starts.add(job_id)
        return starts, ahead

    def _start(self, session: Session, job_ids: set[uuid.UUID], now: datetime) -> set[str]:
        """Start these waiting jobs; the owners of those that started."""
        started = session.exec(
            sa.update(GenerationJob)
            .where(
                col(GenerationJob.id).in_(job_ids), col(GenerationJob.status) == JobStatus.QUEUED
            )
            .values(status=JobStatus.RUNNING, started_at=now, heartbeat_at=now, worker=self.worker)
            .returning(col(GenerationJob.owner))
        )
        return set(started.scalars())

    async def try_start(self, job: GenerationJob) -> Turn:
        """Start the job now if its turn has come (see `_starts`); else say where it stands."""

        def work(session: Session) -> Turn:
            self._lock_queue(session)
            status = session.exec(
                select(GenerationJob.status).where(col(GenerationJob.id) == job.id)
            ).one()
            if status != JobStatus.QUEUED:
                session.commit()
                return Turn(started=False, status=status)
            starts, ahead = self._starts(session, {job.id})
            if starts:
                self._start(session, starts, database_now(session))
            session.commit()
            if starts:
                return Turn(started=True, status=JobStatus.RUNNING)
            return Turn(started=False, status=status, ahead=ahead.get(job.id, 0))

        turn = await self._run(work)
        if turn.started:
            await self._tell_owners([job.owner])
        return turn

    async def wait_turn(self, job: GenerationJob, on_wait: Callable[[int], None]) -> None:
        """Return once the job is running; raise JobCancelled if it ended while waiting.

        `on_wait(ahead)` is called whenever the number of jobs ahead changes. This worker's
        dispatcher decides for all its waiting jobs at once, when woken (a job submitted or
        ended here, or elsewhere when the database tells) and otherwise every
        `poll_interval_s`; it also keeps their heartbeat.
        """
        turn = await self.try_start(job)  # a free slot now: no need to wait for a pass
        if turn.started:
            return
        if turn.status != JobStatus.QUEUED:
            raise JobCancelled(turn.status)
        on_wait(turn.ahead)
        waiter = _Waiter(asyncio.get_running_loop().create_future(), on_wait, turn.ahead)
        self._waiting[job.id] = waiter
        self._ensure_dispatcher()
        self._notify()
        try:
            await waiter.started
        finally:
            self._waiting.pop(job.id, None)

    def track(self, job_id: uuid.UUID, on_ended: Callable[[JobStatus], None]) -> Callable[[], None]:
        """Keep a job's heartbeat while it lives here; `on_ended(status)` if it ends elsewhere.

        Returns the function that stops tracking it.
        """
        self._tracked[job_id] = on_ended
        self._ensure_dispatcher()
        return lambda: self._tracked.pop(job_id, None)

    def _ensure_dispatcher(self) -> None:
        if self._dispatcher is None or self._dispatcher.done():
            self._dispatcher = asyncio.create_task(self._dispatch())
        if self._engine.dialect.name == "postgresql" and (
            self._listener is None or self._listener.done()
        ):
            self._listener = asyncio.create_task(self._listen())

    async def _dispatch(self) -> None:
        """One loop per worker: heartbeats, and starts for every job waiting here."""
        loop = asyncio.get_running_loop()
        next_beat = 0.0
        while self._waiting or self._tracked:
            timeout = max(0.0, min(next_beat - loop.time(), self.poll_interval_s))
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout)
            self._wake.clear()
            beat = loop.time() >= next_beat
            if beat:
                next_beat = loop.time() + self.heartbeat_s
            try:
                await self._pass(beat=beat)
            except Exception as exc:  # the dispatcher must outlive any one pass
                if isinstance(exc, QueueUnavailable):
                    logger.warning("the job queue could not be read: %s", exc)
                else:
                    logger.exception("a dispatcher pass failed")
                    exc = QueueUnavailable(f"the job queue failed: {exc.__class__.__name__}")
                for waiter in list(self._waiting.values()):
                    if not waiter.started.done():
                        waiter.started.set_exception(exc)

    async def _pass(self, *, beat: bool) -> None:
        """Heartbeat this worker's jobs, start the waiting ones whose turn came, tell the rest."""
        waiting = set(self._waiting)
        local = waiting | set(self._tracked)
        if not local:
            return

        def work(session: Session) -> tuple[dict, set, dict, set[str]]:
            self._lock_queue(session)
            now = database_now(session)
            statuses = _beat(session, local, now if beat else None)
            queued = {job_id for job_id in waiting if statuses.get(job_id) == JobStatus.QUEUED}
            starts, ahead = self._starts(session, queued) if queued else (set(), {})
            owners = self._start(session, starts, now) if starts else set()
            session.commit()
            return statuses, starts, ahead, owners

        statuses, starts, ahead, owners = await self._run(work)
        self.passes += 1
        await self._tell_owners(owners)
        for job_id in local:
            status = statuses.get(job_id)
            # Only waiters this pass decided for: one that came during it waits for the next.
            waiter = self._waiting.get(job_id) if job_id in waiting else None
            if waiter is not None and not waiter.started.done():
                if job_id in starts:
                    waiter.started.set_result(None)
                elif status != JobStatus.QUEUED:
                    waiter.started.set_exception(JobCancelled(status))
                elif ahead.get(job_id) != waiter.ahead:
                    waiter.ahead = ahead.get(job_id, 0)
                    waiter.on_wait(waiter.ahead)
            elif status not in ACTIVE and job_id in self._tracked:
                self._tracked.pop(job_id)(status)

    async def heartbeat(self, job_ids: Iterable[uuid.UUID]) -> dict[uuid.UUID, JobStatus]:
        """Mark the jobs alive; returns each one's status (a job cancelled elsewhere shows it)."""
        ids = list(job_ids)

        def work(session: Session) -> dict[uuid.UUID, JobStatus]:
            statuses = _beat(session, ids, database_now(session))
            session.commit()
            return statuses

        return await self._run(work)

    async def finish(
        self,
        job_id: uuid.UUID,
        status: JobStatus,
        image_ids: Iterable[uuid.UUID] = (),
        error: str | None = None,
        *,
        provider_seconds: float | None = None,
        seen: bool = True,
        usage: str | None = None,
        cost_micros: int | None = None,
    ) -> bool:
        """End a job that is still active; False if it had already ended (e.g. cancelled).

        `usage` is what the provider said the call used (`ProviderUsage.to_json`), and
        `cost_micros` what it cost; without a cost, the estimate if the call had started.
        """
        kept = [str(image_id) for image_id in image_ids]
        provider_ms = None if provider_seconds is None else round(provider_seconds * 1000)
        # `images` stays what was requested once the provider call was made (it is paid for,
        # however many images were kept); a job that never started gives it back.
        values = {
            "status": status, "image_ids": " ".join(kept), "images": _REFUND_IF_QUEUED,
            "error": error, "finished_at": self._clock(), "seen": seen,
            "provider_ms": provider_ms, "usage": usage,
            "cost_micros": _COST_IF_ENDED if cost_micros is None else cost_micros,
        }  # fmt: skip
        # The worker recording the end stops watching for an end elsewhere first, or its
        # heartbeat could read this end and stop the work that is still telling it.
        self._tracked.pop(job_id, None)
        return await self._end(job_id, values)

    async def _end(self, job_id: uuid.UUID, values: dict, owner: str | None = None) -> bool:
        """Give an active job (of `owner`, if given) its final values; False if it had ended."""
        conditions = [col(GenerationJob.id) == job_id, col(GenerationJob.status).in_(ACTIVE)]
        if owner is not None:
            conditions.append(col(GenerationJob.owner) == owner)

        def work(session: Session) -> list[str]:
            result = session.exec(
                sa.update(GenerationJob)
                .where(*conditions)
                .values(**values)
                .returning(col(GenerationJob.owner))
            )
            owners = list(result.scalars())
            self._tell_workers(session)
            session.commit()
            return owners

        owners = await self._run(work)
        self._notify()
        await self._tell_owners(owners)
        return len(owners) == 1

    async def cancel(self, job_id: uuid.UUID, owner: str) -> bool:
        """Mark the owner's job cancelled if it has not ended; False if it had.

        Whoever runs the job stops on seeing it (`JobRunner`), and keeps nothing.
        """
        # A job cancelled while waiting spent nothing; one whose provider call had started
        # keeps counting its images, or cancelling would refund what was paid.
        values = {
            "status": JobStatus.CANCELLED, "finished_at": self._clock(),
            "error": "Cancelled.", "seen": True, "images": _REFUND_IF_QUEUED,
            "cost_micros": _COST_IF_ENDED,
        }  # fmt: skip
        return await self._end(job_id, values, owner=owner)

    async def fail_abandoned(
        self,
        stale_after: timedelta,
        on_running: Callable[[list[tuple[uuid.UUID, int, datetime]]], Awaitable[None]]
        | None = None,
    ) -> int:
        """End active jobs whose worker is gone; returns how many.

        A job ends succeeded with the images its worker indexed before it died (they are in
        the gallery), else failed. `on_running` hears (id, images, started) of those that had
        called the provider, whose worker may have stored an image and died before indexing it.

        A job is abandoned when its heartbeat is older than `stale_after`, or at once when its
        worker ran on this host under a process that no longer exists (or is this one, restarted).
        """
        host = socket.gethostname()

        def is_dead_here(worker: str | None) -> bool:
            if not worker or worker == self.worker:
                return False
            worker_host, _, rest = worker.partition(":")
            pid_text = rest.partition(":")[0]
            if worker_host != host or not pid_text.isdigit():
                return False
            pid = int(pid_text)
            if pid == os.getpid():
                return True  # our pid, another nonce: this process's previous life
            try:
                os.kill(pid, 0)
            except ProcessLookupError:
                return True
            except PermissionError:
                return False
            return False

        running: list[tuple[uuid.UUID, int, datetime]] = []

        def work(session: Session) -> list[str]:
            now = database_now(session)  # the clock heartbeats were written by
            active = session.exec(
                select(GenerationJob).where(col(GenerationJob.status).in_(ACTIVE))
            ).all()
            ended: list[str] = []  # the owner of each job failed
            for job in active:
                stale = job.heartbeat_at is None or now - job.heartbeat_at > stale_after
                if not (stale or is_dead_here(job.worker)):
                    continue
                stored = _indexed_images(session, job) if job.status == JobStatus.RUNNING else []
                if job.status == JobStatus.RUNNING:
                    running.append((job.id, job.n, job.started_at or now))
                # What its worker indexed before dying is in the gallery: then the job
                # succeeded (as the runner would have recorded), with a reason for any image
                # missing.
                missing = len(stored) < job.n
                job.error = ABANDONED_MESSAGES[job.status] if missing else None
                # A job that was running had called the provider: its images were paid for.
                if job.status == JobStatus.QUEUED:
                    job.images = 0
                job.cost_micros = 0 if job.status == JobStatus.QUEUED else job.estimated_micros
                job.image_ids = " ".join(str(image_id) for image_id in stored)
                job.status = JobStatus.SUCCEEDED if stored else JobStatus.FAILED
                job.finished_at, job.seen = now, False
                session.add(job)
                ended.append(job.owner)
            if ended:
                self._tell_workers(session)
            session.commit()
            return ended

        owners = await self._run(work)
        if owners:
            self._notify()
            await self._tell_owners(owners)
        if running and on_running is not None:
            await on_running(running)
        return len(owners)

    async def watch(
        self,
        stale_after: timedelta,
        every_s: float = 15.0,
        on_running: Callable[[list[tuple[uuid.UUID, int, datetime]]], Awaitable[None]]
        | None = None,
    ) -> None:
        """Fail abandoned jobs now and then every `every_s` seconds, until cancelled."""
        while True:
            try:
                ended = await self.fail_abandoned(stale_after, on_running)
            except QueueUnavailable as exc:
                logger.warning("could not check for abandoned jobs: %s", exc)
            else:
                if ended:
                    logger.warning("failed %d job(s) whose worker had gone", ended)
            await asyncio.sleep(every_s)

    async def budgets_left(self, owner: str) -> list[BudgetLeft]:
        """The money budgets that apply to `owner`, with what is spent and reserved in each."""
        if not self.budgets.any:
            return []
        now = self._clock()
        return await self._run(lambda session: budgets_left(session, self.budgets, owner, now))

    async def active(self, owner: str) -> list[GenerationJob]:
        """The owner's queued and running jobs, oldest first."""
        query = (
            select(GenerationJob)
            .where(col(GenerationJob.owner) == owner, col(GenerationJob.status).in_(ACTIVE))
            .order_by(col(GenerationJob.created_at))
        )
        return await self._run(lambda session: list(session.exec(query)))

    async def unseen(self, owner: str) -> list[GenerationJob]:
        """Ended jobs whose outcome the owner has not been told yet, oldest first (20 at most).

        They stay unseen until `mark_seen`: a tab that is told may never show it (its server
        stopping under it), and the next tab to ask must hear it then.
        """
        query = (
            select(GenerationJob)
            .where(
                col(GenerationJob.owner) == owner,
                col(GenerationJob.seen).is_(False),
                col(GenerationJob.status).not_in(ACTIVE),
            )
            .order_by(col(GenerationJob.created_at))
            .limit(20)
        )
        return await self._run(lambda session: list(session.exec(query)))

    async def mark_seen(self, owner: str, job_ids: Iterable[uuid.UUID]) -> None:
        """Record that the owner has been shown these ended jobs (others' ids change nothing)."""
        ids = list(job_ids)
        if not ids:
            return
        statement = (
            sa.update(GenerationJob)
            .where(
                col(GenerationJob.id).in_(ids),
                col(GenerationJob.owner) == owner,
                col(GenerationJob.status).not_in(ACTIVE),
            )
            .values(seen=True)
        )

        def work(session: Session) -> None:
            session.exec(statement)
            session.commit()

        await self._run(work)

    async def ahead(self, job: GenerationJob) -> int:
        """How many waiting jobs start before this one (0 once it runs or has ended)."""
        if job.status != JobStatus.QUEUED:
            return 0
        earlier = sa.or_(
            col(GenerationJob.turn) < job.turn,
            sa.and_(
                col(GenerationJob.turn) == job.turn,
                col(GenerationJob.created_at) < job.created_at,
            ),
        )
        query = select(sa.func.count()).where(
            col(GenerationJob.status) == JobStatus.QUEUED, earlier
        )
        return await self._run(lambda session: session.exec(query).one())

    async def get(self, job_id: uuid.UUID) -> GenerationJob | None:
        """One job by id."""
        return await self._run(lambda session: session.get(GenerationJob, job_id))
