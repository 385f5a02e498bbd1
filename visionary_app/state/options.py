"""The model and its options, limited to what the chosen model supports.

The model picker lists every configured model; the browser remembers the last one chosen.
Size (or aspect ratio; free-form where the model takes any size within the rules), quality
(or resolution), style, background, complexity and count follow the chosen model.
"""

from __future__ import annotations

import dataclasses
from datetime import date

import reflex as rx

from visionary_app.services.generation import (
    ImageOptions,
    ModelCapabilities,
    ModelChoice,
    ModelRetired,
    retirement_notice,
    size_problem,
)
from visionary_app.services.limits import format_usd
from visionary_app.services.studio import get_studio
from visionary_app.settings import get_settings

# The size list's entry that reveals a WIDTHxHEIGHT field.
CUSTOM = "custom"


class OptionsState(rx.State):
    """The user's choices; empty means the model's default."""

    # The model menu's key, kept in the browser so that the next visit starts on it.
    model: str = rx.LocalStorage("", name="visionary_model")
    size: str = ""
    custom_size: str = ""
    quality: str = ""
    style: str = ""
    background: str = ""
    complexity: str = ""
    count: str = "1"

    def choice(self) -> ModelChoice:
        """The chosen model (the default when none is chosen or it is no longer offered)."""
        models = get_studio().models
        return models.find(self.model) or models.default

    def capabilities(self) -> ModelCapabilities:
        """What the chosen model accepts."""
        return self.choice().capabilities

    @rx.var(cache=True)
    def models(self) -> list[list[str]]:
        """[key, "Provider · model"] of every model offered, the default first."""
        return [[choice.key, choice.label] for choice in get_studio().models]

    @rx.var(cache=True)
    def selected_model(self) -> str:
        """The chosen model's key."""
        return self.choice().key

    @rx.var(cache=True)
    def size_label(self) -> str:
        """What the chosen model's sizes are called ("Size", "Aspect ratio")."""
        return self.capabilities().size_label

    @rx.var(cache=True)
    def quality_label(self) -> str:
        """What the chosen model's qualities are called ("Quality", "Resolution")."""
        return self.capabilities().quality_label

    @rx.var(cache=True)
    def can_edit(self) -> bool:
        """Whether the chosen model edits images (the Edit button is offered)."""
        return self.capabilities().edits

    @rx.var(cache=True)
    def max_references(self) -> int:
        """How many further images an edit may take besides the one edited."""
        return self.capabilities().max_input_images - 1

    @rx.var(cache=True)
    def mask_note(self) -> str:
        """How a painted mask reaches a model that takes none ("" for one that does)."""
        mask = self.capabilities().mask
        if mask == "none":
            return (
                f"{self.choice().label} edits by instruction alone and takes no mask: leave "
                "the picture unpainted and say what should change."
            )
        if mask != "as_image":
            return ""
        return (
            f"{self.choice().label} edits by instruction and takes no mask: what you paint is "
            "sent as a second picture, white where to change, with words asking to change "
            "only there. Most edits follow it; an exact mask needs a model that takes one."
        )

    @rx.var(cache=True)
    def sizes(self) -> list[str]:
        """Sizes the model offers (and "custom" where it takes any within the rules)."""
        caps = self.capabilities()
        return [*caps.sizes, *((CUSTOM,) if caps.custom_sizes else ())]

    @rx.var(cache=True)
    def backgrounds(self) -> list[str]:
        """Backgrounds the model offers (transparent, opaque, auto), if any."""
        return list(self.capabilities().backgrounds)

    @rx.var(cache=True)
    def complexities(self) -> list[str]:
        """How much planning the model may put into an image, if it has the choice."""
        return list(self.capabilities().complexities)

    @rx.var
    def custom_size_problem(self) -> str:
        """Why the typed size cannot be made ("" when it can, or is not in use)."""
        if self.size != CUSTOM:
            return ""
        return size_problem(self.custom_size.strip().lower()) or ""

    @rx.var(cache=True)
    def qualities(self) -> list[str]:
        """Qualities the model offers (none for some models)."""
        return list(self.capabilities().qualities)

    @rx.var(cache=True)
    def styles(self) -> list[str]:
        """Styles the model offers (none for GPT image models)."""
        return list(self.capabilities().styles)

    @rx.var(cache=True)
    def counts(self) -> list[str]:
        """How many images one request may make."""
        return [str(n) for n in range(1, self.capabilities().max_n + 1)]

    @rx.var(cache=True)
    def model_label(self) -> str:
        """Provider and model, as the picker shows them."""
        return self.choice().label

    @rx.var
    def cost_estimate(self) -> str:
        """What the current options should cost: "≈ $0.04", or "Free"."""
        micros = get_studio().runner.estimate(self.current())
        return f"≈ {format_usd(micros)}" if micros > 0 else "Free"

    @rx.var
    def edit_cost_estimate(self) -> str:
        """What an edit of one image with these options should cost."""
        options = dataclasses.replace(self.current(), n=1)
        micros = get_studio().runner.estimate(options, inputs=1)
        return f"≈ {format_usd(micros)}" if micros > 0 else "Free"

    @rx.var
    def retirement(self) -> str:
        """A warning when the chosen model shuts down within 30 days ("" otherwise)."""
        provider = self.choice().provider
        try:
            return retirement_notice(provider.model, provider=provider.name, today=date.today())
        except ModelRetired as exc:  # shut down since this server started
            return str(exc)

    @rx.var
    def selected_size(self) -> str:
        """The chosen size, or the default one ("custom" when a size is typed)."""
        caps = self.capabilities()
        if self.size in caps.sizes or (self.size == CUSTOM and caps.custom_sizes):
            return self.size
        preferred = get_settings().image_size
        return preferred if preferred in caps.sizes else caps.default_size

    @rx.var
    def selected_quality(self) -> str:
        """The chosen quality, or the default one ("" when the model has none)."""
        caps = self.capabilities()
        return self.quality if self.quality in caps.qualities else caps.default_quality or ""

    @rx.var
    def selected_style(self) -> str:
        """The chosen style, or the default one ("" when the model has none)."""
        caps = self.capabilities()
        return self.style if self.style in caps.styles else caps.default_style or ""

    @rx.event
    def set_model(self, value: str) -> None:
        """Choose a model (one the menu offers; anything else keeps the current one)."""
        choice = get_studio().models.find(value) if value else None
        if choice is not None:
            self.model = choice.key

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
        choice = self.choice()
        caps = choice.capabilities
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
            model=choice.key,
        )
