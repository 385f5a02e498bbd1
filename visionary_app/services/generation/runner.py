"""The whole life of a generation job, told as a stream of events.

A job is submitted (a queue row, limits checked) and then belongs to the queue: whichever
worker's dispatcher claims it calls the provider, stores and indexes what it made, and ends
it: succeeded, failed with a reason, or cancelled with nothing kept (`JobRunner.serve`).
Whoever submitted it only follows it (`JobRunner.follow`), on any worker: where it waits,
that it runs, the provider's steps and partial images (news from the worker that runs it,
`job_events.py`), and its outcome as the row records it. So a Reflex state, an HTTP stream
or a test only has to show what happened, and a job outlives the page and the worker.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import uuid
from collections.abc import AsyncIterator, Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from visionary_app.logs import job_context
from visionary_app.models import GenerationJob, Image, ImageKind, JobStatus, split_ids
from visionary_app.services.gallery.boards import Boards
from visionary_app.services.gallery.catalog import CatalogError
from visionary_app.services.generation.job_events import JobEvents, JobNews, NewsKind
from visionary_app.services.generation.pipeline import (
    VARIATION_PROMPT,
    GenerationFailed,
    GenerationPipeline,
    InvalidOptions,
    Recipe,
)
from visionary_app.services.generation.presets import Preset, styled
from visionary_app.services.generation.providers.base import ImageOptions, ProviderUsage
from visionary_app.services.generation.queue import ACTIVE, JobQueue, LostCall
from visionary_app.services.kit.metrics import JOBS, LIMIT_REFUSALS, QUEUE_SECONDS, SPEND
from visionary_app.services.limits.image_limits import LimitReached, QueueUnavailable
from visionary_app.services.limits.prices import Pricing, estimate_micros, settle_micros

__all__ = [
    "FINAL_EVENTS",
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
FINAL_EVENTS = (Stored, Failed, Cancelled)


SOURCE_GONE = "The image it starts from is no longer in the gallery; nothing was made."


def _utcnow() -> datetime:
    return datetime.now(UTC)


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
        check_s: float = 5.0,
        pricing: Pricing | None = None,
        events: JobEvents | None = None,
        retry_lost: bool = True,
        boards: Boards | None = None,
    ) -> None:
        """A runner of `queue`'s jobs through `pipeline`, telling followers through `events`.

        `progress_s`: how often a follower is told the running time; `check_s`: how often
        it reads the row anyway, in case news was lost. `retry_lost`: whether a job whose
        worker vanished mid-call runs once more (`JobQueue.recover_lost`).
        """
        self.queue = queue
        self.pipeline = pipeline
        self.pricing = pricing or Pricing()
        self.events = events or JobEvents()
        self.progress_s = progress_s
        self.check_s = check_s
        self.retry_lost = retry_lost
        self.boards = boards
        self._working: dict[uuid.UUID, asyncio.Task] = {}
        self._recording: set[asyncio.Task] = set()
        self._serving = False
        self._drained = False

    async def clean_up_after(self, lost: list[LostCall]) -> None:
        """Remove what lost calls stored without indexing (see `JobQueue.recover_lost`)."""
        for call in lost:
            try:
                removed = await self.pipeline.discard_leftovers(
                    call.job_id, call.images, call.started_at
                )
            except Exception:
                logger.exception("could not look for what job %s left behind", call.job_id)
                continue
            if removed:
                logger.warning("removed %d unindexed image(s) of lost job %s", removed, call.job_id)

    async def recover_lost(self, stale_after: timedelta, given_up: Iterable[uuid.UUID] = ()) -> int:
        """Retry or end jobs whose worker vanished (or this one gave up); how many.

        What their calls stored without indexing is cleaned up, and their followers, on
        any worker, read their rows at once.
        """
        recovered = await self.queue.recover_lost(
            stale_after, retry=self.retry_lost, clean_up=self.clean_up_after, given_up=given_up
        )
        for job_id in recovered:
            self.events.tell(JobNews(NewsKind.ENDED, job_id.hex))
        return len(recovered)

    async def watch(self, stale_after: timedelta, every_s: float = 15.0) -> None:
        """Recover lost jobs now and then every `every_s` seconds, until cancelled."""
        while True:
            try:
                recovered = await self.recover_lost(stale_after)
            except QueueUnavailable as exc:
                logger.warning("could not check for lost jobs: %s", exc)
            else:
                if recovered:
                    logger.warning("recovered %d job(s) whose worker had gone", recovered)
            await asyncio.sleep(every_s)

    def serve(self) -> None:
        """Run waiting jobs on this worker as their turn comes (once per process)."""
        if not self._serving:
            self._serving = True
            self.queue.serve(self._execute)

    async def drain(self, within_s: float, stale_after: timedelta) -> int:
        """Stop taking jobs, let running ones finish for up to `within_s`, hand back the rest.

        A job still running then is stopped and goes back to the queue for another worker
        (once, as a lost one would: its call was made); returns how many were handed back.
        Draining twice does nothing the second time.
        """
        if self._drained:
            return 0
        self._drained = True
        self.queue.stop_claiming()
        loop = asyncio.get_running_loop()
        deadline = loop.time() + within_s
        if self._working:
            running = len(self._working)
            logger.warning("draining: waiting up to %.0f s for %d job(s)", within_s, running)
        # Again and again: a pass that was claiming as the drain began may add one.
        while (working := [task for task in self._working.values() if not task.done()]) and (
            wait := deadline - loop.time()
        ) > 0:
            await asyncio.wait(working, timeout=wait)
        left = {job_id: task for job_id, task in self._working.items() if not task.done()}
        for task in left.values():
            task.cancel()
        for task in left.values():
            with contextlib.suppress(BaseException):
                await task
        if left:
            logger.warning("handing back %d job(s) that did not finish in time", len(left))
            await self.recover_lost(stale_after, given_up=left)
        await asyncio.gather(*self._recording, return_exceptions=True)
        await self.queue.close()
        return len(left)

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
        mask: bytes | None = None,
        client: str | None = None,
        board: uuid.UUID | None = None,
        preset: Preset | None = None,
    ) -> GenerationJob:
        """Validate and queue a job that makes `kind` from `sources` (already checked visible).

        An edit's `mask` (PNG) waits with the job for whichever worker runs it; `client` is
        the address a visitor without an account submits from; its images join `board`
        (one the owner may change, checked by the caller), and `preset`'s words go to the
        provider after the prompt. Raises
        InvalidPrompt / InvalidOptions (nothing queued), LimitReached or QueueUnavailable;
        each message is fit for the user.
        """
        if kind == ImageKind.VARIATION and not raw_prompt.strip():
            raw_prompt = VARIATION_PROMPT  # an upload has no prompt of its own
        prompt = self.pipeline.validate(raw_prompt, options.model)
        self.pipeline.validate(styled(prompt, preset), options.model)  # what the provider gets
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
            job = await self.queue.submit(
                owner, prompt, options, kind=kind, sources=ids, estimated_micros=estimate,
                mask=mask, client=client, board=board, preset=preset,
            )  # fmt: skip
        except LimitReached:
            LIMIT_REFUSALS.labels("job").inc()
            raise
        self.serve()
        return job

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
            # The provider said nothing we can price: this call's estimate (any lost call
            # before it is added when the end is recorded).
            settled = job.estimated_micros - job.lost_micros
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
        elif cancelled:  # its followers, wherever they are, read the row now
            self.events.tell(JobNews(NewsKind.ENDED, job_id.hex))
        return cancelled

    def _execute(self, job: GenerationJob) -> Callable[[JobStatus], None]:
        """Run a job this worker claimed; returns what stops it if it ends elsewhere.

        A cancel on another worker, or the watcher taking this worker for gone, ends the row;
        the work then stops. Not when the watcher ended it succeeded with the images already
        indexed: stopping now would discard those (a cancelled batch keeps nothing).
        """
        work = asyncio.get_running_loop().create_task(self._execute_to_end(job))
        self._working[job.id] = work
        work.add_done_callback(lambda _: self._working.pop(job.id, None))

        def ended_elsewhere(status: JobStatus) -> None:
            if status != JobStatus.SUCCEEDED:
                work.cancel()

        return ended_elsewhere

    async def _execute_to_end(self, job: GenerationJob) -> None:
        def emit(event: _Progress | PartialImage) -> None:
            if isinstance(event, PartialImage):
                self.events.tell(
                    JobNews.partial(job.id, event.index, event.data, event.content_type)
                )
            else:
                self.events.tell(JobNews(NewsKind.STEPS, job.id.hex, event.done, event.total))

        try:
            mask = await self.queue.mask(job.id) if job.kind == ImageKind.EDITED else None
            self.events.tell(JobNews(NewsKind.STARTED, job.id.hex))
            outcome = await self._work(job, emit, mask)
        except QueueUnavailable as exc:
            logger.error("job %s could not read its mask: %s", job.id, exc)
            await self._end_quietly(job.id, JobStatus.FAILED, error=QUEUE_UNAVAILABLE, seen=False)
            outcome = Failed(job.id, QUEUE_UNAVAILABLE)
        except BaseException:
            # Followers read the row: cancelled, or back in the queue (a drain gave it up).
            self.events.tell(JobNews(NewsKind.ENDED, job.id.hex))
            raise
        # A failure is told with its reason, so followers hear it even when the index is
        # down (that may be why it failed); any other end is read from the row.
        reason = outcome.reason if isinstance(outcome, Failed) else ""
        self.events.tell(JobNews(NewsKind.ENDED, job.id.hex, reason=reason))

    async def follow(self, job: GenerationJob) -> AsyncIterator[JobEvent]:
        """Follow a submitted job from where it is to its end, wherever it runs.

        Yields Queued whenever its place changes, Running as time passes (with the
        provider's steps), PartialImage while an image forms, and last one final event as
        the row records it: Stored, Failed or Cancelled. Leaving early changes nothing for
        the job. A job that went back to the queue (its worker vanished) is followed on.
        """
        self.serve()
        inbox = self.events.subscribe(job.id)

        def told_place(ahead: int) -> None:
            inbox.put_nowait(JobNews(NewsKind.PLACE, job.id.hex, ahead=ahead))

        unplace = self.queue.follow_place(job.id, told_place)
        try:
            async for event in self._follow(job, inbox):
                yield event
        finally:
            unplace()
            self.events.unsubscribe(job.id, inbox)

    async def _follow(self, job: GenerationJob, inbox: asyncio.Queue[JobNews]):
        row = await self._row(job.id) or job  # read after subscribing: nothing falls between
        place = -1  # where it waits, as last told
        since: float | None = None  # when it started running, on this clock
        steps: tuple[int, int] | None = None
        checked = ticked = time.monotonic()  # the row last read; Running last told
        while row.status in ACTIVE:
            now = time.monotonic()
            if row.status == JobStatus.RUNNING and since is None:
                elapsed = (_utcnow() - row.started_at).total_seconds() if row.started_at else 0
                since, ticked = now - max(0.0, elapsed), now
                yield Running(job.id, now - since, steps)
            elif row.status == JobStatus.QUEUED and place < 0:
                since, place = None, await self._ahead(row)
                yield Queued(job.id, place)
            wait = self.progress_s - (now - ticked) if since is not None else self.check_s
            news = None
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(max(0.0, wait)):
                    news = await inbox.get()
            now = time.monotonic()
            if news is not None and news.kind == NewsKind.ENDED and news.reason:
                yield Failed(job.id, news.reason)  # told by its worker: no need of the index
                return
            if news is None or news.kind in (NewsKind.ENDED, NewsKind.RESYNC):
                if news is not None or now - checked >= self.check_s:
                    checked, row = now, await self._row(job.id) or row
                    if row.status == JobStatus.QUEUED and since is not None:
                        place = -1  # back in the queue: its worker stopped mid-call
            elif news.kind == NewsKind.STARTED:
                row = await self._row(job.id) or row
                if row.status == JobStatus.RUNNING:
                    since, steps, ticked = now, None, now
                    yield Running(job.id, 0.0)
            elif news.kind == NewsKind.PLACE and since is None and news.ahead != place:
                place = news.ahead
                yield Queued(job.id, place)
            elif news.kind == NewsKind.STEPS and since is not None:
                steps, ticked = (news.done, news.total), now
                yield Running(job.id, now - since, steps)
            elif news.kind == NewsKind.PARTIAL:
                yield PartialImage(job.id, news.index, news.image(), news.content_type)
            # The running time goes on being told, however much other news arrives.
            if since is not None and row.status == JobStatus.RUNNING:
                if now - ticked >= self.progress_s:
                    ticked = now
                    yield Running(job.id, now - since, steps)
        yield await self._outcome(row)

    async def _ahead(self, row: GenerationJob) -> int:
        try:
            return await self.queue.ahead(row)
        except QueueUnavailable:
            return 0

    async def _outcome(self, row: GenerationJob) -> JobEvent:
        """The final event of an ended job, as its row records it."""
        if row.status == JobStatus.SUCCEEDED:
            return await self._stored_by(row)
        if row.status == JobStatus.FAILED:
            return Failed(row.id, row.error or UNEXPECTED_FAILURE)
        return Cancelled(row.id, started=row.started_at is not None)

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
        preset = Preset(job.preset, job.preset_words or "") if job.preset else None
        return Recipe(
            ImageKind(job.kind), job.prompt, options_of(job), tuple(sources), mask, job_id=job.id,
            preset=preset,
        )  # fmt: skip

    async def _work(
        self,
        job: GenerationJob,
        emit: Callable[[_Progress | PartialImage], None],
        mask: bytes | None,
    ) -> JobEvent:
        """`_do_work` with every log record of the job tagged with its id and owner."""
        with job_context(job.id.hex, job.owner):
            outcome = await self._do_work(job, emit, mask)
            name = type(outcome).__name__.lower()
            JOBS.labels(name).inc()
            logger.info("job %s ended: %s", job.id.hex, name)
            return outcome

    async def _do_work(
        self,
        job: GenerationJob,
        emit: Callable[[_Progress | PartialImage], None],
        mask: bytes | None,
    ) -> JobEvent:
        """Generate, store, record the outcome of a claimed job; returns the final event.

        A failure is recorded unseen: the owner's tab is told by the follower that shows it
        (or on their next visit if none did).
        """
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
            seen=bool(kept),
        )
        if not ended:
            # Ended elsewhere after the images were made: a cancel keeps nothing; the watcher
            # keeps what it found indexed, and the row is what the owner is told.
            row = await self._row(job.id)
            outcome = await self._outcome(row) if row is not None else Cancelled(job.id, True)
            recorded = (
                {image.id for image in outcome.images} if isinstance(outcome, Stored) else set()
            )
            unrecorded = [image for image in kept if image.id not in recorded]
            await asyncio.gather(*(self.pipeline.discard(image) for image in unrecorded))
            return outcome
        if not kept:
            return Failed(job.id, error or UNEXPECTED_FAILURE)
        if job.board_id is not None and self.boards is not None:
            await self._join_board(job.board_id, kept)
        return Stored(job.id, kept, failures, time.monotonic() - started)

    async def _join_board(self, board_id: uuid.UUID, images: list[Image]) -> None:
        """Put a job's images into its board; the images stay whatever happens to that."""
        try:
            change = await self.boards.join(board_id, images)
        except CatalogError as exc:
            logger.error("the images could not join board %s: %s", board_id, exc)
            return
        if change.failed or change.refused:
            logger.warning(
                "%d of %d image(s) did not join board %s",
                change.failed + change.refused,
                len(images),
                board_id,
            )

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
        seen: bool = False,
        usage: str | None = None,
        cost_micros: int | None = None,
    ) -> None:
        """End the row if it is still active; a database outage is retried, not raised."""
        await self._finish(
            job_id, status, error=error, seen=seen, usage=usage, cost_micros=cost_micros
        )
