"""Images from OpenAI, Azure OpenAI or any OpenAI-compatible server, through the `openai` SDK."""

from __future__ import annotations

import base64
import binascii
import io

import openai
from PIL import Image as PILImage

from visionary_app.services.content_types import content_type_for_pillow
from visionary_app.services.providers.base import GeneratedImage, ImageOptions, ProviderError
from visionary_app.services.providers.capabilities import ModelCapabilities
from visionary_app.services.providers.errors import provider_error

__all__ = ["OpenAIImageProvider"]


class OpenAIImageProvider:
    """`images.generate` on an AsyncOpenAI or AsyncAzureOpenAI client."""

    def __init__(
        self,
        client: openai.AsyncOpenAI,
        *,
        name: str,
        label: str,
        model: str,
        capabilities: ModelCapabilities,
        deployment: str | None = None,
    ) -> None:
        self._client = client
        self.name = name
        self.label = label
        self.model = model
        self.capabilities = capabilities
        # Azure routes by deployment name; the SDK puts `model` into the deployment path.
        self._request_model = deployment or model

    async def generate(
        self, prompt: str, options: ImageOptions, *, safety_identifier: str | None = None
    ) -> list[GeneratedImage]:
        """One request for `options.n` images, answered as base64 (never a second download)."""
        request: dict = {"model": self._request_model, "prompt": prompt, "n": options.n}
        if safety_identifier and self.name in ("openai", "azure-openai"):
            # Not the deprecated `user`; an OpenAI-compatible server may not know either.
            request["safety_identifier"] = safety_identifier
        if options.size:
            request["size"] = options.size
        if options.quality and self.capabilities.qualities:
            request["quality"] = options.quality
        if options.style and self.capabilities.styles:
            request["style"] = options.style
        if self.capabilities.send_response_format:
            request["response_format"] = "b64_json"
        try:
            response = await self._client.images.generate(**request)
        except openai.OpenAIError as exc:
            raise provider_error(
                exc, label=self.label, timeout_s=_timeout_seconds(self._client)
            ) from exc
        images = [self._decode(item.b64_json, item.revised_prompt) for item in response.data or []]
        if not images:
            raise ProviderError(f"{self.label} answered without any image data.")
        return images

    def _decode(self, b64_json: str | None, revised_prompt: str | None) -> GeneratedImage:
        if not b64_json:
            raise ProviderError(f"{self.label} answered without image data (no b64_json).")
        try:
            data = base64.b64decode(b64_json, validate=True)
            with PILImage.open(io.BytesIO(data)) as picture:
                content_type = content_type_for_pillow(picture.format)
                width, height = picture.size
        except PILImage.DecompressionBombError as exc:
            raise ProviderError(f"{self.label} sent an image with too many pixels.") from exc
        except (binascii.Error, ValueError, OSError) as exc:
            raise ProviderError(f"{self.label} sent image data that is not an image.") from exc
        if content_type is None:
            raise ProviderError(f"{self.label} sent an image format this app cannot store.")
        return GeneratedImage(
            data=data,
            content_type=content_type,
            width=width,
            height=height,
            revised_prompt=revised_prompt or None,
        )


def _timeout_seconds(client: openai.AsyncOpenAI) -> float:
    timeout = client.timeout
    if isinstance(timeout, int | float):
        return float(timeout)
    return float(getattr(timeout, "read", None) or getattr(timeout, "connect", None) or 0)
