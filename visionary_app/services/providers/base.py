"""The contract every image provider meets."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True)
class GeneratedImage:
    """Image bytes as a provider returned them, with what it said about them."""

    data: bytes
    content_type: str
    width: int
    height: int
    revised_prompt: str | None = None


class ProviderError(Exception):
    """The provider could not produce an image; the message is fit to show the user."""


class ImageProvider(Protocol):
    """Turns a validated prompt into one image."""

    name: str
    model: str

    async def generate(self, prompt: str, *, width: int, height: int) -> GeneratedImage:
        """Produce one image for `prompt` at the requested size."""
        ...
