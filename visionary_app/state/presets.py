"""Style presets in the page: the built-in ones and one's own, the one chosen, saving one."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

import reflex as rx

from visionary_app.services.generation import Preset, PresetRefused, PresetsUnavailable
from visionary_app.services.studio import get_studio
from visionary_app.state.visitor import VisitorState

logger = logging.getLogger(__name__)

NO_PRESET = "none"  # the picker's value for no style (Radix's select takes no empty value)


@dataclass
class PresetEntry:
    """A preset as the picker lists it."""

    name: str
    words: str
    built_in: bool


class PresetsState(VisitorState):
    """Which style preset the next generation uses, and the ones on offer."""

    presets: list[PresetEntry] = []
    chosen: str = NO_PRESET

    @rx.var
    def chosen_words(self) -> str:
        """What the chosen preset adds to the prompt (shown under the picker)."""
        return next((p.words for p in self.presets if p.name == self.chosen), "")

    async def _reload(self) -> None:
        offered = await get_studio().presets.offered(self._owner())
        self.presets = [PresetEntry(p.name, p.words, p.built_in) for p in offered]

    @rx.event
    async def refresh(self):
        """Read the presets on offer (when the page loads)."""
        try:
            await self._reload()
        except PresetsUnavailable as exc:
            logger.error("reading presets failed: %s", exc)
        return None

    @rx.event
    def choose(self, value: str):
        """Use a preset (or none) for the next generations."""
        names = {preset.name for preset in self.presets}
        self.chosen = value if value in names else NO_PRESET

    async def preset_for_job(self) -> Preset | None:
        """The chosen preset as the server has it (never the browser's words); None for none.

        Raises PresetRefused if it is gone.
        """
        if self.chosen == NO_PRESET:
            return None
        return await get_studio().presets.find(self._owner(), self.chosen)

    @rx.event
    async def save(self, form: dict[str, Any]):
        """Save one's own preset from the form (a name and its words) and choose it."""
        try:
            preset = await get_studio().presets.save(
                self._owner(), str(form.get("name", "")), str(form.get("words", ""))
            )
            await self._reload()
        except PresetRefused as exc:
            return rx.toast.error(str(exc), id="preset-refused")
        except PresetsUnavailable as exc:
            logger.error("saving a preset failed: %s", exc)
            return rx.toast.error("The preset could not be saved; try again.")
        self.chosen = preset.name
        return rx.toast.success(f"Style “{preset.name}” saved and chosen.", id="preset-saved")
