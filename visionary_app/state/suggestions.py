"""Prompt suggestions: fill the prompt box, or generate straight from a suggestion."""

from __future__ import annotations

import logging

import reflex as rx

from visionary_app.services.providers import ProviderError
from visionary_app.services.studio import get_studio
from visionary_app.state.generation import GenerationState

logger = logging.getLogger(__name__)


class SuggestionState(rx.State):
    """Whether a suggestion is being written."""

    suggesting: bool = False

    async def _fetch(self):
        """Ask for a suggestion and put it in the prompt box; returns it, or None on failure."""
        async with self:
            if self.suggesting:
                return None
            self.suggesting = True
        try:
            text = await get_studio().suggester.suggest()
        except ProviderError as exc:
            async with self:
                self.suggesting = False
            return exc
        async with self:
            self.suggesting = False
            generation = await self.get_state(GenerationState)
            generation.prompt = text
        return text

    @rx.event(background=True)
    async def suggest(self):
        """Fill the prompt box with a creative prompt."""
        result = await self._fetch()
        if isinstance(result, ProviderError):
            yield rx.toast.error(f"No suggestion: {result}")

    @rx.event(background=True)
    async def use_suggestion(self):
        """Write a suggestion and generate from it right away."""
        result = await self._fetch()
        if isinstance(result, ProviderError):
            yield rx.toast.error(f"No suggestion: {result}")
        elif isinstance(result, str):
            yield GenerationState.generate({"prompt": result})
