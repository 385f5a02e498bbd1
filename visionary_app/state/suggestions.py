"""Prompt suggestions: fill the prompt box, or generate straight from a suggestion."""

from __future__ import annotations

import logging

import reflex as rx

from visionary_app.services.generation import ProviderError
from visionary_app.services.limits import LimitReached, QueueUnavailable
from visionary_app.services.studio import get_studio
from visionary_app.state.generation import GenerationState
from visionary_app.state.visitor import VisitorState

logger = logging.getLogger(__name__)

_UNEXPECTED = "No suggestion: something went wrong on the server (the details are in its log)."


class SuggestionState(rx.State):
    """Whether a suggestion is being written."""

    suggesting: bool = False

    async def _fetch(self) -> tuple[str | None, str | None]:
        """Ask for a suggestion and put it in the prompt box.

        Returns (suggestion, None), or (None, message for the user) on failure, or
        (None, None) if a suggestion was already on its way. The buttons stop spinning
        whatever happens.
        """
        async with self:
            if self.suggesting:
                return None, None
            self.suggesting = True
            owner = (await self.get_state(VisitorState))._owner()
        try:
            # Counted before the paid call starts, whatever comes of it.
            await get_studio().suggestion_meter.take(owner, "suggestions")
            text = await get_studio().suggester.suggest()
        except LimitReached as exc:
            return None, f"No suggestion: {exc}"
        except QueueUnavailable:
            return None, "No suggestion: the server could not record it (its database is down)."
        except ProviderError as exc:
            return None, f"No suggestion: {exc}"
        except Exception:
            logger.exception("prompt suggestion failed unexpectedly")
            return None, _UNEXPECTED
        else:
            async with self:
                generation = await self.get_state(GenerationState)
                generation.prompt = text
            return text, None
        finally:
            async with self:
                self.suggesting = False

    @rx.event(background=True)
    async def suggest(self):
        """Fill the prompt box with a creative prompt."""
        _, error = await self._fetch()
        if error:
            yield rx.toast.error(error)

    @rx.event(background=True)
    async def use_suggestion(self):
        """Write a suggestion and generate from it right away."""
        text, error = await self._fetch()
        if error:
            yield rx.toast.error(error)
        elif text:
            yield GenerationState.generate({"prompt": text})
