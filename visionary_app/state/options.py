"""Generation options, limited to what the model supports.

Size (free-form where the model takes any size within the rules), quality, style, background,
complexity and count.
"""

from __future__ import annotations

from datetime import date

import reflex as rx

from visionary_app.services.generation import (
    PROVIDER_LABELS,
    ImageOptions,
    ModelRetired,
    retirement_notice,
    size_problem,
)
from visionary_app.services.studio import get_studio
from visionary_app.settings import get_settings

# The size list's entry that reveals a WIDTHxHEIGHT field.
CUSTOM = "custom"


class OptionsState(rx.State):
    """The user's choices; empty means the model's default."""

    size: str = ""
    custom_size: str = ""
    quality: str = ""
    style: str = ""
    background: str = ""
    complexity: str = ""
    count: str = "1"

    @rx.var(cache=True)
    def sizes(self) -> list[str]:
        """Sizes the model offers (and "custom" where it takes any within the rules)."""
        caps = get_studio().capabilities
        return [*caps.sizes, *((CUSTOM,) if caps.custom_sizes else ())]

    @rx.var(cache=True)
    def backgrounds(self) -> list[str]:
        """Backgrounds the model offers (transparent, opaque, auto), if any."""
        return list(get_studio().capabilities.backgrounds)

    @rx.var(cache=True)
    def complexities(self) -> list[str]:
        """How much planning the model may put into an image, if it has the choice."""
        return list(get_studio().capabilities.complexities)

    @rx.var
    def custom_size_problem(self) -> str:
        """Why the typed size cannot be made ("" when it can, or is not in use)."""
        if self.size != CUSTOM:
            return ""
        return size_problem(self.custom_size.strip().lower()) or ""

    @rx.var(cache=True)
    def qualities(self) -> list[str]:
        """Qualities the model offers (none for some models)."""
        return list(get_studio().capabilities.qualities)

    @rx.var(cache=True)
    def styles(self) -> list[str]:
        """Styles the model offers (none for GPT image models)."""
        return list(get_studio().capabilities.styles)

    @rx.var(cache=True)
    def counts(self) -> list[str]:
        """How many images one request may make."""
        return [str(n) for n in range(1, get_studio().capabilities.max_n + 1)]

    @rx.var(cache=True)
    def model_label(self) -> str:
        """Provider and model, as shown next to the options."""
        provider = get_studio().provider
        return f"{PROVIDER_LABELS.get(provider.name, provider.name)} · {provider.model}"

    @rx.var
    def retirement(self) -> str:
        """A warning when the configured model shuts down within 30 days ("" otherwise)."""
        studio = get_studio()
        try:
            return retirement_notice(
                studio.provider.model, provider=studio.provider.name, today=date.today()
            )
        except ModelRetired as exc:  # shut down since this server started
            return str(exc)

    @rx.var
    def selected_size(self) -> str:
        """The chosen size, or the default one ("custom" when a size is typed)."""
        caps = get_studio().capabilities
        if self.size in caps.sizes or (self.size == CUSTOM and caps.custom_sizes):
            return self.size
        preferred = get_settings().image_size
        return preferred if preferred in caps.sizes else caps.default_size

    @rx.var
    def selected_quality(self) -> str:
        """The chosen quality, or the default one ("" when the model has none)."""
        caps = get_studio().capabilities
        return self.quality if self.quality in caps.qualities else caps.default_quality or ""

    @rx.var
    def selected_style(self) -> str:
        """The chosen style, or the default one ("" when the model has none)."""
        caps = get_studio().capabilities
        return self.style if self.style in caps.styles else caps.default_style or ""

    @rx.event
    def set_size(self, value: str) -> None:
        """Choose a size."""
        self.size = value

    @rx.event
    def set_quality(self, value: str) -> None:
        """Choose a quality."""
        self.quality = value

    @rx.event
    def set_style(self, value: str) -> None:
        """Choose a style."""
        self.style = value

    @rx.event
    def set_custom_size(self, value: str) -> None:
        """Keep the typed WIDTHxHEIGHT."""
        self.custom_size = value[:16]

    @rx.event
    def set_background(self, value: str) -> None:
        """Choose a background (transparent needs a model that offers it)."""
        self.background = value

    @rx.event
    def set_complexity(self, value: str) -> None:
        """Choose how much planning goes into an image."""
        self.complexity = value

    @rx.event
    def set_count(self, value: str) -> None:
        """Choose how many images to make."""
        self.count = value

    def current(self) -> ImageOptions:
        """The options to send, with defaults filled in."""
        caps = get_studio().capabilities
        try:
            count = min(max(int(self.count), 1), caps.max_n)
        except ValueError:
            count = 1
        size = self.selected_size
        if size == CUSTOM:
            size = self.custom_size.strip().lower()  # checked again when submitted
        return ImageOptions(
            size=size,
            quality=self.selected_quality or None,
            style=self.selected_style or None,
            n=count,
            background=self.background if self.background in caps.backgrounds else None,
            complexity=self.complexity if self.complexity in caps.complexities else None,
        )
