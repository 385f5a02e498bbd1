"""Generation state: the prompt being typed and this visitor's jobs, queued or running."""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import time
import uuid
from dataclasses import dataclass
from typing import Any

import reflex as rx

from visionary_app.models import GenerationJob, Image, JobStatus
from visionary_app.services.generation import GenerationFailed
from visionary_app.services.jobs import JobCancelled, LimitReached, QueueUnavailable
from visionary_app.services.studio import get_studio
from visionary_app.state.gallery import GalleryState, sign_tile
from visionary_app.state.options import OptionsState
from visionary_app.state.visitor import VisitorState

logger = logging.getLogger(__name__)

# Each tick is a state update pushed to the page; once a second keeps many jobs cheap.
_PROGRESS_INTERVAL_S = 1.0
_HEARTBEAT_INTERVAL_S = 2.0
_TOAST_PROMPT_CHARS = 60
_QUEUE_UNAVAILABLE = "The job queue is unavailable (the database did not answer); try again."


@dataclass
class JobCard:
    """One image on its way, shown as a placeholder card in the gallery."""

    id: str
    job_id: str
    prompt: str
    status: str = "queued"
    detail: str = "Waiting for a free slot…"
    cancelling: bool = False


def _short(prompt: str) -> str:
    one_line = " ".join(prompt.split())
    if len(one_line) <= _TOAST_PROMPT_CHARS:
        return one_line
    return one_line[: _TOAST_PROMPT_CHARS - 1] + "…"


def _cancelled_toast(prompt: str):
    return rx.toast.info(f"Cancelled: nothing was stored for “{_short(prompt)}”.")


def _waiting_detail(ahead: int) -> str:
    if ahead == 0:
        return "Next in line…"
    return f"Queued: {ahead} job{'s' if ahead != 1 else ''} ahead"


def _cards_for(job: GenerationJob) -> list[JobCard]:
    running = job.status == JobStatus.RUNNING.value
    return [
        JobCard(
            id=f"{job.id.hex}-{index}",
            job_id=job.id.hex,
            prompt=job.prompt,
            status=job.status,
            detail="Generating…" if running else "Waiting for a free slot…",
        )
        for index in range(job.n)
    ]


class GenerationState(VisitorState):
    """Prompt input and this visitor's jobs; each submission is its own background event."""

    prompt: str = ""
    jobs: list[JobCard] = []

    @rx.var(cache=True)
    def prompt_limit(self) -> int:
        """Longest prompt accepted, in characters (the setting, or the model's limit)."""
        return get_studio().pipeline.max_prompt_length

    @rx.var(cache=True)
    def is_offline(self) -> bool:
        """Whether the built-in offline provider draws the images."""
        return get_studio().is_offline

    @rx.var
    def prompt_length(self) -> int:
        """Length of the prompt as it would be sent (trimmed)."""
        return len(self.prompt.strip())

    @rx.event
    def set_prompt(self, value: str) -> None:
        """Keep the typed prompt (for the counter and the Generate button)."""
        self.prompt = value

    def _update_cards(self, job_id: str, **changes) -> None:
        self.jobs = [
            dataclasses.replace(card, **changes) if card.job_id == job_id else card
            for card in self.jobs
        ]

    def _drop_cards(self, job_id: str) -> None:
        self.jobs = [card for card in self.jobs if card.job_id != job_id]

    @rx.event(background=True)
    async def generate(self, form_data: dict[str, Any]):
        """Queue the chosen number of images, wait for a slot, generate; the page stays live."""
        studio = get_studio()
        try:
            prompt = studio.pipeline.validate(str(form_data.get("prompt", "")))
        except GenerationFailed as exc:
            yield rx.toast.error(str(exc), id="prompt-invalid")
            return
        async with self:
            options = (await self.get_state(OptionsState)).current()
            owner = self._owner()
        try:
            job = await studio.jobs.submit(owner, prompt, options)
        except LimitReached as exc:
            yield rx.toast.warning(str(exc), duration=15_000, id="limit-reached")
            return
        except QueueUnavailable as exc:
            logger.error("could not queue a job: %s", exc)
            yield rx.toast.error(_QUEUE_UNAVAILABLE, duration=10_000)
            return
        job_id = job.id.hex
        async with self:
            # A timer's sync_jobs may already have shown this job's cards.
            self.jobs = [*_cards_for(job), *(c for c in self.jobs if c.job_id != job_id)]

        async def show_position(ahead: int) -> None:
            async with self:
                self._update_cards(job_id, detail=_waiting_detail(ahead))

        try:
            await studio.jobs.wait_turn(job, show_position)
        except (JobCancelled, QueueUnavailable) as exc:
            async with self:
                self._drop_cards(job_id)
            if isinstance(exc, QueueUnavailable):
                yield rx.toast.error(_QUEUE_UNAVAILABLE, duration=10_000)
            else:
                yield rx.toast.info(f"Cancelled before it started: “{_short(prompt)}”")
            return
        async for toast in self._run(job, prompt, options):
            yield toast

    async def _run(self, job: GenerationJob, prompt: str, options):
        """Generate a started job, keep it alive, and end it with one honest toast."""
        studio, job_id = get_studio(), job.id.hex
        async with self:
            self._update_cards(job_id, status="running", detail="0 s")
        started = time.monotonic()
        task = asyncio.create_task(studio.pipeline.generate_batch(prompt, options))
        last_beat = started
        with studio.jobs.running_here(job.id, task):
            while not task.done():
                await asyncio.wait({task}, timeout=_PROGRESS_INTERVAL_S)
                now = time.monotonic()
                async with self:
                    self._update_cards(job_id, detail=f"{now - started:.0f} s")
                if now - last_beat >= _HEARTBEAT_INTERVAL_S and not task.done():
                    last_beat = now
                    await self._heartbeat(job, task)
        seconds = time.monotonic() - started
        if task.cancelled() or task.exception() is not None:
            async with self:
                self._drop_cards(job_id)
        if task.cancelled():
            yield _cancelled_toast(prompt)
            return
        error = task.exception()
        if error is not None:
            message = str(error) if isinstance(error, GenerationFailed) else None
            if message is None:
                logger.error("generation failed unexpectedly", exc_info=error)
                message = "Generation failed unexpectedly. The details are in the server log."
            await self._finish(job, JobStatus.FAILED, error=message)
            yield rx.toast.error(message, duration=10_000)
            return

        batch = task.result()
        kept = batch.kept
        failures = {str(failure) for failure in batch.failures}
        status = JobStatus.SUCCEEDED if kept else JobStatus.FAILED
        error = "; ".join(sorted(failures)) or None
        ended = await self._finish(job, status, kept, error, batch.provider_seconds)
        if not ended:
            # Cancelled (here or in another tab) after the images were made: keep nothing.
            await asyncio.gather(*(studio.pipeline.discard(image) for image in kept))
            async with self:
                self._drop_cards(job_id)
            yield _cancelled_toast(prompt)
            return
        signed = [await sign_tile(image) for image in kept]
        async with self:  # the cards give way to the tiles in one update
            self._drop_cards(job_id)
            gallery = await self.get_state(GalleryState)
            for tile in reversed(signed):
                gallery._show_new(tile)
        for message in failures:
            yield rx.toast.error(message, duration=10_000)
        if kept:
            what = "Image ready" if len(kept) == 1 else f"{len(kept)} images ready"
            yield rx.toast.success(f"{what} in {seconds:.1f} s: “{_short(prompt)}”")

    async def _heartbeat(self, job: GenerationJob, task: asyncio.Task) -> None:
        """Tell the queue the job is alive; stop it if it was cancelled from another worker."""
        try:
            statuses = await get_studio().jobs.heartbeat([job.id])
        except QueueUnavailable as exc:
            logger.warning("job heartbeat failed: %s", exc)
            return
        if statuses.get(job.id) != JobStatus.RUNNING.value:
            task.cancel()

    async def _finish(
        self,
        job: GenerationJob,
        status: JobStatus,
        kept: list[Image] | None = None,
        error: str | None = None,
        provider_seconds: float | None = None,
    ) -> bool:
        """Record the outcome; False if the job had already ended (cancelled meanwhile)."""
        try:
            return await get_studio().jobs.finish(
                job.id,
                status,
                [image.id for image in kept or []],
                error,
                provider_seconds=provider_seconds,
            )
        except QueueUnavailable as exc:
            # The images are stored and indexed; only the job's bookkeeping is behind.
            logger.error("could not record the end of job %s: %s", job.id, exc)
            return True

    @rx.event
    async def cancel_job(self, job_id: str):
        """Cancel a queued or running job of this visitor; it stores nothing."""
        self._update_cards(job_id, cancelling=True, detail="Cancelling…")
        try:
            cancelled = await get_studio().jobs.cancel(uuid.UUID(hex=job_id), self._owner())
        except (QueueUnavailable, ValueError):
            self._update_cards(job_id, cancelling=False)
            return rx.toast.error("The job could not be cancelled; try again.")
        if not cancelled:
            self._drop_cards(job_id)
            return rx.toast.info("That job had already finished.")
        return None

    @rx.event
    async def sync_jobs(self, _tick: str = ""):
        """Match the cards to the queue and tell the visitor about jobs that ended unseen.

        Runs on page load and on a timer: after a restart a job's worker is gone, and the
        queue marks the job failed; this is how its owner hears of it.
        """
        jobs = get_studio().jobs
        owner = self._owner()
        try:
            active = await jobs.active(owner)
            unseen = await jobs.take_unseen(owner)
        except QueueUnavailable as exc:
            logger.warning("could not read jobs: %s", exc)
            return
        active_ids = {job.id.hex for job in active}
        shown = {card.job_id for card in self.jobs}
        self.jobs = [card for card in self.jobs if card.job_id in active_ids]
        for job in active:
            if job.id.hex not in shown:
                self.jobs = [*self.jobs, *_cards_for(job)]
        for job in unseen:
            if job.status == JobStatus.FAILED.value:
                yield rx.toast.error(f"“{_short(job.prompt)}”: {job.error}", duration=15_000)
