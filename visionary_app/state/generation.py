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

from visionary_app.services.generation import GenerationFailed, InvalidPrompt
from visionary_app.services.studio import get_studio
from visionary_app.settings import get_settings
from visionary_app.state.gallery import GalleryState, sign_tile

logger = logging.getLogger(__name__)

_PROGRESS_INTERVAL_S = 0.25
_TOAST_PROMPT_CHARS = 60


@dataclass
class JobCard:
    """A generation in progress, shown as a placeholder card in the gallery."""

    id: str
    prompt: str
    elapsed: str = "0.0 s"


def _short(prompt: str) -> str:
    one_line = " ".join(prompt.split())
    if len(one_line) <= _TOAST_PROMPT_CHARS:
        return one_line
    return one_line[: _TOAST_PROMPT_CHARS - 1] + "…"


class GenerationState(rx.State):
    """Prompt input and running jobs; each job is its own background event."""

    prompt: str = ""
    jobs: list[JobCard] = []

    @rx.var(cache=True)
    def prompt_limit(self) -> int:
        """Longest prompt accepted, in characters."""
        return get_settings().max_prompt_length

    @rx.var(cache=True)
    def is_offline(self) -> bool:
        """Whether the built-in offline provider draws the images."""
        return get_settings().provider == "offline"

    @rx.var
    def prompt_length(self) -> int:
        """Length of the prompt as it would be sent (trimmed)."""
        return len(self.prompt.strip())

    @rx.event
    def set_prompt(self, value: str) -> None:
        """Keep the typed prompt (for the counter and the Generate button)."""
        self.prompt = value

    def _set_elapsed(self, job_id: str, seconds: float) -> None:
        self.jobs = [
            dataclasses.replace(job, elapsed=f"{seconds:.1f} s") if job.id == job_id else job
            for job in self.jobs
        ]

    def _drop_job(self, job_id: str) -> None:
        self.jobs = [job for job in self.jobs if job.id != job_id]

    @rx.event(background=True)
    async def generate(self, form_data: dict[str, Any]):
        """Generate one image from the submitted prompt without blocking the page."""
        studio = get_studio()
        try:
            prompt = studio.pipeline.validate(str(form_data.get("prompt", "")))
        except InvalidPrompt as exc:
            yield rx.toast.error(str(exc), id="prompt-invalid")
            return

        job = JobCard(id=uuid.uuid4().hex, prompt=prompt)
        async with self:
            self.jobs = [job, *self.jobs]
        started = time.monotonic()
        task = asyncio.create_task(studio.pipeline.generate(prompt))
        try:
            while not task.done():
                await asyncio.wait({task}, timeout=_PROGRESS_INTERVAL_S)
                async with self:
                    self._set_elapsed(job.id, time.monotonic() - started)
            image = task.result()
            tile = await sign_tile(image)
        except GenerationFailed as exc:
            async with self:
                self._drop_job(job.id)
            yield rx.toast.error(str(exc), duration=10_000)
            return
        except Exception:
            logger.exception("generation job %s failed unexpectedly", job.id)
            async with self:
                self._drop_job(job.id)
            yield rx.toast.error(
                "Generation failed unexpectedly. The details are in the server log.",
                duration=10_000,
            )
            return

        seconds = time.monotonic() - started
        async with self:
            self._drop_job(job.id)
            gallery = await self.get_state(GalleryState)
            gallery._show_new(tile)
        yield rx.toast.success(f"Image ready in {seconds:.1f} s: “{_short(prompt)}”")
