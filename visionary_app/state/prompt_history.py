"""Prompt history: your earlier prompts, newest first and searchable, back in the prompt box."""

from __future__ import annotations

import logging

import reflex as rx

from visionary_app.services.limits import QueueUnavailable
from visionary_app.services.studio import get_studio
from visionary_app.state.generation import GenerationState
from visionary_app.state.visitor import NotSignedIn, VisitorState

logger = logging.getLogger(__name__)


class PromptHistoryState(VisitorState):
    """The history list (read when opened or searched) and the up-arrow recall."""

    is_open: bool = False
    search: str = ""
    prompts: list[str] = []

    async def _read(self) -> list[str] | None:
        try:
            return await get_studio().jobs.recent_prompts(self._owner(), self.search)
        except QueueUnavailable as exc:
            logger.error("reading the prompt history failed: %s", exc)
            return None

    @rx.event
    async def set_open(self, value: bool):
        """Open (and read) or close the list."""
        self.is_open = value
        if not value:
            return None
        self.search = ""
        found = await self._read()
        if found is None:
            return rx.toast.error("Your earlier prompts could not be read; try again.")
        self.prompts = found
        return None

    @rx.event
    async def set_search(self, value: str):
        """Keep only the prompts that contain `value`."""
        self.search = value[:200]
        self.prompts = await self._read() or []

    @rx.event
    async def use(self, prompt: str):
        """Put an earlier prompt back in the prompt box (only one of this owner's)."""
        self.is_open = False
        if prompt not in self.prompts:
            return None
        generation = await self.get_state(GenerationState)
        generation.prompt = prompt
        return rx.set_focus("prompt-input")

    @rx.event
    async def recall(self, key: str):
        """The up arrow in an empty prompt box brings back the last prompt."""
        if key != "ArrowUp":
            return None
        generation = await self.get_state(GenerationState)
        if generation.prompt.strip():
            return None
        try:
            last = await get_studio().jobs.recent_prompts(self._owner(), limit=1)
        except (QueueUnavailable, NotSignedIn) as exc:
            logger.error("recalling the last prompt failed: %r", exc)
            return None
        if last:
            generation.prompt = last[0]
        return None
