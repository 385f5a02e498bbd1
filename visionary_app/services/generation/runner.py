"""The whole life of a generation job, told as a stream of events.

A job is submitted (a queue row, limits checked), waits for its turn under the caps, calls
the provider, stores and indexes what it made, and ends: succeeded, failed with a reason, or
cancelled with nothing kept. `JobRunner.run` does all of it and yields an event at each step,
so a Reflex state, an HTTP stream or a test only has to show what happened. The queue's one
dispatcher per worker keeps the row alive while the job waits and while it runs, and notices
a cancel made on another worker.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from datetime import datetime

from visionary_app.logs import job_context
from visionary_app.models import GenerationJob, Image, ImageKind, JobStatus, split_ids
from visionary_app.services.gallery.catalog import CatalogError
from visionary_app.services.generation.pipeline import (
    VARIATION_PROMPT,
    GenerationFailed,
    GenerationPipeline,
    InvalidOptions,
    Recipe,
)
from visionary_app.services.generation.providers.base import ImageOptions, ProviderUsage
from visionary_app.services.generation.queue import (
    ABANDONED_MESSAGES,
    ACTIVE,
    JobCancelled,
    JobQueue,
)
from visionary_app.services.kit.metrics import JOBS, LIMIT_REFUSALS, QUEUE_SECONDS, SPEND
from visionary_app.services.limits.image_limits import LimitReached, QueueUnavailable
from visionary_app.services.limits.prices import Pricing, estimate_micros, settle_micros

__all__ = [
    "QUEUE_UNAVAILABLE",
    "Cancelled",
    "Failed",
    "JobEvent",
    "JobRunner",
    "PartialImage",
    "Queued",
    "Running",
    "Stored",
]

logger = logging.getLogger(__name__)

QUEUE_UNAVAILABLE = "The job queue is unavailable (the database did not answer); try again."
UNEXPECTED_FAILURE = "Generation failed unexpectedly. The details are in the server log."
# A job's end that the database could not take is retried this often, for up to ten minutes.
_RECORD_RETRY_S = 1.0
_RECORD_RETRIES = 600


@dataclass(frozen=True)
class Queued:
    """The job waits for a slot; `ahead` queued jobs start before it."""

    job_id: uuid.UUID
    ahead: int


@dataclass(frozen=True)
class Running:
    """The job holds a slot and the provider is working; sent again as time passes.

    `steps` is (done, in all) where the provider counts its steps (ComfyUI).
    """

    job_id: uuid.UUID
    elapsed_s: float
    steps: tuple[int, int] | None = None


@dataclass(frozen=True)
class _Progress:
    """The provider's steps so far; told onwards inside the next Running."""

    done: int
    total: int


@dataclass(frozen=True)
class PartialImage:
    """A preview of image `index` while it forms (streaming providers); never stored."""

    job_id: uuid.UUID
    index: int
    data: bytes
    content_type: str


@dataclass(frozen=True)
class Stored:
    """The job ended with these images stored and indexed (and why any others were not)."""

    job_id: uuid.UUID
    images: list[Image]
    failures: list[str] = field(default_factory=list)
    elapsed_s: float = 0.0


@dataclass(frozen=True)
class Failed:
    """The job ended without an image; `reason` is for the user."""

    job_id: uuid.UUID
    reason: str


@dataclass(frozen=True)
class Cancelled:
    """The job was cancelled (here or elsewhere) and nothing was kept."""

    job_id: uuid.UUID
    started: bool


JobEvent = Queued | Running | PartialImage | Stored | Failed | Cancelled


SOURCE_GONE = "The image it starts from is no longer in the gallery; nothing was made."


def options_of(job: GenerationJob) -> ImageOptions:
    """The options a job was submitted with (a variation is seeded by its job)."""
    seed = job.id.int % 2**31 if job.kind == ImageKind.VARIATION else None
    return ImageOptions(
        size=job.size, quality=job.quality, style=job.style, n=job.n,
        background=job.background, complexity=job.complexity, seed=seed, model=job.model,
    )  # fmt: skip


class JobRunner:
    """Submits jobs and runs each from its turn in the queue to its end."""

    def __init__(
        self,
        queue: JobQueue,
        pipeline: GenerationPipeline,
        *,
        progress_s: float = 1.0,
        pricing: Pricing | None = None,
    ) -> None:
        self.queue = queue
        self.pipeline = pipeline
        self.pricing = pricing or Pricing()
        self.progress_s = progress_s
        self._working: dict[uuid.UUID, asyncio.Task] = {}
        self._recording: set[asyncio.Task] = set()

    async def clean_up_after(self, abandoned: list[tuple[uuid.UUID, int, datetime]]) -> None:
        """Remove what dead workers' jobs stored without indexing (see `fail_abandoned`)."""
        for job_id, images, started_at in abandoned:
            try:
                removed = await self.pipeline.discard_leftovers(job_id, images, started_at)
            except Exception:
                logger.exception("could not look for what job %s left behind", job_id)
                continue
            if removed:
                logger.warning("removed %d unindexed image(s) of abandoned job %s", removed, job_id)

    async def _finish(self, job_id: uuid.UUID, status: JobStatus, **values) -> bool:
        """Record a job's end; during a database outage, keep trying in the background.

        Until its end is recorded a job holds its slot under the caps, so when the database
        comes back the record is written within a second, rather than when the job goes stale.
        Returns True while the outage lasts (the images are kept; only the bookkeeping waits).
        """
        try:
            return await self.queue.finish(job_id, status, **values)
        except QueueUnavailable as exc:
            logger.error("could not record the end of job %s (will retry): %s", job_id, exc)

        async def retry() -> None:
            for _ in range(_RECORD_RETRIES):
                await asyncio.sleep(_RECORD_RETRY_S)
                try:
                    await self.queue.finish(job_id, status, **values)
                except QueueUnavailable:
                    continue
                logger.info("recorded the end of job %s once the database answered", job_id)
                return
            logger.error("gave up recording the end of job %s; the watcher will", job_id)

        task = asyncio.get_running_loop().create_task(retry())
        self._recording.add(task)
        task.add_done_callback(self._recording.discard)
        return True

    async def submit(
        self,
        owner: str,
        raw_prompt: str,
        options: ImageOptions,
        *,
        kind: ImageKind = ImageKind.GENERATED,
        sources: tuple[Image, ...] = (),
    ) -> GenerationJob:
        """Validate and queue a job that makes `kind` from `sources` (already checked visible).

        Raises InvalidPrompt / InvalidOptions (nothing queued), LimitReached or
        QueueUnavailable; each message is fit for the user.
        """
        if kind == ImageKind.VARIATION and not raw_prompt.strip():
            raw_prompt = VARIATION_PROMPT  # an upload has no prompt of its own
        prompt = self.pipeline.validate(raw_prompt, options.model)
        self.pipeline.check_options(options)
        choice = self.pipeline.choice(options)
        if kind == ImageKind.EDITED and not choice.capabilities.edits:
            raise InvalidOptions(f"{choice.model} cannot edit images.")
        if kind != ImageKind.GENERATED and not sources:
            raise InvalidOptions("Choose an image to start from.")
        ids = [source.id for source in sources]
        inputs = len(sources) if choice.capabilities.edits else 0
        estimate = self.estimate(options, prompt, inputs=inputs)
        try:
            return await self.queue.submit(
                owner, prompt, options, kind=kind, sources=ids, estimated_micros=estimate
            )
        except LimitReached:
            LIMIT_REFUSALS.labels("job").inc()
            raise

    def estimate(self, options: ImageOptions, prompt: str = "", *, inputs: int = 0) -> int:
        """What a job with these options should cost (micro-dollars)."""
        choice = self.pipeline.choice(options)
        streams = choice.capabilities.streaming and options.n == 1
        output = getattr(choice.provider, "output", None)  # OpenAI's streaming settings
        partials = getattr(output, "partial_images", 0) if streams else 0
        return estimate_micros(
            self.pricing.price(choice.key), size=options.size, quality=options.quality,
            n=options.n, input_images=inputs, prompt_chars=len(prompt), partial_images=partials,
        )  # fmt: skip

    def _cost(self, job: GenerationJob, usage: ProviderUsage | None, called: bool) -> int:
        """What a job's call cost, told to the spend counter.

        By the usage reported; else its estimate if the call was made, else nothing.
        """
        key = job.model or self.pipeline.models.default.key
        price = self.pricing.price(key)
        settled = settle_micros(price, usage) if usage is not None else 0
        tokens = usage is not None and (
            usage.input_text_tokens or usage.output_image_tokens or usage.input_image_tokens
        )
        token_priced = price.image_out_per_mtok > 0
        if called and (usage is None or (token_priced and not tokens)):
            settled = job.estimated_micros  # the provider said nothing we can price
        provider, _, model = key.partition("/")
        SPEND.labels(provider, model).inc(settled / 1_000_000)
        return settled

    async def cancel(self, job_id: uuid.UUID, owner: str) -> bool:
        """Cancel the owner's job if it has not ended; False if it had (or is not theirs).

        The row changes first, so a worker that runs the job elsewhere sees it on its next
        heartbeat; a job running in this process is stopped at once.
        """
        cancelled = await self.queue.cancel(job_id, owner)
        work = self._working.get(job_id)
        if cancelled and work is not None:
            work.cancel()
        return cancelled

    async def run(
        self, job: GenerationJob, *, mask: bytes | None = None
    ) -> AsyncIterator[JobEvent]:
        """Run a submitted job to its end, yielding what happens; the last event is final.

        `mask` is an edit's mask: it stays in memory with the worker that runs the job.
        """
        updates: asyncio.Queue[JobEvent] = asyncio.Queue()
        work = asyncio.create_task(self._work(job, updates.put_nowait, mask))
        self._working[job.id] = work

        # The queue keeps the row alive, and says if the job ended elsewhere (a cancel on
        # another worker, the watcher): then the work stops. Not when the watcher ended it
        # succeeded with the images already indexed: stopping now would discard those
        # (a cancelled batch keeps nothing); the work ends and reports what the row says.
        def ended_elsewhere(status: JobStatus) -> None:
            if status != JobStatus.SUCCEEDED:
                work.cancel()

        untrack = self.queue.track(job.id, ended_elsewhere)
        running_since: float | None = None
        ticked = 0.0  # when the last Running was told
        steps: tuple[int, int] | None = None
        try:
            while True:
                update = asyncio.ensure_future(updates.get())
                await asyncio.wait(
                    {update, work}, timeout=self.progress_s, return_when="FIRST_COMPLETED"
                )
                if update.done():
                    event = update.result()
                    if isinstance(event, _Progress):
                        steps = (event.done, event.total)
                        if running_since is not None:
                            ticked = time.monotonic()
                            yield Running(job.id, ticked - running_since, steps)
                        continue
                    if isinstance(event, Running):
                        running_since = ticked = time.monotonic()
                    yield event
                else:
                    update.cancel()
                    if work.done():
                        break
                # The running time goes on being told while partial images arrive.
                now = time.monotonic()
                if running_since is not None and now - ticked >= self.progress_s:
                    ticked = now
                    yield Running(job.id, now - running_since, steps)
            while not updates.empty():  # anything said just before the end
                event = updates.get_nowait()
                if not isinstance(event, _Progress):
                    yield event
            yield await self._final(job, work, started=running_since is not None)
        finally:
            untrack()
            self._working.pop(job.id, None)
            if not work.done():  # the listener went away (the server is stopping)
                work.cancel()
                with contextlib.suppress(BaseException):
                    await work
                await self._interrupted(job.id, started=running_since is not None)

    async def _final(self, job: GenerationJob, work: asyncio.Task, started: bool) -> JobEvent:
        if not work.cancelled():
            return work.result()
        # Stopped by a cancel here or by a heartbeat that saw the job end elsewhere.
        return await self._ended_elsewhere(job.id, started=started)

    async def _ended_elsewhere(self, job_id: uuid.UUID, *, started: bool) -> JobEvent:
        """The final event of a job that ended without its work recording the end.

        The row says why: failed or succeeded (the watcher took this worker for gone, and
        kept what it had indexed), cancelled (its owner), or still active, which means nobody
        ended it and its task was stopped (the server is stopping).
        """
        row = await self._row(job_id)
        if row is not None and row.status == JobStatus.SUCCEEDED:
            return await self._stored_by(row)
        if row is not None and row.status == JobStatus.FAILED:
            return Failed(job_id, row.error or UNEXPECTED_FAILURE)
        if row is not None and row.status in ACTIVE:
            return Failed(job_id, await self._interrupted(job_id, started=started))
        return Cancelled(job_id, started=started)

    async def _stored_by(self, row: GenerationJob) -> Stored:
        """A succeeded job's outcome as its row records it."""
        images = []
        for image_id in split_ids(row.image_ids):
            with contextlib.suppress(CatalogError):
                if (image := await self.pipeline.catalog.get(image_id)) is not None:
                    images.append(image)
        elapsed = row.finished_at - row.started_at if row.finished_at and row.started_at else None
        failures = [row.error] if row.error else []
        return Stored(row.id, images, failures, elapsed.total_seconds() if elapsed else 0.0)

    async def _recipe(self, job: GenerationJob, mask: bytes | None) -> Recipe:
        """What the job makes, with its source images as the index has them now."""
        sources = []
        for source_id in split_ids(job.source_ids):
            try:
                source = await self.pipeline.catalog.get(source_id)
            except CatalogError as exc:
                raise GenerationFailed(QUEUE_UNAVAILABLE) from exc
            if source is None:
                raise GenerationFailed(SOURCE_GONE)
            sources.append(source)
        return Recipe(
            ImageKind(job.kind), job.prompt, options_of(job), tuple(sources), mask, job_id=job.id
        )

    async def _work(
        self, job: GenerationJob, emit: Callable[[JobEvent], None], mask: bytes | None = None
    ) -> JobEvent:
        """`_do_work` with every log record of the job tagged with its id and owner."""
        with job_context(job.id.hex, job.owner):
            outcome = await self._do_work(job, emit, mask)
            name = type(outcome).__name__.lower()
            JOBS.labels(name).inc()
            logger.info("job %s ended: %s", job.id.hex, name)
            return outcome

    async def _do_work(
        self, job: GenerationJob, emit: Callable[[JobEvent], None], mask: bytes | None
    ) -> JobEvent:
        """Wait for the turn, generate, record the outcome; returns the final event."""
        try:
            await self.queue.wait_turn(job, lambda ahead: emit(Queued(job.id, ahead)))
        except JobCancelled:
            return await self._ended_elsewhere(job.id, started=False)
        except QueueUnavailable as exc:
            logger.error("job %s could not start: %s", job.id, exc)
            await self._end_quietly(job.id, JobStatus.FAILED, error=QUEUE_UNAVAILABLE)
            return Failed(job.id, QUEUE_UNAVAILABLE)
        emit(Running(job.id, 0.0))
        started = time.monotonic()
        QUEUE_SECONDS.observe(max(0.0, time.time() - job.created_at.timestamp()))

        def partial(index: int, data: bytes, content_type: str) -> None:
            emit(PartialImage(job.id, index, data, content_type))

        def progress(done: int, total: int) -> None:
            emit(_Progress(done, total))

        try:
            recipe = await self._recipe(job, mask)
            batch = await self.pipeline.make(
                recipe, owner=job.owner, on_partial=partial, on_progress=progress
            )
        except GenerationFailed as exc:
            usage = exc.usage.to_json() if exc.usage is not None else None
            cost = self._cost(job, exc.usage, exc.called)
            await self._end_quietly(
                job.id, JobStatus.FAILED, error=str(exc), usage=usage, cost_micros=cost
            )
            return Failed(job.id, str(exc))
        except Exception:
            logger.exception("generation of job %s failed unexpectedly", job.id)
            await self._end_quietly(job.id, JobStatus.FAILED, error=UNEXPECTED_FAILURE)
            return Failed(job.id, UNEXPECTED_FAILURE)
        kept = batch.kept
        failures = sorted({str(failure) for failure in batch.failures})
        error = "; ".join(failures) or None
        status = JobStatus.SUCCEEDED if kept else JobStatus.FAILED
        ended = await self._finish(
            job.id,
            status,
            image_ids=[image.id for image in kept],
            error=error,
            provider_seconds=batch.provider_seconds,
            usage=batch.usage.to_json(),
            cost_micros=self._cost(job, batch.usage, called=True),
        )
        if not ended:
            # Ended elsewhere after the images were made: a cancel keeps nothing; the watcher
            # keeps what it found indexed, and the row is what the owner is told.
            outcome = await self._ended_elsewhere(job.id, started=True)
            recorded = (
                {image.id for image in outcome.images} if isinstance(outcome, Stored) else set()
            )
            unrecorded = [image for image in kept if image.id not in recorded]
            await asyncio.gather(*(self.pipeline.discard(image) for image in unrecorded))
            return outcome
        if not kept:
            return Failed(job.id, error or UNEXPECTED_FAILURE)
        return Stored(job.id, kept, failures, time.monotonic() - started)

    async def _row(self, job_id: uuid.UUID) -> GenerationJob | None:
        try:
            return await self.queue.get(job_id)
        except QueueUnavailable:
            return None

    async def _end_quietly(
        self,
        job_id: uuid.UUID,
        status: JobStatus,
        *,
        error: str,
        seen: bool = True,
        usage: str | None = None,
        cost_micros: int | None = None,
    ) -> None:
        """End the row if it is still active; a database outage is retried, not raised."""
        await self._finish(
            job_id, status, error=error, seen=seen, usage=usage, cost_micros=cost_micros
        )

    async def _interrupted(self, job_id: uuid.UUID, *, started: bool) -> str:
        """Fail a job whose task was stopped under it; its owner is told on their next visit.

        If the database cannot be reached now, the queue's watcher fails it later with the
        same words.
        """
        reason = ABANDONED_MESSAGES[JobStatus.RUNNING if started else JobStatus.QUEUED]
        await self._end_quietly(job_id, JobStatus.FAILED, error=reason, seen=False)
        return reason
