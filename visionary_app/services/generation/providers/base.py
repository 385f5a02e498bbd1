"""The contract every image provider meets."""

from __future__ import annotations

import io
import json
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, fields
from typing import Protocol
from urllib.parse import urlsplit

from PIL import Image as PILImage

from visionary_app.services.generation.providers.capabilities import ModelCapabilities
from visionary_app.services.storage.content_types import content_type_for_pillow

# What the page calls each kind of provider (error messages name the server itself).
PROVIDER_LABELS = {
    "offline": "Offline preview",
    "openai": "OpenAI",
    "openai-compatible": "OpenAI-compatible",
    "azure-openai": "Azure OpenAI",
    "gemini": "Google Gemini",
    "comfyui": "ComfyUI",
    "replicate": "Replicate",
}


def public_host(url: str) -> str:
    """The host (and port) of an address, fit for messages and logs.

    An address may carry credentials (`https://user:secret@host/v1`): they never leave here.
    """
    try:
        parts = urlsplit(url)
        host = parts.hostname or ""
        port = parts.port
    except ValueError:
        return ""
    if ":" in host:  # IPv6
        host = f"[{host}]"
    return f"{host}:{port}" if host and port else host


@dataclass(frozen=True)
class ImageOptions:
    """What the user chose besides the prompt; values come from the model's capabilities."""

    size: str = "1024x1024"
    quality: str | None = None
    style: str | None = None
    n: int = 1
    background: str | None = None
    complexity: str | None = None
    # Only the offline provider draws from a seed (OpenAI's API takes none): a variation
    # sets one so that "more like this" twice gives two pictures.
    seed: int | None = None
    # The model menu's key ("provider/model"); None is the studio's default model.
    model: str | None = None


@dataclass(frozen=True)
class InputImage:
    """An image sent to the provider to edit or to follow (bytes of PNG, JPEG or WebP)."""

    data: bytes
    content_type: str
    name: str = "image.png"


# Called with (image index, preview bytes, content type) as each partial image arrives.
OnPartial = Callable[[int, bytes, str], None]
# Called with (steps done, steps in all) as a provider that counts its steps makes progress.
OnProgress = Callable[[int, int], None]


@dataclass(frozen=True)
class GeneratedImage:
    """Image bytes as a provider returned them, with what it said about them."""

    data: bytes
    content_type: str
    width: int
    height: int
    revised_prompt: str | None = None


@dataclass(frozen=True)
class ProviderUsage:
    """What one provider call used, as the provider reported it (0 where it said nothing).

    Tokens are split as the price lists split them: text and image tokens in, image (and
    text) tokens out. `images` counts what was billed per image, `seconds` what was billed
    by time (a GPU).
    """

    input_text_tokens: int = 0
    input_image_tokens: int = 0
    output_image_tokens: int = 0
    output_text_tokens: int = 0
    images: int = 0
    seconds: float = 0.0

    def __add__(self, other: ProviderUsage) -> ProviderUsage:
        return ProviderUsage(
            **{f.name: getattr(self, f.name) + getattr(other, f.name) for f in fields(self)}
        )

    def to_json(self) -> str:
        """The usage as a JSON object of its non-zero figures."""
        return json.dumps({k: v for k, v in asdict(self).items() if v}, sort_keys=True)

    @classmethod
    def from_json(cls, text: str | None) -> ProviderUsage:
        """Read `to_json`'s form back; unknown keys are ignored."""
        data = json.loads(text) if text else {}
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in known})


class ProviderAnswer(list[GeneratedImage]):
    """The images of one provider call, in order, and what the call used (`usage`)."""

    def __init__(self, images: Iterable[GeneratedImage] = (), usage: ProviderUsage | None = None):
        super().__init__(images)
        self.usage = usage or ProviderUsage()


def image_from(data: bytes, label: str, revised_prompt: str | None = None) -> GeneratedImage:
    """Bytes a provider sent, read as an image exactly as sent; ProviderError if they are not one.

    `label` names the provider in the message.
    """
    try:
        with PILImage.open(io.BytesIO(data)) as picture:
            content_type = content_type_for_pillow(picture.format)
            width, height = picture.size
    except PILImage.DecompressionBombError as exc:
        raise ProviderError(f"{label} sent an image with too many pixels.") from exc
    except (ValueError, OSError) as exc:
        raise ProviderError(f"{label} sent image data that is not an image.") from exc
    if content_type is None:
        raise ProviderError(f"{label} sent an image format this app cannot store.")
    return GeneratedImage(data=data, content_type=content_type, width=width, height=height,
                          revised_prompt=revised_prompt or None)  # fmt: skip


class ProviderError(Exception):
    """The provider could not produce an image; the message is fit to show the user.

    `kind` says what went wrong, for metrics: timeout, connection, safety, rate_limit, auth,
    not_found, server, refused, bad_answer or unexpected.
    """

    def __init__(self, message: str, kind: str = "bad_answer") -> None:
        super().__init__(message)
        self.kind = kind
        # What the failed call used, when the provider said (it is paid for all the same).
        self.usage: ProviderUsage | None = None


class ImageProvider(Protocol):
    """Turns a validated prompt into images."""

    name: str
    model: str
    capabilities: ModelCapabilities  # looked up once, when the provider is built

    async def generate(
        self,
        prompt: str,
        options: ImageOptions,
        *,
        safety_identifier: str | None = None,
        on_partial: OnPartial | None = None,
        on_progress: OnProgress | None = None,
    ) -> ProviderAnswer:
        """Produce `options.n` images for `prompt`.

        `safety_identifier` is a stable, opaque hash of who asked, for the provider's abuse
        monitoring (never their name). With `on_partial`, a provider that streams calls it
        with each preview before the images are returned; with `on_progress`, one that
        counts its steps (ComfyUI) says how far it is.
        """
        ...

    async def edit(
        self,
        prompt: str,
        images: list[InputImage],
        options: ImageOptions,
        *,
        mask: bytes | None = None,
        safety_identifier: str | None = None,
        on_partial: OnPartial | None = None,
        on_progress: OnProgress | None = None,
    ) -> ProviderAnswer:
        """Produce `options.n` images from `images` (the first is the one edited) and `prompt`.

        `mask` is a PNG the size of the first image whose fully transparent pixels mark where
        to change it. Only called when the capabilities say `edits`.
        """
        ...
