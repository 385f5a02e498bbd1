"""Generation options: size, quality, style and count, limited to what the model supports."""

from __future__ import annotations

from datetime import date

import reflex as rx

from visionary_app.services.providers.base import PROVIDER_LABELS, ImageOptions
from visionary_app.services.providers.capabilities import ModelRetired, retirement_notice
from visionary_app.services.studio import get_studio
from visionary_app.settings import get_settings


class OptionsState(rx.State):
    """The user's choices; empty means the model's default."""

    size: str = ""
    quality: str = ""
    style: str = ""
    count: str = "1"

    @rx.var(cache=True)
    def sizes(self) -> list[str]:
        """Sizes the model offers."""
        return list(get_studio().capabilities.sizes)

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
        """The chosen size, or the default one."""
        caps = get_studio().capabilities
        if self.size in caps.sizes:
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
        return ImageOptions(
            size=self.selected_size,
            quality=self.selected_quality or None,
            style=self.selected_style or None,
            n=count,
        )
