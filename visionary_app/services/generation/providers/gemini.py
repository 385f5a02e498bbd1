"""Images from Google's Gemini image models, through Google's own `google-genai` SDK.

One `generate_content` call with image output makes one image, so `n` images are `n` calls at
once. Edits send the source and any references as inline image parts before the instruction.
Gemini edits by instruction and takes no mask: a painted mask is sent as one more picture,
white where to change, with words that say so (the editor tells the user this).
"""

from __future__ import annotations

import asyncio
import io

from google import genai
from google.genai import types
from PIL import Image as PILImage

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
from visionary_app.services.generation.providers.errors import gemini_error

__all__ = ["MASK_INSTRUCTION", "GeminiImageProvider", "mask_as_picture"]

# What the model is told about the mask picture, after the images and before the prompt.
MASK_INSTRUCTION = (
    "The last image is a mask of the first one: change only the area that is white in the "
    "mask and keep everything under black exactly as it is."
)
# Finish reasons that mean the model (or its safety system) would not make the image.
_REFUSALS = {
    "SAFETY": "its safety system",
    "IMAGE_SAFETY": "its safety system",
    "PROHIBITED_CONTENT": "its content policy",
    "BLOCKLIST": "its blocklist",
    "SPII": "its privacy rules",
    "RECITATION": "its rules on reproducing existing work",
    "IMAGE_PROHIBITED_CONTENT": "its content policy",
    "IMAGE_RECITATION": "its rules on reproducing existing work",
}


def mask_as_picture(mask: bytes) -> bytes:
    """Our mask (transparent where to change) as a black picture, white where to change."""
    with PILImage.open(io.BytesIO(mask)) as picture:
        alpha = picture.convert("RGBA").getchannel("A")
    white_where_clear = alpha.point(lambda value: 255 if value == 0 else 0)
    out = io.BytesIO()
    white_where_clear.convert("RGB").save(out, format="PNG")
    return out.getvalue()


def _by_modality(details, total: int | None) -> tuple[int, int]:
    """(text, image) tokens of a list of {modality, tokenCount}; all of `total` as text if none."""
    if not details:
        return total or 0, 0
    text = image = 0
    for detail in details:
        modality = str(getattr(detail.modality, "value", detail.modality) or "")
        if modality == "IMAGE":
            image += detail.token_count or 0
        else:
            text += detail.token_count or 0
    return text, image


def _usage(metadata) -> ProviderUsage:
    """`usageMetadata`: prompt tokens by modality, and the candidates' (image) tokens."""
    if metadata is None:
        return ProviderUsage(images=1)
    text_in, image_in = _by_modality(metadata.prompt_tokens_details, metadata.prompt_token_count)
    if metadata.candidates_tokens_details:
        text_out, image_out = _by_modality(metadata.candidates_tokens_details, 0)
    else:
        text_out, image_out = 0, metadata.candidates_token_count or 0
    return ProviderUsage(
        input_text_tokens=text_in,
        input_image_tokens=image_in,
        output_image_tokens=image_out,
        output_text_tokens=text_out + (metadata.thoughts_token_count or 0),
        images=1,
    )


class GeminiImageProvider:
    """`generate_content` with image output on a `genai.Client` (Gemini API or Vertex AI)."""

    name = "gemini"

    def __init__(
        self,
        client: genai.Client,
        *,
        model: str,
        capabilities: ModelCapabilities,
        label: str = "Google Gemini",
        timeout_s: float = 120.0,
    ) -> None:
        self._client = client
        self.model = model
        self.capabilities = capabilities
        self.label = label
        self.timeout_s = timeout_s

    def _config(self, options: ImageOptions) -> types.GenerateContentConfig:
        image = types.ImageConfig(aspect_ratio=options.size or None)
        if options.quality and self.capabilities.qualities:
            image.image_size = options.quality
        return types.GenerateContentConfig(response_modalities=["IMAGE"], image_config=image)

    async def generate(
        self,
        prompt: str,
        options: ImageOptions,
        *,
        safety_identifier: str | None = None,
        on_partial: OnPartial | None = None,
        on_progress: OnProgress | None = None,
    ) -> ProviderAnswer:
        """`options.n` calls at once, one image each."""
        return await self._images([prompt], options)

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
        """The images (the edited one first), the mask as a picture if painted, the prompt."""
        if not images:
            raise ProviderError("An edit needs an image.")
        parts: list = [
            types.Part.from_bytes(data=image.data, mime_type=image.content_type) for image in images
        ]
        text = prompt
        if mask is not None:
            parts.append(types.Part.from_bytes(data=mask_as_picture(mask), mime_type="image/png"))
            text = f"{MASK_INSTRUCTION}\n\n{prompt}"
        return await self._images([*parts, text], options)

    async def _images(self, contents: list, options: ImageOptions) -> ProviderAnswer:
        calls = [self._one(contents, options) for _ in range(max(1, options.n))]
        results = await asyncio.gather(*calls, return_exceptions=True)
        images, usage, failures = [], ProviderUsage(), []
        for result in results:
            if isinstance(result, BaseException):
                if not isinstance(result, ProviderError):
                    raise result
                failures.append(result)
                if result.usage is not None:
                    usage = usage + result.usage
                continue
            image, used = result
            images.append(image)
            usage = usage + used
        if not images:
            failure = failures[0]
            failure.usage = usage
            raise failure
        return ProviderAnswer(images, usage)

    async def _one(
        self, contents: list, options: ImageOptions
    ) -> tuple[GeneratedImage, ProviderUsage]:
        try:
            response = await self._client.aio.models.generate_content(
                model=self.model, contents=contents, config=self._config(options)
            )
        except Exception as exc:
            raise gemini_error(exc, label=self.label, timeout_s=self.timeout_s) from exc
        usage = _usage(response.usage_metadata)
        feedback = response.prompt_feedback
        block = getattr(feedback, "block_reason", None) if feedback else None
        if block:
            reason = str(getattr(block, "value", block))
            error = self._refused(reason)
            error.usage = usage
            raise error
        candidate = response.candidates[0] if response.candidates else None
        parts = (candidate.content.parts if candidate and candidate.content else None) or []
        for part in parts:
            if part.inline_data is not None and part.inline_data.data:
                return self._decode(part.inline_data.data), usage
        finish = getattr(candidate, "finish_reason", None) if candidate else None
        reason = str(getattr(finish, "value", finish) or "")
        if reason in _REFUSALS:
            error = self._refused(reason)
        else:
            said = " ".join(part.text.strip() for part in parts if part.text).strip()
            detail = f' It said: "{said[:200]}"' if said else ""
            error = ProviderError(
                f"{self.label} answered without an image; nothing was stored.{detail}", "refused"
            )
        error.usage = usage
        raise error

    def _refused(self, reason: str) -> ProviderError:
        why = _REFUSALS.get(reason, "its safety system")
        return ProviderError(
            f"The prompt was refused by {self.label} under {why} ({reason}). Rephrase it and "
            "try again; nothing was stored.",
            "safety",
        )

    def _decode(self, data: bytes) -> GeneratedImage:
        return image_from(data, self.label)

    async def check_reachable(self) -> str:
        """Read the model's entry (free): proves the address, the key and the model name."""
        try:
            await self._client.aio.models.get(model=self.model)
        except Exception as exc:
            raise gemini_error(exc, label=self.label, timeout_s=self.timeout_s) from exc
        return f"{self.label}: reachable"
