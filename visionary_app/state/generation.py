"""Generation state: the prompt being typed, and this visitor's jobs shown as cards."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import reflex as rx

from visionary_app.models import GenerationJob, Image, ImageKind, JobStatus
from visionary_app.services.gallery import CatalogError, preview_data_url
from visionary_app.services.generation import (
    QUEUE_UNAVAILABLE,
    Cancelled,
    Failed,
    GenerationFailed,
    ImageOptions,
    JobEvent,
    MaskRefused,
    PartialImage,
    PresetRefused,
    PresetsUnavailable,
    Queued,
    Running,
    Stored,
    options_for_source,
    render_mask,
)
from visionary_app.services.limits import (
    BudgetLeft,
    LimitReached,
    QueueUnavailable,
    format_usd,
)
from visionary_app.services.storage import StorageError
from visionary_app.services.studio import get_studio
from visionary_app.state.editor import EditorState
from visionary_app.state.gallery import GalleryState, SignedTile, sign_tile
from visionary_app.state.options import OptionsState
from visionary_app.state.presets import PresetsState
from visionary_app.state.visitor import VisitorState, viewer_of

logger = logging.getLogger(__name__)

_TOAST_PROMPT_CHARS = 60
_WAITING = "Waiting for a free slot…"
_READY = {"edited": "Edit ready", "variation": "Variation ready"}
# (tab, job) pairs an event of this worker follows, so a tab follows each job once here.
_FOLLOWED: set[tuple[str, str]] = set()


@dataclass
class JobCard:
    """One image on its way, shown as a placeholder card in the gallery."""

    id: str
    job_id: str
    prompt: str
    status: str = JobStatus.QUEUED.value
    detail: str = _WAITING
    cancelling: bool = False
    kind: str = ImageKind.GENERATED.value
    # The latest partial image while it forms, as a small data URL (never stored).
    preview: str = ""


def short_prompt(prompt: str) -> str:
    """The prompt on one line, cut to fit a toast."""
    one_line = " ".join(prompt.split())
    if len(one_line) <= _TOAST_PROMPT_CHARS:
        return one_line
    return one_line[: _TOAST_PROMPT_CHARS - 1] + "…"


def waiting_detail(ahead: int) -> str:
    """What a queued card says about its place."""
    if ahead == 0:
        return "Next in line…"
    return f"Queued: {ahead} job{'s' if ahead != 1 else ''} ahead"


def running_detail(seconds: float, steps: tuple[int, int] | None = None) -> str:
    """What a running card says beside "Generating…": its time so far, and its steps if known."""
    time_so_far = f"{max(0.0, seconds):.0f} s"
    return f"{time_so_far} · step {steps[0]} of {steps[1]}" if steps else time_so_far


def budget_left(budgets: list[BudgetLeft]) -> str:
    """The tightest money budget, as the page shows it ("" when none applies)."""
    if not budgets:
        return ""
    tightest = min(budgets, key=lambda budget: budget.left)
    return f"{format_usd(tightest.left)} left of {tightest.label}"


def cards_for(job: GenerationJob, now: datetime | None = None) -> list[JobCard]:
    """The cards of one job as the queue row describes it (one per image)."""
    running = job.status == JobStatus.RUNNING
    if running and job.started_at is not None:
        detail = running_detail(((now or datetime.now(UTC)) - job.started_at).total_seconds())
    else:
        detail = "" if running else _WAITING
    return [
        JobCard(
            id=f"{job.id.hex}-{index}",
            job_id=job.id.hex,
            prompt=job.prompt,
            status=JobStatus(job.status).value,
            detail=detail,
            kind=job.kind,
        )
        for index in range(job.n)
    ]


async def sign_new_tiles(images: list[Image]) -> list[SignedTile]:
    """Tiles for just-stored images; one that cannot be signed now arrives with the next check."""
    signed = []
    for image in images:
        try:
            signed.append(await sign_tile(image))
        except StorageError as exc:
            logger.warning("could not sign new image %s: %s", image.id, exc)
    return signed


class GenerationState(VisitorState):
    """Prompt input and this visitor's job cards; each submission is its own background event."""

    prompt: str = ""
    jobs: list[JobCard] = []
    budget_left: str = ""  # the tightest money budget that applies, "" when none does

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
        cards = [
            dataclasses.replace(card, **changes) if card.job_id == job_id else card
            for card in self.jobs
        ]
        # Only a change is sent: every card goes to the page with each update, and a running
        # job's tick often leaves its card as it was (the time is shown in whole seconds).
        if cards != self.jobs:
            self.jobs = cards

    def _drop_cards(self, job_id: str) -> None:
        self.jobs = [card for card in self.jobs if card.job_id != job_id]

    @rx.event(background=True)
    async def generate(self, form_data: dict[str, Any]):
        """Queue the chosen images and follow the job to its end; the page stays live."""
        async with self:
            options = (await self.get_state(OptionsState)).current()
            owner = self._owner()
        async for toast in self._follow(owner, str(form_data.get("prompt", "")), options):
            yield toast

    @rx.event(background=True)
    async def edit(self, form_data: dict[str, Any]):
        """Edit the editor's image with its prompt, mask and references, as a job."""
        async with self:
            editor = await self.get_state(EditorState)
            image_id, strokes, canvas_width = editor.image_id, editor._strokes, editor._canvas_width
            reference_ids = [ref.id for ref in editor.references]
            chosen = await self.get_state(OptionsState)
            options, caps = chosen.current(), chosen.capabilities()
            owner = self._owner()
            viewer = await viewer_of(self)
        sources = await self._sources(viewer, [image_id, *reference_ids])
        if sources is None:
            yield rx.toast.error("The image to edit could not be read; refresh the gallery.")
            return
        source = sources[0]
        try:
            mask = await asyncio.to_thread(
                render_mask, strokes, canvas_width, source.width, source.height
            )
        except MaskRefused as exc:
            yield rx.toast.error(str(exc))
            return
        prompt = str(form_data.get("prompt", ""))
        followed = self._follow(
            owner, prompt, options_for_source(source, options, caps),
            kind=ImageKind.EDITED, sources=tuple(sources), mask=mask,
            on_queued=EditorState.set_open(False),
        )  # fmt: skip
        async for toast in followed:
            yield toast

    @rx.event(background=True)
    async def vary(self, image_id: str):
        """More like this: a new image from this one's prompt and options, or from the image."""
        async with self:
            chosen = await self.get_state(OptionsState)
            options, caps = chosen.current(), chosen.capabilities()
            owner = self._owner()
            viewer = await viewer_of(self)
        sources = await self._sources(viewer, [image_id])
        if sources is None:
            yield rx.toast.error("That image could not be read; refresh the gallery.")
            return
        (source,) = sources
        options = dataclasses.replace(
            options_for_source(source, options, caps),
            quality=source.quality,
            style=source.style,
        )
        if options.quality not in caps.qualities:
            options = dataclasses.replace(options, quality=caps.default_quality)
        if options.style not in caps.styles:
            options = dataclasses.replace(options, style=caps.default_style)
        prompt = "" if source.kind == ImageKind.UPLOAD else source.prompt
        followed = self._follow(owner, prompt, options, kind=ImageKind.VARIATION, sources=(source,))
        async for toast in followed:
            yield toast

    async def _sources(self, viewer, image_ids: list[str]) -> list[Image] | None:
        """The images with these ids if the viewer may see every one of them, else None."""
        catalog = get_studio().catalog
        images = []
        try:
            for image_id in image_ids:
                image = await catalog.get_for(viewer, uuid.UUID(image_id))
                if image is None:
                    logger.warning("%s may not use image %r", viewer.owner, image_id)
                    return None
                images.append(image)
        except (CatalogError, ValueError) as exc:
            logger.error("reading source images failed: %s", exc)
            return None
        return images

    async def _follow(
        self,
        owner: str,
        prompt: str,
        options: ImageOptions,
        *,
        kind: ImageKind = ImageKind.GENERATED,
        sources: tuple[Image, ...] = (),
        mask: bytes | None = None,
        on_queued=None,
    ):
        """Submit a job and show it to its end: cards while it runs, then tiles and toasts.

        The job runs on whichever worker claims it; this only follows it.
        """
        runner = get_studio().runner
        client = self._client()
        try:
            async with self:
                gallery = await self.get_state(GalleryState)
                board = await gallery.board_for(await viewer_of(self), changing=True)
                presets = await self.get_state(PresetsState)
                preset = await presets.preset_for_job() if kind == ImageKind.GENERATED else None
            job = await runner.submit(
                owner, prompt, options, kind=kind, sources=sources, mask=mask, client=client,
                board=board, preset=preset,
            )  # fmt: skip
        except (PresetRefused, PresetsUnavailable) as exc:
            yield rx.toast.error(f"The style preset could not be used: {exc}", id="preset-gone")
            return
        except GenerationFailed as exc:
            yield rx.toast.error(str(exc), id="prompt-invalid")
            return
        except LimitReached as exc:
            yield rx.toast.warning(str(exc), duration=15_000, id="limit-reached")
            return
        except QueueUnavailable as exc:
            logger.error("could not queue a job: %s", exc)
            yield rx.toast.error(QUEUE_UNAVAILABLE, duration=10_000)
            return
        if on_queued is not None:
            yield on_queued
        job_id = job.id.hex
        async with self:
            # A timer's sync_jobs may already have shown this job's cards.
            self.jobs = [*cards_for(job), *(c for c in self.jobs if c.job_id != job_id)]
            token = self.router.session.client_token
        async for toast in self._show_to_end(token, job):
            yield toast

    async def _show_to_end(self, token: str, job: GenerationJob):
        """Follow the job, unless this tab already does on this worker; its toasts."""
        key = (token, job.id.hex)
        if key in _FOLLOWED:
            return
        _FOLLOWED.add(key)
        try:
            async for event in get_studio().runner.follow(job):
                for toast in await self._show(job, event):
                    yield toast
        finally:
            _FOLLOWED.discard(key)

    @rx.event(background=True)
    async def follow_job(self, job_id: str):
        """Follow one of this visitor's jobs that no event here follows yet to its end.

        After a reload, or when the tab reconnected to another worker (its own stopped), the
        job still runs somewhere: this brings its progress and its outcome back to the tab.
        """
        async with self:
            owner, token = self._owner(), self.router.session.client_token
        try:
            job = await get_studio().jobs.get(uuid.UUID(hex=job_id))
        except (QueueUnavailable, ValueError, TypeError, AttributeError):
            return
        if job is None or job.owner != owner:
            return
        async for toast in self._show_to_end(token, job):
            yield toast

    async def _show(self, job: GenerationJob, event: JobEvent) -> list:
        """Bring the cards up to date with one event of the job; the toasts to show, if any."""
        job_id, prompt = job.id.hex, short_prompt(job.prompt)
        match event:
            case Queued(ahead=ahead):
                async with self:
                    self._update_cards(job_id, detail=waiting_detail(ahead))
            case Running(elapsed_s=seconds, steps=steps):
                async with self:
                    self._update_cards(
                        job_id,
                        status=JobStatus.RUNNING.value,
                        detail=running_detail(seconds, steps),
                    )
            case PartialImage(data=data):
                preview = await asyncio.to_thread(preview_data_url, data)
                async with self:
                    self._update_cards(job_id, preview=preview)
            case Stored(images=images, failures=failures, elapsed_s=seconds):
                signed = await sign_new_tiles(images)
                async with self:  # the cards give way to the tiles in one update
                    self._drop_cards(job_id)
                    gallery = await self.get_state(GalleryState)
                    gallery._show_new(signed, job.board_id)
                what = _READY.get(job.kind, "Image ready")
                if len(images) > 1:
                    what = f"{len(images)} images ready"
                return [
                    *(rx.toast.error(message, duration=10_000) for message in failures),
                    rx.toast.success(f"{what} in {seconds:.1f} s: “{prompt}”"),
                ]
            case Failed(reason=reason):
                async with self:
                    self._drop_cards(job_id)
                # The same id as sync_jobs gives an unseen failure: one toast however told.
                return [
                    rx.toast.error(reason, duration=10_000, id=f"ended-{job_id}"),
                    GenerationState.mark_told([job_id]),
                ]
            case Cancelled(started=started):
                async with self:
                    self._drop_cards(job_id)
                if started:
                    return [rx.toast.info(f"Cancelled: nothing was stored for “{prompt}”.")]
                return [rx.toast.info(f"Cancelled before it started: “{prompt}”")]
        return []

    @rx.event
    async def cancel_job(self, job_id: str):
        """Cancel a queued or running job of this visitor; it stores nothing."""
        self._update_cards(job_id, cancelling=True, detail="Cancelling…")
        try:
            cancelled = await get_studio().runner.cancel(uuid.UUID(hex=job_id), self._owner())
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
            unseen = await jobs.unseen(owner)
            left = budget_left(await jobs.budgets_left(owner))
        except QueueUnavailable as exc:
            logger.warning("could not read jobs: %s", exc)
            return
        if left != self.budget_left:
            self.budget_left = left
        active_ids = {job.id.hex for job in active}
        shown = {card.job_id for card in self.jobs}
        cards = [card for card in self.jobs if card.job_id in active_ids]
        for job in active:
            if job.id.hex not in shown:
                cards += cards_for(job)
            elif job.status == JobStatus.RUNNING:  # started elsewhere, or its tab reloaded
                (fresh, *_) = cards_for(job)
                cards = [
                    dataclasses.replace(card, status=fresh.status, detail=fresh.detail)
                    if card.job_id == fresh.job_id and not card.cancelling
                    else card
                    for card in cards
                ]
        # Assigned only when something changed: every assignment is a delta to the browser
        # and a render of the gallery, every few seconds in every open tab.
        if cards != self.jobs:
            self.jobs = cards
        token = self.router.session.client_token
        for job in active:  # jobs that no event of this tab follows here (see follow_job)
            if (token, job.id.hex) not in _FOLLOWED:
                yield GenerationState.follow_job(job.id.hex)
        for job in unseen:
            if job.status == JobStatus.FAILED:
                # One toast per job, however many tabs or asks deliver it before it is seen.
                message = f"“{short_prompt(job.prompt)}”: {job.error}"
                yield rx.toast.error(message, duration=15_000, id=f"ended-{job.id.hex}")
        if unseen:
            # A chained event goes by way of the browser: it comes back only from a tab that
            # received the toasts above, so a tab on a stopping server does not use them up.
            yield GenerationState.mark_told([job.id.hex for job in unseen])

    @rx.event
    async def mark_told(self, job_ids: list[str]):
        """The browser has shown these ended jobs' outcomes (sent back by sync_jobs)."""
        ids, texts = [], job_ids[:20] if isinstance(job_ids, list) else []
        for text in texts:
            with contextlib.suppress(ValueError, TypeError, AttributeError):
                ids.append(uuid.UUID(hex=text))
        try:
            await get_studio().jobs.mark_seen(self._owner(), ids)
        except QueueUnavailable as exc:  # told again on the next ask: better than never
            logger.warning("could not record jobs as told: %s", exc)
