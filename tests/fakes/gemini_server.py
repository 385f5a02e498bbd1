"""A stand-in for Google's Gemini API on loopback, speaking `generateContent`'s wire format.

The real `google-genai` SDK talks to it through `HttpOptions(base_url=...)`:
`POST /{version}/models/{model}:generateContent` with the key in `x-goog-api-key`, answered
with `candidates[0].content.parts[].inlineData` and `usageMetadata`; `GET /{version}/models/
{model}` reads a model. Markers in the prompt choose a behaviour: `[image-safety]`
(finishReason IMAGE_SAFETY, no image), `[blocked]` (promptFeedback.blockReason
PROHIBITED_CONTENT), `[text-only]` (a text part, no image), `[429]` (RESOURCE_EXHAUSTED),
`[500]`.
"""

from __future__ import annotations

import base64
import io
from dataclasses import dataclass, field

from PIL import Image as PILImage
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from tests.fakes.loopback import LoopbackServer
from visionary_app.services.generation.providers.offline import render_png

# Gemini 2.5 Flash Image bills 1,290 output tokens per image; each input image is 258 tokens.
IMAGE_OUTPUT_TOKENS = 1290
IMAGE_INPUT_TOKENS = 258


@dataclass
class GeminiCall:
    """One generateContent request as the server saw it."""

    model: str
    texts: list[str]
    images: list[bytes]
    config: dict


@dataclass
class FakeGemini(LoopbackServer):
    """The stand-in's state: the accepted key and every call it answered."""

    api_key: str = "gemini-test-key-0123456789"
    short_side: int = 192
    calls: list[GeminiCall] = field(default_factory=list)
    sent: list[bytes] = field(default_factory=list)  # every image it answered with
    port: int = 0

    @property
    def base_url(self) -> str:
        """What VISIONARY_GEMINI_BASE_URL takes."""
        return f"http://127.0.0.1:{self.port}"

    @staticmethod
    def _error(status: int, name: str, message: str) -> JSONResponse:
        return JSONResponse(
            {"error": {"code": status, "message": message, "status": name}}, status_code=status
        )

    def _dimensions(self, aspect_ratio: str | None) -> tuple[int, int]:
        across, _, down = (aspect_ratio or "1:1").partition(":")
        ratio = int(across) / int(down)
        if ratio >= 1:
            return round(self.short_side * ratio), self.short_side
        return self.short_side, round(self.short_side / ratio)

    async def models(self, request: Request):
        """`{model}:generateContent` (POST) or the model itself (GET)."""
        if request.headers.get("x-goog-api-key") != self.api_key:
            return self._error(
                400, "INVALID_ARGUMENT", "API key not valid. Please pass a valid API key."
            )
        name, _, method = request.path_params["rest"].partition(":")
        if request.method == "GET":
            return JSONResponse({"name": f"models/{name}", "displayName": name})
        if method != "generateContent":
            return self._error(404, "NOT_FOUND", f"no method {method}")
        return await self._generate(name, await request.json())

    async def _generate(self, model: str, body: dict) -> JSONResponse:
        texts, images = [], []
        for content in body.get("contents", []):
            for part in content.get("parts", []):
                if "text" in part:
                    texts.append(part["text"])
                elif "inlineData" in part:
                    data = part["inlineData"]["data"]
                    images.append(base64.urlsafe_b64decode(data + "=" * (-len(data) % 4)))
        config = body.get("generationConfig", {})
        self.calls.append(GeminiCall(model, texts, images, config))
        prompt = " ".join(texts)
        if "[429]" in prompt:
            return self._error(429, "RESOURCE_EXHAUSTED", "Resource has been exhausted.")
        if "[500]" in prompt:
            return self._error(500, "INTERNAL", "An internal error has occurred.")
        usage = {
            "promptTokenCount": 12 + IMAGE_INPUT_TOKENS * len(images),
            "promptTokensDetails": [{"modality": "TEXT", "tokenCount": 12}]
            + ([{"modality": "IMAGE", "tokenCount": IMAGE_INPUT_TOKENS * len(images)}]
               if images else []),
        }  # fmt: skip
        if "[blocked]" in prompt:
            return JSONResponse(
                {"promptFeedback": {"blockReason": "PROHIBITED_CONTENT"}, "usageMetadata": usage}
            )
        if "[image-safety]" in prompt:
            candidate = {"content": {"role": "model", "parts": []}, "finishReason": "IMAGE_SAFETY"}
            return JSONResponse({"candidates": [candidate], "usageMetadata": usage})
        if "[text-only]" in prompt:
            parts = [{"text": "I can only describe that picture, not draw it."}]
            candidate = {"content": {"role": "model", "parts": parts}, "finishReason": "STOP"}
            return JSONResponse({"candidates": [candidate], "usageMetadata": usage})
        aspect = (config.get("imageConfig") or {}).get("aspectRatio")
        width, height = self._dimensions(aspect)
        picture = render_png(f"gemini:{prompt}:{len(images)}", width, height)
        if images:  # an edit: keep the first image's look in the corner, so a test can tell
            with PILImage.open(io.BytesIO(images[0])) as source:
                canvas = PILImage.open(io.BytesIO(picture)).convert("RGB")
                canvas.paste(source.convert("RGB").resize((width // 4, height // 4)), (0, 0))
                out = io.BytesIO()
                canvas.save(out, format="PNG")
                picture = out.getvalue()
        self.sent.append(picture)
        parts = [{"inlineData": {"mimeType": "image/png",
                                 "data": base64.b64encode(picture).decode()}}]  # fmt: skip
        usage |= {
            "candidatesTokenCount": IMAGE_OUTPUT_TOKENS,
            "candidatesTokensDetails": [{"modality": "IMAGE", "tokenCount": IMAGE_OUTPUT_TOKENS}],
            "totalTokenCount": usage["promptTokenCount"] + IMAGE_OUTPUT_TOKENS,
        }
        candidate = {"content": {"role": "model", "parts": parts}, "finishReason": "STOP"}
        return JSONResponse(
            {"candidates": [candidate], "usageMetadata": usage, "modelVersion": model}
        )

    def asgi(self) -> Starlette:
        """The routes the SDK calls, under any API version."""
        return Starlette(
            routes=[Route("/{version}/models/{rest:path}", self.models, methods=["GET", "POST"])]
        )
