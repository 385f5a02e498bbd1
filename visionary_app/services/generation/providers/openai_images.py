"""Images from OpenAI, Azure OpenAI or any OpenAI-compatible server, through the `openai` SDK."""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass

import openai

from visionary_app.services.generation.providers.base import (
    GeneratedImage,
    ImageOptions,
    InputImage,
    OnPartial,
    OnProgress,
    ProviderAnswer,
    ProviderError,
    ProviderUsage,
    image_from,
)
from visionary_app.services.generation.providers.capabilities import ModelCapabilities
from visionary_app.services.generation.providers.errors import provider_error

__all__ = ["OpenAIImageProvider", "OutputSettings"]

_PARTIAL_EVENTS = ("image_generation.partial_image", "image_edit.partial_image")
_COMPLETED_EVENTS = ("image_generation.completed", "image_edit.completed")


@dataclass(frozen=True)
class OutputSettings:
    """What the app's settings ask of every request (each sent only where the model takes it)."""

    partial_images: int = 2
    moderation: str = "auto"
    output_format: str = "png"
    output_compression: int | None = None


class OpenAIImageProvider:
    """`images.generate` and `images.edit` on an AsyncOpenAI or AsyncAzureOpenAI client."""

    def __init__(
        self,
        client: openai.AsyncOpenAI,
        *,
        name: str,
        label: str,
        model: str,
        capabilities: ModelCapabilities,
        deployment: str | None = None,
        output: OutputSettings = OutputSettings(),
    ) -> None:
        self._client = client
        self.name = name
        self.label = label
        self.model = model
        self.capabilities = capabilities
        self.output = output
        # Azure routes by deployment name; the SDK puts `model` into the deployment path.
        self._request_model = deployment or model

    def _request(self, prompt: str, options: ImageOptions, safety_identifier: str | None) -> dict:
        """The parameters both calls share, each only where the model takes it."""
        caps = self.capabilities
        request: dict = {"model": self._request_model, "prompt": prompt, "n": options.n}
        if safety_identifier and self.name in ("openai", "azure-openai"):
            # Not the deprecated `user`; an OpenAI-compatible server may not know either.
            request["safety_identifier"] = safety_identifier
        if options.size:
            request["size"] = options.size
        if options.quality and caps.qualities:
            request["quality"] = options.quality
        if options.style and caps.styles:
            request["style"] = options.style
        if options.background and caps.backgrounds:
            request["background"] = options.background
        if options.complexity and caps.complexities:
            request["complexity"] = options.complexity
        output_format = self.output.output_format
        if options.background == "transparent" and output_format == "jpeg":
            output_format = "png"  # jpeg has no transparency
        if output_format != "png" and output_format in caps.output_formats:
            request["output_format"] = output_format
            if caps.compression and self.output.output_compression is not None:
                request["output_compression"] = self.output.output_compression
        if caps.moderation and self.output.moderation != "auto":
            request["moderation"] = self.output.moderation
        if caps.send_response_format:
            request["response_format"] = "b64_json"
        return request

    def _streams(self, options: ImageOptions, on_partial: OnPartial | None) -> bool:
        # Streamed events carry no image index, so only single images stream.
        return (
            on_partial is not None
            and self.capabilities.streaming
            and self.output.partial_images > 0
            and options.n == 1
        )

    async def generate(
        self,
        prompt: str,
        options: ImageOptions,
        *,
        safety_identifier: str | None = None,
        on_partial: OnPartial | None = None,
        on_progress: OnProgress | None = None,
    ) -> ProviderAnswer:
        """One request for `options.n` images, answered as base64 (never a second download)."""
        request = self._request(prompt, options, safety_identifier)
        return await self._call(self._client.images.generate, request, options, on_partial)

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
        """`images.edit`: the first image is edited (under `mask`), the others guide it."""
        if not self.capabilities.edits:
            raise ProviderError(f"{self.model} cannot edit images.")
        request = self._request(prompt, options, safety_identifier)
        request.pop("style", None)
        request["image"] = [(image.name, image.data, image.content_type) for image in images]
        if mask is not None:
            request["mask"] = ("mask.png", mask, "image/png")
        return await self._call(self._client.images.edit, request, options, on_partial)

    async def _call(
        self, method, request: dict, options: ImageOptions, on_partial: OnPartial | None
    ) -> ProviderAnswer:
        try:
            if self._streams(options, on_partial):
                return await self._stream(method, request, on_partial)
            response = await method(**request)
        except openai.OpenAIError as exc:
            raise provider_error(
                exc, label=self.label, timeout_s=_timeout_seconds(self._client)
            ) from exc
        images = [self._decode(item.b64_json, item.revised_prompt) for item in response.data or []]
        if not images:
            raise ProviderError(f"{self.label} answered without any image data.")
        return ProviderAnswer(images, usage_of(getattr(response, "usage", None), len(images)))

    async def _stream(self, method, request: dict, on_partial: OnPartial) -> ProviderAnswer:
        """Server-sent events: partial images as they form, then the image itself."""
        stream = await method(**request, stream=True, partial_images=self.output.partial_images)
        async with stream:
            async for event in stream:
                if event.type in _PARTIAL_EVENTS:
                    preview = self._decode(event.b64_json, None)
                    on_partial(0, preview.data, preview.content_type)
                elif event.type in _COMPLETED_EVENTS:
                    usage = usage_of(getattr(event, "usage", None), 1)
                    return ProviderAnswer([self._decode(event.b64_json, None)], usage)
        raise ProviderError(f"{self.label} ended the stream without the image.")

    async def check_reachable(self) -> str:
        """Ask for the model's entry in the model list: free, and proves the key and address.

        An OpenAI-compatible server without a model list still answered, so it is reachable.
        """
        try:
            await self._client.models.retrieve(self._request_model, timeout=5.0)
        except openai.NotFoundError:
            if self.name == "openai":
                raise ProviderError(f"{self.label} does not know the model {self.model}.") from None
        except openai.OpenAIError as exc:
            raise provider_error(exc, label=self.label, timeout_s=5.0) from exc
        return f"{self.label}: reachable"

    def _decode(self, b64_json: str | None, revised_prompt: str | None) -> GeneratedImage:
        if not b64_json:
            raise ProviderError(f"{self.label} answered without image data (no b64_json).")
        try:
            data = base64.b64decode(b64_json, validate=True)
        except (binascii.Error, ValueError) as exc:
            raise ProviderError(f"{self.label} sent image data that is not an image.") from exc
        return image_from(data, self.label, revised_prompt)


def usage_of(usage, images: int) -> ProviderUsage:
    """The Images API's `usage` (GPT image models) as a ProviderUsage; images counted anyway.

    `output_tokens` are image tokens unless `output_tokens_details` splits them.
    """
    if usage is None:
        return ProviderUsage(images=images)
    inputs = getattr(usage, "input_tokens_details", None)
    outputs = getattr(usage, "output_tokens_details", None)
    output_tokens = getattr(usage, "output_tokens", 0) or 0
    text_in = getattr(inputs, "text_tokens", None)
    image_in = getattr(inputs, "image_tokens", None) or 0
    image_out = getattr(outputs, "image_tokens", None)
    return ProviderUsage(
        input_text_tokens=text_in
        if text_in is not None
        else getattr(usage, "input_tokens", 0) or 0,
        input_image_tokens=image_in,
        output_image_tokens=image_out if image_out is not None else output_tokens,
        output_text_tokens=(getattr(outputs, "text_tokens", 0) or 0) if outputs else 0,
        images=images,
    )


def _timeout_seconds(client: openai.AsyncOpenAI) -> float:
    timeout = client.timeout
    if isinstance(timeout, int | float):
        return float(timeout)
    return float(getattr(timeout, "read", None) or getattr(timeout, "connect", None) or 0)
