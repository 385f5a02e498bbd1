"""Hosted open models (the FLUX family and others) on Replicate, through its official client.

A prediction is created on the model (`POST /v1/models/{owner}/{name}/predictions`, waiting
for the answer where the model is quick), followed until it ends, and its output files
(URLs, or data URLs) are read as they were made. A cancelled job cancels its prediction.
"""

from __future__ import annotations

import asyncio
import base64
from urllib.parse import urlsplit

import httpx
import replicate
from replicate.exceptions import ModelError, ReplicateError

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
from visionary_app.services.generation.providers.errors import status_error

__all__ = ["ReplicateProvider"]

_SAFETY_WORDS = ("nsfw", "safety", "sensitive")


class ReplicateProvider:
    """One Replicate model (`owner/name`) as an image provider."""

    name = "replicate"

    def __init__(
        self,
        client: replicate.Client,
        *,
        model: str,
        capabilities: ModelCapabilities,
        label: str = "Replicate",
        timeout_s: float = 120.0,
    ) -> None:
        self._client = client
        self.model = model
        self.capabilities = capabilities
        self.label = label
        self.timeout_s = timeout_s

    def _input(self, prompt: str, options: ImageOptions) -> dict:
        request: dict = {"prompt": prompt, "aspect_ratio": options.size or "1:1"}
        if self.capabilities.max_n > 1:
            request["num_outputs"] = options.n
        if options.seed is not None:
            request["seed"] = options.seed
        request["output_format"] = "png"
        return request

    async def generate(
        self,
        prompt: str,
        options: ImageOptions,
        *,
        safety_identifier: str | None = None,
        on_partial: OnPartial | None = None,
        on_progress: OnProgress | None = None,
    ) -> ProviderAnswer:
        """One prediction making `options.n` images."""
        return await self._predict(self._input(prompt, options))

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
        """An instruction edit of the first image (the model takes no mask)."""
        if not self.capabilities.edits or not images:
            raise ProviderError(f"{self.model} cannot edit images.")
        if mask is not None:
            raise ProviderError(
                f"{self.model} edits by instruction and takes no mask: clear the painting and "
                "say what should change."
            )
        request = self._input(prompt, options)
        source = images[0]
        encoded = base64.b64encode(source.data).decode()
        request["input_image"] = f"data:{source.content_type};base64,{encoded}"
        request["aspect_ratio"] = "match_input_image"
        return await self._predict(request)

    async def _predict(self, request: dict) -> ProviderAnswer:
        prediction = None
        try:
            prediction = await self._client.models.predictions.async_create(
                model=self.model, input=request, wait=True
            )
            async with asyncio.timeout(self.timeout_s):
                await prediction.async_wait()
        except asyncio.CancelledError:
            if prediction is not None and prediction.status not in ("succeeded", "failed"):
                await asyncio.shield(self._cancel(prediction))
            raise
        except TimeoutError as exc:
            if prediction is not None:
                await asyncio.shield(self._cancel(prediction))
            raise ProviderError(
                f"{self.label} did not finish within {self.timeout_s:g} s. Nothing was stored.",
                "timeout",
            ) from exc
        except ReplicateError as exc:
            raise status_error(self.label, exc.status or 0, exc.detail or exc.title or "") from exc
        except ModelError as exc:
            raise self._failed(exc.prediction.error) from exc
        except httpx.TimeoutException as exc:
            raise ProviderError(
                f"{self.label} did not answer in time. Nothing was stored; try again.", "timeout"
            ) from exc
        except httpx.HTTPError as exc:
            raise ProviderError(
                f"Could not connect to {self.label}. Nothing was stored; try again later.",
                "connection",
            ) from exc
        metrics = prediction.metrics or {}
        seconds = float(metrics.get("predict_time") or 0.0)
        if prediction.status != "succeeded":
            error = self._failed(prediction.error or prediction.status)
            error.usage = ProviderUsage(seconds=seconds)
            raise error
        urls = prediction.output if isinstance(prediction.output, list) else [prediction.output]
        images = [self._decode(await self._read(str(url))) for url in urls if url]
        if not images:
            raise ProviderError(f"{self.label} answered without an image; nothing was stored.")
        count = int(metrics.get("image_count") or len(images))
        return ProviderAnswer(images, ProviderUsage(images=count, seconds=seconds))

    async def _cancel(self, prediction) -> None:
        try:
            await prediction.async_cancel()
        except (ReplicateError, httpx.HTTPError):
            pass  # it ends on its own; the job is cancelled here either way

    def _failed(self, error: object) -> ProviderError:
        text = str(error or "the prediction failed").strip().splitlines()[0][:300]
        if any(word in text.lower() for word in _SAFETY_WORDS):
            return ProviderError(
                f"The prompt was refused by {self.label}'s safety checker ({text}). Rephrase it "
                "and try again; nothing was stored.",
                "safety",
            )
        return ProviderError(f"{self.model} failed on {self.label}: {text}", "server")

    async def _read(self, url: str) -> bytes:
        """An output file: a data URL, or a file to download (outputs are public)."""
        if url.startswith("data:"):
            return base64.b64decode(url.partition(",")[2])
        if urlsplit(url).scheme not in ("http", "https"):
            raise ProviderError(f"{self.label} answered with an address this app will not read.")
        async with httpx.AsyncClient(timeout=self.timeout_s, follow_redirects=True) as http:
            response = await http.get(url)
        if response.status_code >= 400:
            raise ProviderError(f"{self.label}'s output file could not be read; try again.")
        return response.content

    def _decode(self, data: bytes) -> GeneratedImage:
        return image_from(data, self.label)

    async def check_reachable(self) -> str:
        """Read the model's page on the API (free): proves the token and the model name."""
        owner, _, name = self.model.partition("/")
        try:
            await self._client.models.async_get(f"{owner}/{name}")
        except ReplicateError as exc:
            raise status_error(self.label, exc.status or 0, exc.detail or "") from exc
        except httpx.HTTPError as exc:
            raise ProviderError(
                f"{self.label} does not answer ({exc.__class__.__name__}).", "connection"
            ) from exc
        return f"{self.label}: reachable"
