"""The durable job queue: generation jobs as rows, claimed by any worker, limited by cost.

Every submission becomes a `GenerationJob` row before anything is spent. The job belongs to
the queue, not to the page or request that submitted it: every worker's dispatcher claims
waiting jobs as the caps allow (the app-wide cap on concurrent provider calls and each
owner's cap on running jobs), in round-robin order, and runs them; whoever submitted a job
only follows it. Cost limits (images per owner per hour, images per day for the whole app,
money budgets) are checked when the job is submitted, in the same transaction that inserts
it, so concurrent submissions from any number of workers cannot overshoot them.

A running job heartbeats. A job whose worker vanished mid-call goes back to the queue once
(`recover_lost`), and a worker that is stopping hands back what it could not finish; nothing
is ever left "running".
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
import threading
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
    JobMask,
    JobStatus,
    join_ids,
    planned_image_id,
)
from visionary_app.services.access import ANONYMOUS_PREFIX
from visionary_app.services.gallery.live_feed import Change, ChangeKind, LiveFeed
from visionary_app.services.generation.presets import Preset
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
    "RETRY_LOST_MESSAGE",
    "JobQueue",
    "LostCall",
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
RETRY_LOST_MESSAGE = (
    "The server running this job stopped twice while it ran (it was retried once), so it did "
    "not finish. Please generate it again."
)
# What an ending job counts against the limits: nothing if it never started (nothing was
# spent), else what it requested (the provider call was made, whatever came of it).
# A job back in the queue after losing its worker mid-call keeps counting that call.
_REFUND_IF_QUEUED = sa.case(
    (col(GenerationJob.status) == JobStatus.QUEUED, col(GenerationJob.images) - GenerationJob.n),
    else_=col(GenerationJob.images),
)
# The same for money: a job ended before its provider call cost nothing (but any lost call),
# one ended after it costs its estimate (unless the provider said what it used).
_COST_IF_ENDED = sa.case(
    (col(GenerationJob.status) == JobStatus.QUEUED, col(GenerationJob.lost_micros)),
    else_=col(GenerationJob.estimated_micros),
)
# Any constant works: it names the one lock all workers take to submit or start jobs.
_POSTGRES_QUEUE_LOCK = 0x56495349  # "VISI"
# Workers tell each other that the queue changed on this PostgreSQL channel.
_CHANNEL = "visionary_jobs"


@dataclass(frozen=True)
class LostCall:
    """A provider call whose worker vanished: what it may have stored, to clean up."""

    job_id: uuid.UUID
    images: int
    started_at: datetime


def _escape_like(text: str) -> str:
    """`text` matched literally inside a LIKE pattern (escape character: backslash)."""
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _utcnow() -> datetime:
    return datetime.now(UTC)


def worker_name() -> str:
    """`host:pid:nonce` of this process; the nonce tells a restarted process from its past."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


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
class _Place:
    """A waiting job followed on this worker: where it stood when last told."""

    on_place: Callable[[int], None]
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
        on_end: Callable[[Session, uuid.UUID], None] | None = None,
    ) -> None:
        """A queue on `engine` under `limits`, for this worker.

        `feed`, if given, hears of every owner whose jobs were queued, started or ended, so
        their open pages update without asking. `on_end(session, job_id)` runs in the
        transaction that ends each job (webhooks queue their deliveries there).

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
        self._places: dict[uuid.UUID, _Place] = {}
        self._tracked: dict[uuid.UUID, Callable[[JobStatus], None]] = {}
        self._execute: Callable[[GenerationJob], Callable[[JobStatus], None]] | None = None
        self.claiming = False  # whether this worker takes waiting jobs (see `serve`)
        self._wake = asyncio.Event()
        self._dispatcher: asyncio.Task | None = None
        self._listener: asyncio.Task | None = None
        self.passes = 0  # dispatcher passes so far (the idle benchmark reads it)
        self._feed = feed
        self._on_end = on_end
        # On SQLite every queue transaction writes (`_lock_queue`), and SQLite hands its one
        # write lock to a waiting writer only when that writer's backoff sleep (up to 100 ms)
        # ends: a burst of 20 submits left some waiting 0.4 s. This worker's queue
        # transactions queue here instead, each handed the turn the moment the last ends.
        self._sqlite_writes = threading.Lock() if engine.dialect.name == "sqlite" else None

    def _ended(self, session: Session, job_id: uuid.UUID) -> None:
        """What every end of a job does in its transaction: its mask goes, `on_end` runs."""
        session.exec(sa.delete(JobMask).where(col(JobMask.job_id) == job_id))
        if self._on_end is not None:
            session.flush()
            self._on_end(session, job_id)

    async def _tell_owners(self, owners: Iterable[str]) -> None:
        """Tell the owners' open pages, on every worker, that their jobs moved."""
        if self._feed is not None:
            for owner in sorted(set(owners)):
                await self._feed.publish(Change(ChangeKind.JOBS, owner=owner))

    async def _run(self, work: Callable[[Session], T]) -> T:
        def failure(error: str) -> QueueUnavailable:
            return QueueUnavailable(f"the job queue is unavailable: {error}")

        writes = self._sqlite_writes
        if writes is None:
            return await in_session(self._engine, work, failure)

        def in_turn(session: Session) -> T:
            with writes:
                return work(session)

        return await in_session(self._engine, in_turn, failure)

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
        mask: bytes | None = None,
        client: str | None = None,
        board: uuid.UUID | None = None,
        preset: Preset | None = None,
    ) -> GenerationJob:
        """Queue a job, or raise LimitReached if its images would exceed a cost limit.

        `estimated_micros` is what it should cost (micro-dollars), kept with the row; an
        edit's `mask` is kept beside it until the job ends, for whichever worker runs it.
        `client`: the address a visitor without an account submitted from (limited too).
        On a worker that runs jobs, whatever may start now (this job, if its turn has come)
        starts in the same transaction, as a dispatcher pass would start it: a burst of jobs
        that fits the caps does not wait for the dispatcher behind the burst's own writes.
        """
        now = self._clock()
        job = GenerationJob(
            owner=owner, prompt=prompt, size=options.size, quality=options.quality,
            style=options.style, n=options.n, status=JobStatus.QUEUED, images=options.n,
            created_at=now, worker=self.worker, kind=kind.value, source_ids=join_ids(sources),
            background=options.background, complexity=options.complexity, model=options.model,
            estimated_micros=estimated_micros,
            client=client[:64] if client and owner.startswith(ANONYMOUS_PREFIX) else None,
            board_id=board,
            preset=preset.name if preset else None,
            preset_words=preset.words if preset else None,
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
            if mask is not None:
                session.add(JobMask(job_id=job.id, data=mask))
            session.flush()
            refusal = image_limit_refusal(
                session, self.limits, owner, now, active=job.turn, client=job.client
            ) or budget_refusal(session, self.budgets, owner, now, job.estimated_micros)
            if refusal is not None:
                session.rollback()
                raise refusal
            self._tell_workers(session)
            room = self._room()
            starts = self._starts(session, set(), room)[0] if room else []
            claimed = self._claim(session, starts, job.heartbeat_at)
            session.commit()
            return job, claimed

        submitted, claimed = await self._run(work)
        self._start(claimed)
        self._notify()
        await self._tell_owners([owner, *(job.owner for job in claimed)])
        return submitted

    def _starts(
        self, session: Session, followed: set[uuid.UUID], room: int
    ) -> tuple[list[uuid.UUID], dict[uuid.UUID, int], int]:
        """Which waiting jobs may start now (at most `room`), where the followed ones stand.

        One read of the queue, in start order (turn, then submission): a job gets a slot only
        if the slots left over by the jobs before it allow, and its owner is under the
        per-user cap. Returns the jobs to start, how many jobs are ahead of each followed one,
        and how many are waiting. On PostgreSQL a row another transaction holds (a cancel
        being written) is skipped, not waited for.
        """
        running = dict(
            session.exec(
                select(GenerationJob.owner, sa.func.count())
                .where(col(GenerationJob.status) == JobStatus.RUNNING)
                .group_by(col(GenerationJob.owner))
            ).all()
        )
        waiting = (
            select(GenerationJob.id, GenerationJob.owner)
            .where(col(GenerationJob.status) == JobStatus.QUEUED)
            .order_by(col(GenerationJob.turn), col(GenerationJob.created_at), col(GenerationJob.id))
        )
        if self._engine.dialect.name == "postgresql":
            waiting = waiting.with_for_update(skip_locked=True)
        queued = session.exec(waiting).all()
        free = self.limits.max_concurrent - sum(running.values())
        starts: list[uuid.UUID] = []
        ahead: dict[uuid.UUID, int] = {}
        for index, (job_id, owner) in enumerate(queued):
            if job_id in followed:
                ahead[job_id] = index
            if free > 0 and running.get(owner, 0) < self.limits.max_running_per_owner:
                free -= 1
                running[owner] = running.get(owner, 0) + 1
                if len(starts) < room:
                    starts.append(job_id)
        return starts, ahead, len(queued)

    def _claim(
        self, session: Session, job_ids: list[uuid.UUID], now: datetime
    ) -> list[GenerationJob]:
        """Start these waiting jobs on this worker; the rows of those that started."""
        if not job_ids:
            return []
        started = session.exec(
            sa.update(GenerationJob)
            .where(
                col(GenerationJob.id).in_(job_ids), col(GenerationJob.status) == JobStatus.QUEUED
            )
            .values(status=JobStatus.RUNNING, started_at=now, heartbeat_at=now, worker=self.worker)
            .returning(col(GenerationJob.id))
        )
        ids = set(started.scalars())
        rows = session.exec(select(GenerationJob).where(col(GenerationJob.id).in_(ids))).all()
        return sorted(rows, key=lambda row: job_ids.index(row.id))

    async def claim(self, room: int) -> list[GenerationJob]:
        """Start up to `room` waiting jobs whose turn has come, on this worker; their rows.

        The jobs are this worker's to run from now on (`track` keeps them alive).
        """

        def work(session: Session) -> list[GenerationJob]:
            self._lock_queue(session)
            starts, _, _ = self._starts(session, set(), room)
            claimed = self._claim(session, starts, database_now(session))
            session.commit()
            return claimed

        claimed = await self._run(work)
        await self._tell_owners(job.owner for job in claimed)
        return claimed

    def serve(self, execute: Callable[[GenerationJob], Callable[[JobStatus], None]]) -> None:
        """Run waiting jobs on this worker from now on, as their turn comes.

        `execute(job)` starts one claimed job and returns what to call if it ends elsewhere
        (a cancel on another worker): the dispatcher keeps the job's heartbeat until `finish`.
        """
        self._execute = execute
        self.claiming = True
        self._ensure_dispatcher()
        self._notify()

    def stop_claiming(self) -> None:
        """Take no more jobs (the worker is draining); running ones go on being watched."""
        self.claiming = False

    def follow_place(
        self, job_id: uuid.UUID, on_place: Callable[[int], None]
    ) -> Callable[[], None]:
        """Call `on_place(ahead)` whenever the number of jobs ahead of a waiting job changes.

        Returns the function that stops following it.
        """
        self._places[job_id] = _Place(on_place)
        self._ensure_dispatcher()
        self._notify()
        return lambda: self._places.pop(job_id, None)

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

    async def close(self) -> None:
        """Stop the dispatcher and the listener (the worker is going away)."""
        self.claiming = False
        for task in (self._dispatcher, self._listener):
            if task is not None:
                task.cancel()
                with contextlib.suppress(BaseException):
                    await task
        self._dispatcher = self._listener = None

    async def _dispatch(self) -> None:
        """One loop per worker: heartbeats, claims, and the places of followed jobs.

        It sleeps until woken (a job submitted or ended here, or anywhere when PostgreSQL
        tells), beating while jobs run here and looking again every `poll_interval_s` while
        jobs wait; with nothing running or waiting it asks the database nothing.
        """
        loop = asyncio.get_running_loop()
        next_beat = 0.0
        waiting = 0
        while True:
            timeouts = [max(0.0, next_beat - loop.time())] if self._tracked else []
            if waiting and (self._places or self.claiming):
                timeouts.append(self.poll_interval_s)
            timeout = min(timeouts) if timeouts else None
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(timeout):
                    await self._wake.wait()
            self._wake.clear()
            beat = bool(self._tracked) and loop.time() >= next_beat
            if beat:
                next_beat = loop.time() + self.heartbeat_s
            try:
                waiting = await self._pass(beat=beat)
            except QueueUnavailable as exc:  # the dispatcher must outlive any one pass
                logger.warning("the job queue could not be read: %s", exc)
                waiting = 1  # look again soon
            except Exception:
                logger.exception("a dispatcher pass failed")
                waiting = 1

    async def _pass(self, *, beat: bool) -> int:
        """Heartbeat the jobs running here, claim what may start, tell followed jobs' places.

        Returns how many jobs are waiting.
        """
        tracked = set(self._tracked)
        followed = set(self._places)
        room = self._room()
        if not (tracked or followed or room):
            return 0

        def work(session: Session) -> tuple[dict, list[GenerationJob], dict, int]:
            self._lock_queue(session)
            now = database_now(session)
            statuses = _beat(session, tracked, now if beat else None) if tracked else {}
            # Asked again under the lock: a worker told to stop claiming while this pass
            # waited for it takes nothing submitted after that.
            starts, ahead, waiting = self._starts(session, followed, room if self.claiming else 0)
            claimed = self._claim(session, starts, now)
            session.commit()
            return statuses, claimed, ahead, waiting

        statuses, claimed, ahead, waiting = await self._run(work)
        self.passes += 1
        self._start(claimed)
        await self._tell_owners(job.owner for job in claimed)
        for job_id, status in statuses.items():
            if status not in ACTIVE and job_id in self._tracked:
                self._tracked.pop(job_id)(status)
        for job_id, place in list(self._places.items()):
            if job_id in ahead and ahead[job_id] != place.ahead:
                place.ahead = ahead[job_id]
                place.on_place(place.ahead)
        return waiting

    def _room(self) -> int:
        """How many jobs this worker may claim at once: none unless it runs jobs."""
        return self.limits.max_concurrent if self.claiming and self._execute else 0

    def _start(self, claimed: list[GenerationJob]) -> None:
        """Run jobs this worker has just claimed, keeping them alive until they end."""
        for job in claimed:
            self._tracked[job.id] = self._execute(job)

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
            "cost_micros": _COST_IF_ENDED
            if cost_micros is None
            else cost_micros + col(GenerationJob.lost_micros),
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
            if owners:
                self._ended(session, job_id)
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

    async def recover_lost(
        self,
        stale_after: timedelta,
        *,
        retry: bool = True,
        clean_up: Callable[[list[LostCall]], Awaitable[None]] | None = None,
        given_up: Iterable[uuid.UUID] = (),
    ) -> list[uuid.UUID]:
        """Recover running jobs whose worker is gone; returns their ids.

        A job is lost when its heartbeat is older than `stale_after`, or at once when its
        worker ran on this host under a process that no longer exists (or is this one,
        restarted), or when it is one of this worker's that it has `given_up` (a drain that
        ran out of time). A lost job that had indexed images ends succeeded with them, with a
        reason for any missing. One that had none goes back to the queue, once (`retry`),
        counted against the limits like any call, after `clean_up` has removed whatever its
        worker stored without indexing; a job already retried, or whose retry a limit refuses,
        fails with the reason. Waiting jobs belong to no worker: they are never lost.
        """
        host, given_up = socket.gethostname(), set(given_up)

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

        lost: list[LostCall] = []
        retried: list[uuid.UUID] = []

        def end_lost(session: Session) -> list[str]:
            self._lock_queue(session)
            now = database_now(session)  # the clock heartbeats were written by
            running = session.exec(
                select(GenerationJob).where(col(GenerationJob.status) == JobStatus.RUNNING)
            ).all()
            ended: list[str] = []  # the owner of each job ended
            for job in running:
                stale = job.heartbeat_at is None or now - job.heartbeat_at > stale_after
                mine = job.id in given_up and job.worker == self.worker
                if not (stale or mine or is_dead_here(job.worker)):
                    continue
                lost.append(LostCall(job.id, job.n, job.started_at or now))
                stored = _indexed_images(session, job)
                if not stored and retry and job.retries == 0:
                    # Held by this worker while what the lost call stored is cleaned up.
                    job.worker, job.heartbeat_at = self.worker, now
                    retried.append(job.id)
                    session.add(job)
                    continue
                # What its worker indexed before dying is in the gallery: then the job
                # succeeded (as the runner would have recorded), with a reason for any image
                # missing. Its call was made, so it costs what was reserved.
                missing = len(stored) < job.n
                job.error = ABANDONED_MESSAGES[JobStatus.RUNNING] if missing else None
                if missing and job.retries:
                    job.error = RETRY_LOST_MESSAGE
                job.cost_micros = job.estimated_micros
                job.image_ids = " ".join(str(image_id) for image_id in stored)
                job.status = JobStatus.SUCCEEDED if stored else JobStatus.FAILED
                job.finished_at, job.seen = now, False
                session.add(job)
                self._ended(session, job.id)
                ended.append(job.owner)
            if ended:
                self._tell_workers(session)
            session.commit()
            return ended

        owners = await self._run(end_lost)
        if lost and clean_up is not None:
            await clean_up(lost)
        if retried:
            owners += await self._run(lambda session: self._requeue(session, retried))
        if owners:
            self._notify()
            await self._tell_owners(owners)
        return [call.job_id for call in lost]

    def _requeue(self, session: Session, job_ids: list[uuid.UUID]) -> list[str]:
        """Put lost jobs this worker holds back in the queue, or fail those a limit refuses."""
        self._lock_queue(session)
        now = database_now(session)
        owners = []
        for job_id in job_ids:
            job = session.get(GenerationJob, job_id)
            if job is None or job.status != JobStatus.RUNNING or job.worker != self.worker:
                continue
            owners.append(job.owner)
            # The lost call is paid for: its images and its estimate count from now on.
            call = job.estimated_micros - job.lost_micros
            job.images, job.lost_micros = job.images + job.n, job.lost_micros + call
            job.estimated_micros += call
            session.add(job)
            session.flush()
            refusal = image_limit_refusal(
                session, self.limits, job.owner, now, active=0
            ) or budget_refusal(session, self.budgets, job.owner, now, call)
            if refusal is None:
                job.status, job.worker, job.started_at = JobStatus.QUEUED, None, None
                job.retries += 1
            else:  # the retry is not made: only the lost call counts
                job.images, job.estimated_micros = job.images - job.n, job.estimated_micros - call
                job.cost_micros, job.lost_micros = job.estimated_micros, job.lost_micros - call
                reason = str(refusal).removeprefix("Not generated: ")
                job.error = f"{ABANDONED_MESSAGES[JobStatus.RUNNING]} It was not retried: {reason}"
                job.status, job.finished_at, job.seen = JobStatus.FAILED, now, False
                self._ended(session, job.id)
            job.heartbeat_at = now
            session.add(job)
        self._tell_workers(session)
        session.commit()
        return owners

    async def mask(self, job_id: uuid.UUID) -> bytes | None:
        """An edit job's mask, if it has one."""
        return await self._run(
            lambda session: session.exec(
                select(JobMask.data).where(col(JobMask.job_id) == job_id)
            ).first()
        )

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

    async def recent_prompts(self, owner: str, search: str = "", limit: int = 30) -> list[str]:
        """The owner's earlier prompts, each once, most recently used first.

        `search` keeps those that contain it (any case; `%` and `_` are plain characters).
        Variations, which have no prompt of their own, are left out.
        """
        query = select(GenerationJob.prompt).where(
            col(GenerationJob.owner) == owner,
            col(GenerationJob.kind) != ImageKind.VARIATION.value,
        )
        if search.strip():
            pattern = "%" + _escape_like(search.strip().lower()[:200]) + "%"
            query = query.where(sa.func.lower(GenerationJob.prompt).like(pattern, escape="\\"))
        query = (
            query.group_by(col(GenerationJob.prompt))
            .order_by(sa.func.max(GenerationJob.created_at).desc())
            .limit(limit)
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
