"""What each image model accepts, in one table, so the UI only offers what will work."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

__all__ = [
    "MODEL_CAPABILITIES",
    "RETIREMENTS",
    "ModelCapabilities",
    "ModelRetired",
    "Retirement",
    "capabilities_for",
    "retirement_notice",
]

# Say so on the page this long before a model shuts down.
RETIREMENT_WARNING = timedelta(days=30)


@dataclass(frozen=True)
class ModelCapabilities:
    """The options one image model supports."""

    sizes: tuple[str, ...]
    qualities: tuple[str, ...] = ()
    styles: tuple[str, ...] = ()
    max_n: int = 1
    output_formats: tuple[str, ...] = ("png",)
    max_prompt_length: int = 4000
    # Legacy (DALL-E style) servers return URLs unless asked for base64; GPT image models
    # always return base64 and reject the parameter.
    send_response_format: bool = False

    @property
    def default_size(self) -> str:
        """The first listed size."""
        return self.sizes[0]

    @property
    def default_quality(self) -> str | None:
        """The first listed quality, if the model has any."""
        return self.qualities[0] if self.qualities else None

    @property
    def default_style(self) -> str | None:
        """The first listed style, if the model has any."""
        return self.styles[0] if self.styles else None


_GPT_IMAGE = ModelCapabilities(
    sizes=("1024x1024", "1536x1024", "1024x1536", "auto"),
    qualities=("auto", "low", "medium", "high"),
    max_n=10,
    output_formats=("png", "webp", "jpeg"),
    max_prompt_length=32_000,
)
_GPT_IMAGE_25 = ModelCapabilities(
    sizes=_GPT_IMAGE.sizes,
    qualities=(*_GPT_IMAGE.qualities, "xhigh", "max"),
    max_n=10,
    output_formats=_GPT_IMAGE.output_formats,
    max_prompt_length=32_000,
)
# DALL-E 2 and 3 were retired by OpenAI in May 2026; OpenAI-compatible servers still mimic them.
_DALL_E_3 = ModelCapabilities(
    sizes=("1024x1024", "1792x1024", "1024x1792"),
    qualities=("standard", "hd"),
    styles=("vivid", "natural"),
    max_n=1,
    max_prompt_length=4000,
    send_response_format=True,
)
_DALL_E_2 = ModelCapabilities(
    sizes=("1024x1024", "512x512", "256x256"),
    max_n=10,
    max_prompt_length=1000,
    send_response_format=True,
)
OFFLINE = ModelCapabilities(
    sizes=("1024x1024", "1536x1024", "1024x1536", "512x512", "256x256"),
    max_n=4,
    max_prompt_length=32_000,
)
# Unknown model behind an OpenAI-compatible URL: ask for base64 and one square image.
_UNKNOWN_COMPATIBLE = ModelCapabilities(
    sizes=("1024x1024",), max_n=1, max_prompt_length=4000, send_response_format=True
)

MODEL_CAPABILITIES: dict[str, ModelCapabilities] = {
    "gpt-image-2": _GPT_IMAGE,
    "gpt-image-2-2026-04-21": _GPT_IMAGE,
    "gpt-image-2.5-sunburst": _GPT_IMAGE_25,
    "gpt-image-2.5-sunburst-2026-09-08": _GPT_IMAGE_25,
    "gpt-image-2.5-flare": _GPT_IMAGE_25,
    "gpt-image-2.5-flare-2026-09-08": _GPT_IMAGE_25,
    "gpt-image-2.6-sunburst": _GPT_IMAGE_25,
    "gpt-image-2.6-flare": _GPT_IMAGE_25,
    "gpt-image-1.5": _GPT_IMAGE,
    "gpt-image-1-mini": _GPT_IMAGE,
    "chatgpt-image-latest": _GPT_IMAGE,
    "dall-e-3": _DALL_E_3,
    "dall-e-2": _DALL_E_2,
    "offline-preview": OFFLINE,
}


def capabilities_for(model: str, *, provider: str) -> ModelCapabilities:
    """Capabilities of `model`; unknown names get a conservative profile for their provider."""
    if model in MODEL_CAPABILITIES:
        return MODEL_CAPABILITIES[model]
    if provider == "offline":
        return OFFLINE
    if provider == "openai-compatible":
        return _UNKNOWN_COMPATIBLE
    if model.startswith(("gpt-image", "chatgpt-image")):
        return _GPT_IMAGE
    return _UNKNOWN_COMPATIBLE


@dataclass(frozen=True)
class Retirement:
    """When OpenAI shuts a model down, and what to use instead."""

    shutdown: date
    replacement: str


# OpenAI's deprecations page. Only OpenAI and Azure OpenAI are held to it: an
# OpenAI-compatible server may serve any name for as long as it likes.
RETIREMENTS: dict[str, Retirement] = {
    "gpt-image-1-mini": Retirement(date(2026, 12, 1), "gpt-image-2"),
    "gpt-image-1.5": Retirement(date(2026, 12, 1), "gpt-image-2"),
    "chatgpt-image-latest": Retirement(date(2026, 12, 1), "gpt-image-2"),
}
_HELD_TO_RETIREMENTS = ("openai", "azure-openai")


class ModelRetired(ValueError):
    """The configured model has been shut down; the message names its replacement."""


def retirement_notice(model: str, *, provider: str, today: date) -> str:
    """What the page should say about the model's shutdown ("" when nothing is due).

    Raises ModelRetired once the shutdown date has come: the app must not start on it.
    """
    retirement = RETIREMENTS.get(model) if provider in _HELD_TO_RETIREMENTS else None
    if retirement is None:
        return ""
    if today >= retirement.shutdown:
        msg = (
            f"{model} was shut down by OpenAI on {retirement.shutdown:%Y-%m-%d}: set "
            f"VISIONARY_IMAGE_MODEL={retirement.replacement} (its replacement) and restart."
        )
        raise ModelRetired(msg)
    if today < retirement.shutdown - RETIREMENT_WARNING:
        return ""
    days = (retirement.shutdown - today).days
    return (
        f"{model} shuts down on {retirement.shutdown:%Y-%m-%d} (in {days} "
        f"day{'s' if days != 1 else ''}). Ask whoever runs this studio to switch "
        f"VISIONARY_IMAGE_MODEL to {retirement.replacement}."
    )
