"""Generation state: the prompt being typed and the jobs running in the background."""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import time
import uuid
from dataclasses import dataclass
from typing import Any

import reflex as rx

from visionary_app.services.generation import GenerationFailed
from visionary_app.services.studio import get_studio
from visionary_app.state.gallery import GalleryState, sign_tile
from visionary_app.state.options import OptionsState

logger = logging.getLogger(__name__)

_PROGRESS_INTERVAL_S = 0.25
_TOAST_PROMPT_CHARS = 60


@dataclass
class JobCard:
    """One image on its way, shown as a placeholder card in the gallery."""

    id: str
    prompt: str
    elapsed: str = "0.0 s"


def _short(prompt: str) -> str:
    one_line = " ".join(prompt.split())
    if len(one_line) <= _TOAST_PROMPT_CHARS:
        return one_line
    return one_line[: _TOAST_PROMPT_CHARS - 1] + "…"


class GenerationState(rx.State):
    """Prompt input and running jobs; each submission is its own background event."""

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

    def _set_elapsed(self, job_ids: set[str], seconds: float) -> None:
        self.jobs = [
            dataclasses.replace(job, elapsed=f"{seconds:.1f} s") if job.id in job_ids else job
            for job in self.jobs
        ]

    def _drop_jobs(self, job_ids: set[str]) -> None:
        self.jobs = [job for job in self.jobs if job.id not in job_ids]

    @rx.event(background=True)
    async def generate(self, form_data: dict[str, Any]):
        """Generate the chosen number of images without blocking the page."""
        studio = get_studio()
        try:
            prompt = studio.pipeline.validate(str(form_data.get("prompt", "")))
        except GenerationFailed as exc:
            yield rx.toast.error(str(exc), id="prompt-invalid")
            return

        async with self:
            options = (await self.get_state(OptionsState)).current()
            cards = [JobCard(id=uuid.uuid4().hex, prompt=prompt) for _ in range(options.n)]
            self.jobs = [*cards, *self.jobs]
        job_ids = {card.id for card in cards}
        started = time.monotonic()
        task = asyncio.create_task(studio.pipeline.generate_batch(prompt, options))
        try:
            while not task.done():
                await asyncio.wait({task}, timeout=_PROGRESS_INTERVAL_S)
                async with self:
                    self._set_elapsed(job_ids, time.monotonic() - started)
            results = task.result()
            kept = [await sign_tile(r) for r in results if not isinstance(r, GenerationFailed)]
        except GenerationFailed as exc:
            async with self:
                self._drop_jobs(job_ids)
            yield rx.toast.error(str(exc), duration=10_000)
            return
        except Exception:
            logger.exception("generation failed unexpectedly")
            async with self:
                self._drop_jobs(job_ids)
            yield rx.toast.error(
                "Generation failed unexpectedly. The details are in the server log.",
                duration=10_000,
            )
            return

        seconds = time.monotonic() - started
        async with self:
            self._drop_jobs(job_ids)
            gallery = await self.get_state(GalleryState)
            for signed in reversed(kept):
                gallery._show_new(signed)
        failures = {str(r) for r in results if isinstance(r, GenerationFailed)}
        for message in failures:
            yield rx.toast.error(message, duration=10_000)
        if kept:
            what = "Image ready" if len(kept) == 1 else f"{len(kept)} images ready"
            yield rx.toast.success(f"{what} in {seconds:.1f} s: “{_short(prompt)}”")
