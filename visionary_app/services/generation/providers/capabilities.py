"""What each image model accepts, in one table, so the UI only offers what will work."""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from datetime import date, timedelta

__all__ = [
    "CUSTOM_SIZE_RULES",
    "MODEL_CAPABILITIES",
    "RETIREMENTS",
    "ModelCapabilities",
    "ModelRetired",
    "Retirement",
    "capabilities_for",
    "parse_size",
    "retirement_notice",
    "size_problem",
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
    # `images.edit`: editing with a mask, several input images, variations from an image.
    edits: bool = False
    max_input_images: int = 16
    # `stream=True` with `partial_images`: previews while an image forms.
    streaming: bool = False
    # Any WIDTHxHEIGHT within CUSTOM_SIZE_RULES, besides the listed sizes.
    custom_sizes: bool = False
    backgrounds: tuple[str, ...] = ()
    complexities: tuple[str, ...] = ()
    # The `moderation` level and `output_compression` (webp/jpeg) are sent when set.
    moderation: bool = False
    compression: bool = False
    # How a painted mask reaches the model: "exact" (the model takes a mask), "as_image" (a
    # second picture with an instruction: the model edits by instruction, not by mask), or
    # "none" (an edit is by instruction alone: a painted mask is refused, never dropped).
    mask: str = "exact"
    # What the page calls the two choices for this model.
    size_label: str = "Size"
    quality_label: str = "Quality"

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


@dataclass(frozen=True)
class SizeRules:
    """OpenAI's documented limits on free-form sizes (gpt-image-2 and later)."""

    multiple: int = 16
    max_edge: int = 3840
    max_ratio: float = 3.0
    min_pixels: int = 655_360
    max_pixels: int = 8_294_400  # 3840x2160


CUSTOM_SIZE_RULES = SizeRules()
_SIZE = re.compile(r"^([1-9][0-9]{1,4})x([1-9][0-9]{1,4})$")


def parse_size(size: str) -> tuple[int, int] | None:
    """(width, height) of a WIDTHxHEIGHT size; None for "auto" or anything else."""
    match = _SIZE.match(size or "")
    return (int(match[1]), int(match[2])) if match else None


def size_problem(size: str, rules: SizeRules = CUSTOM_SIZE_RULES) -> str | None:
    """Why a free-form size breaks the rules (a sentence for the user), or None if it fits."""
    parsed = parse_size(size)
    if parsed is None:
        return "Give the size as WIDTHxHEIGHT in pixels, for example 1536x864."
    width, height = parsed
    if width % rules.multiple or height % rules.multiple:
        return f"Both sides must be multiples of {rules.multiple} pixels ({width}x{height} is not)."
    if max(width, height) > rules.max_edge:
        return f"The long side may be at most {rules.max_edge} pixels."
    if max(width, height) / min(width, height) > rules.max_ratio:
        return f"The sides may differ by at most {rules.max_ratio:g}:1."
    pixels = width * height
    if not rules.min_pixels <= pixels <= rules.max_pixels:
        return (
            f"{width}x{height} is {pixels:,} pixels; the model takes {rules.min_pixels:,} to "
            f"{rules.max_pixels:,}."
        )
    return None


_GPT_IMAGE = ModelCapabilities(
    sizes=("1024x1024", "1536x1024", "1024x1536", "auto"),
    qualities=("auto", "low", "medium", "high"),
    max_n=10,
    output_formats=("png", "webp", "jpeg"),
    max_prompt_length=32_000,
    edits=True,
    streaming=True,
    backgrounds=("auto", "opaque", "transparent"),
    moderation=True,
    compression=True,
)
# gpt-image-2 and later: free-form sizes and how much planning goes into an image.
_GPT_IMAGE_2 = replace(_GPT_IMAGE, custom_sizes=True, complexities=("low", "medium", "high"))
_GPT_IMAGE_25 = replace(_GPT_IMAGE_2, qualities=(*_GPT_IMAGE.qualities, "xhigh", "max"))
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
# The offline provider edits, streams and takes free-form sizes too, so the whole loop
# works without a key.
OFFLINE = ModelCapabilities(
    sizes=("1024x1024", "1536x1024", "1024x1536", "512x512", "256x256"),
    max_n=4,
    max_prompt_length=32_000,
    edits=True,
    streaming=True,
    custom_sizes=True,
)
# Unknown model behind an OpenAI-compatible URL: ask for base64 and one square image.
_UNKNOWN_COMPATIBLE = ModelCapabilities(
    sizes=("1024x1024",), max_n=1, max_prompt_length=4000, send_response_format=True
)

# Gemini image models take an aspect ratio, not pixels, and edit by instruction: any number
# of images in, no mask. https://ai.google.dev/gemini-api/docs/image-generation
_GEMINI_IMAGE = ModelCapabilities(
    sizes=("1:1", "3:2", "2:3", "3:4", "4:3", "4:5", "5:4", "9:16", "16:9", "21:9"),
    max_n=4,
    max_prompt_length=32_000,
    edits=True,
    max_input_images=3,
    mask="as_image",
    size_label="Aspect ratio",
)
# Gemini 3 Pro Image also takes the output's resolution and up to 14 reference images.
_GEMINI_PRO_IMAGE = replace(
    _GEMINI_IMAGE, qualities=("1K", "2K", "4K"), quality_label="Resolution", max_input_images=14
)

# ComfyUI runs whatever a workflow holds; these are sizes SD-family checkpoints are trained on.
# Edits depend on the workflow (an inpaint companion); previews come over the websocket.
COMFYUI = ModelCapabilities(
    sizes=("1024x1024", "1152x896", "896x1152", "1216x832", "832x1216", "768x768", "512x512"),
    max_n=4,
    max_prompt_length=8000,
    max_input_images=1,
    streaming=True,
)

# FLUX on Replicate takes an aspect ratio; schnell and dev make up to 4 images a call, the
# pro models one. Kontext edits one image by instruction (no mask).
# https://replicate.com/black-forest-labs
_FLUX_ASPECTS = ("1:1", "16:9", "21:9", "3:2", "2:3", "4:5", "5:4", "3:4", "4:3", "9:16", "9:21")
_FLUX = ModelCapabilities(
    sizes=_FLUX_ASPECTS, max_n=4, max_prompt_length=8000, size_label="Aspect ratio"
)
_FLUX_PRO = replace(_FLUX, max_n=1)
_FLUX_KONTEXT = replace(_FLUX_PRO, edits=True, max_input_images=1, mask="none")

MODEL_CAPABILITIES: dict[str, ModelCapabilities] = {
    "black-forest-labs/flux-schnell": _FLUX,
    "black-forest-labs/flux-dev": _FLUX,
    "black-forest-labs/flux-1.1-pro": _FLUX_PRO,
    "black-forest-labs/flux-kontext-pro": _FLUX_KONTEXT,
    "gemini-2.5-flash-image": _GEMINI_IMAGE,
    "gemini-3-pro-image-preview": _GEMINI_PRO_IMAGE,
    "gpt-image-2": _GPT_IMAGE_2,
    "gpt-image-2-2026-04-21": _GPT_IMAGE_2,
    "gpt-image-2.5-sunburst": _GPT_IMAGE_25,
    "gpt-image-2.5-sunburst-2026-09-08": _GPT_IMAGE_25,
    "gpt-image-2.5-flare": _GPT_IMAGE_25,
    "gpt-image-2.5-flare-2026-09-08": _GPT_IMAGE_25,
    "gpt-image-2.6-sunburst": _GPT_IMAGE_25,
    "gpt-image-2.6-flare": _GPT_IMAGE_25,
    "gpt-image-1.5": _GPT_IMAGE,
    "gpt-image-1-mini": _GPT_IMAGE,
    "gpt-image-1": _GPT_IMAGE,  # shut down: known so that the refusal can name its successor
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
    if provider == "replicate":
        return _FLUX_KONTEXT if "kontext" in model else _FLUX_PRO
    if provider == "gemini":
        return _GEMINI_PRO_IMAGE if "pro" in model else _GEMINI_IMAGE
    if provider == "openai-compatible":
        return _UNKNOWN_COMPATIBLE
    if model.startswith("gpt-image-2"):
        return _GPT_IMAGE_2
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
    "dall-e-2": Retirement(date(2026, 5, 12), "gpt-image-2"),
    "dall-e-3": Retirement(date(2026, 5, 12), "gpt-image-2"),
    "gpt-image-1": Retirement(date(2026, 10, 23), "gpt-image-2.5-sunburst"),
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
