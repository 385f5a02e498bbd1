"""A fake OpenAI / Azure OpenAI server on loopback that speaks the real wire format.

The real `openai` SDK talks to it over HTTP: `images/generations` (JSON) and `images/edits`
(multipart: one or more images, an optional mask), each answered at once or, with
`stream=true`, as server-sent events (`image_generation.partial_image` ... `.completed`, and
the `image_edit.*` equivalents). Markers in the prompt choose a behaviour: `[refuse]`
(moderation_blocked), `[policy]` (content_policy_violation), `[429]` (always rate limited),
`[429-once]` (rate limited once, then fine), `[500]`, `[401]`, `[slow]` (answers, or ends its
stream, after SLOW_S seconds), `[linger]` (a stream ends LINGER_S after its partials),
`[revise]` (adds a revised_prompt), `[not-an-image]`, `[c2pa]` (the image carries C2PA
content credentials, signed as OpenAI signs its images).
"""

from __future__ import annotations

import asyncio
import base64
import io
import json
import time
from collections import Counter
from dataclasses import dataclass, field

from PIL import Image as PILImage
from starlette.applications import Starlette
from starlette.datastructures import UploadFile
from starlette.requests import Request
from starlette.responses import JSONResponse, StreamingResponse
from starlette.routing import Route

from tests.fakes.loopback import LoopbackServer
from tests.support.content_credentials import sign_image
from visionary_app.services.generation.providers.base import InputImage
from visionary_app.services.generation.providers.capabilities import size_problem
from visionary_app.services.generation.providers.offline import (
    coarse_preview,
    render_edit,
    render_png,
)

SLOW_S = 10.0
LINGER_S = 3.0
SUGGESTION = "a paper boat sailing through a neon-lit canal, watercolour on textured paper"
GPT_IMAGE_SIZES = {"1024x1024", "1536x1024", "1024x1536", "auto"}


# OpenAI's documented image output tokens of GPT image models, by quality and size
# (https://platform.openai.com/docs/guides/image-generation, "Cost and latency").
OUTPUT_TOKENS = {
    "low": {"1024x1024": 272, "1024x1536": 408, "1536x1024": 400},
    "medium": {"1024x1024": 1056, "1024x1536": 1584, "1536x1024": 1568},
    "high": {"1024x1024": 4160, "1024x1536": 6240, "1536x1024": 6208},
}
PARTIAL_IMAGE_TOKENS = 100  # each streamed partial image


def usage_for(body: dict, prompt: str, n: int, partials: int = 0) -> dict:
    """The `usage` the Images API reports: documented output tokens, partials included."""
    quality = body.get("quality") or "medium"
    per_size = OUTPUT_TOKENS.get(quality if quality in OUTPUT_TOKENS else "medium")
    size = body.get("size") or "1024x1024"
    if size not in per_size:  # any other size: by its area against the square's
        across, _, down = size.partition("x")
        area = int(across) * int(down) if across.isdigit() and down.isdigit() else 1024 * 1024
        tokens = round(per_size["1024x1024"] * area / (1024 * 1024))
    else:
        tokens = per_size[size]
    output = tokens * n + PARTIAL_IMAGE_TOKENS * partials
    text = max(1, len(prompt) // 4)
    images_in = 1500 * len(body.get("image") or [])
    return {"input_tokens": text + images_in, "output_tokens": output,
            "total_tokens": text + images_in + output,
            "input_tokens_details": {"image_tokens": images_in, "text_tokens": text}}  # fmt: skip


@dataclass
class Recorded:
    """One request as the server saw it."""

    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: dict


@dataclass
class FakeOpenAI(LoopbackServer):
    """The fake server's state: accepted keys, what it received, per-prompt counters."""

    api_key: str = "sk-test-fake-openai-key-0123456789"
    azure_key: str = "azure-test-fake-key-0123456789"
    image_px: int = 256
    requests: list[Recorded] = field(default_factory=list)
    sent: list[bytes] = field(default_factory=list)  # every generated image it answered with
    seen: Counter = field(default_factory=Counter)
    port: int = 0

    @property
    def base_url(self) -> str:
        """OpenAI-style base URL (what OPENAI_BASE_URL takes)."""
        return f"http://127.0.0.1:{self.port}/v1"

    @property
    def azure_endpoint(self) -> str:
        """Azure-style endpoint (what AZURE_OPENAI_ENDPOINT takes)."""
        return f"http://127.0.0.1:{self.port}"

    def _error(self, status: int, code: str | None, message: str, **headers: str):
        body = {"error": {"message": message, "type": "invalid_request_error", "param": None,
                          "code": code}}  # fmt: skip
        return JSONResponse(body, status_code=status, headers=headers)

    def _authorised(self, request: Request, azure: bool) -> bool:
        if azure:
            return request.headers.get("api-key") == self.azure_key
        return request.headers.get("authorization") == f"Bearer {self.api_key}"

    @staticmethod
    def _kind(request: Request) -> tuple[bool, bool]:
        """(Azure, Azure's v1 API): v1 takes OpenAI's paths under /openai/v1, no api-version."""
        path = request.url.path
        return path.startswith("/openai/"), path.startswith("/openai/v1/")

    async def _record(self, request: Request) -> dict:
        if request.headers.get("content-type", "").startswith("multipart/form-data"):
            body = await self._form(request)
        else:
            body = await request.json()
        self.requests.append(
            Recorded(
                path=request.url.path,
                query=dict(request.query_params),
                headers={k: v for k, v in request.headers.items() if k in ("api-key",)},
                body=body,
            )
        )
        return body

    @staticmethod
    async def _form(request: Request) -> dict:
        """An edit's multipart form as a dict: plain fields typed as OpenAI's JSON would be,
        files as {"name", "content_type", "data"} (`image` always a list)."""
        body: dict = {"image": []}
        async with request.form(max_files=32, max_part_size=64 * 1024 * 1024) as form:
            for key, value in form.multi_items():
                if isinstance(value, UploadFile):
                    item = {"name": value.filename, "content_type": value.content_type,
                            "data": await value.read()}  # fmt: skip
                    if key in ("image", "image[]"):
                        body["image"].append(item)
                    else:
                        body[key] = item
                elif key in ("n", "partial_images", "output_compression"):
                    body[key] = int(value)
                elif key == "stream":
                    body[key] = value == "true"
                else:
                    body[key] = value
        return body

    def _edit_problem(self, body: dict) -> str | None:
        """What the real API would refuse in an edit's images and mask, if anything."""
        images = body.get("image") or []
        if not images:
            return "image is required"
        sizes = []
        for item in images:
            try:
                with PILImage.open(io.BytesIO(item["data"])) as picture:
                    if picture.format not in ("PNG", "JPEG", "WEBP"):
                        return f"Invalid image file: {item['name']}"
                    sizes.append(picture.size)
            except OSError:
                return f"Invalid image file or mode for image {item['name']}"
        mask = body.get("mask")
        if mask is not None:
            try:
                with PILImage.open(io.BytesIO(mask["data"])) as picture:
                    if picture.format != "PNG" or "A" not in picture.getbands():
                        return "The mask must be a PNG with an alpha channel."
                    if picture.size != sizes[0]:
                        return "The mask must have the same dimensions as the image."
            except OSError:
                return "Invalid mask file."
        return None

    async def edits(self, request: Request):
        return await self.images(request, edit=True)

    async def images(self, request: Request, edit: bool = False):
        azure, v1 = self._kind(request)
        body = await self._record(request)
        if azure and not v1 and not request.query_params.get("api-version"):
            return self._error(400, "missing_api_version", "api-version is required")
        if not self._authorised(request, azure):
            return self._error(401, "invalid_api_key", "Incorrect API key provided.")
        prompt = body.get("prompt", "")
        model = body.get("model", "")
        self.seen[prompt] += 1
        if not prompt:
            return self._error(400, "invalid_prompt", "prompt is required")
        if model.startswith("gpt-image") and "response_format" in body:
            return self._error(400, "unknown_parameter", "Unknown parameter: 'response_format'.")
        size = body.get("size", "auto")
        free_form = model.startswith("gpt-image-2") and size_problem(size) is None
        if model.startswith("gpt-image") and size not in GPT_IMAGE_SIZES and not free_form:
            return self._error(400, "invalid_value", f"Invalid size '{size}'.")
        n = body.get("n", 1)
        if not isinstance(n, int) or not 1 <= n <= 10:
            return self._error(400, "invalid_value", "n must be between 1 and 10")
        if "[401]" in prompt:
            return self._error(401, "invalid_api_key", "Incorrect API key provided.")
        if "[refuse]" in prompt:
            return self._error(
                400, "moderation_blocked", "Your request was rejected by the safety system."
            )
        if "[policy]" in prompt:
            return self._error(
                400, "content_policy_violation", "Your prompt may contain disallowed content."
            )
        if "[429]" in prompt:
            return self._error(429, "rate_limit_exceeded", "Rate limit reached.", **{
                "retry-after": "2"})  # fmt: skip
        if "[429-once]" in prompt and self.seen[prompt] == 1:
            return self._error(429, "rate_limit_exceeded", "Rate limit reached.", **{
                "retry-after": "1"})  # fmt: skip
        if "[500]" in prompt:
            return self._error(500, "server_error", "The server had an error.")
        if edit and (problem := self._edit_problem(body)):
            return self._error(400, "invalid_value", problem)
        if body.get("stream"):
            return self._stream(body, prompt, edit)
        if "[slow]" in prompt:
            await asyncio.sleep(SLOW_S)
        data = []
        for index in range(n):
            if "[not-an-image]" in prompt:
                b64 = base64.b64encode(b"<html>not an image</html>").decode()
            elif "[huge]" in prompt:  # 400 M pixels in a few kilobytes: a decompression bomb
                buffer = io.BytesIO()
                PILImage.new("1", (20_000, 20_000)).save(buffer, format="PNG")
                b64 = base64.b64encode(buffer.getvalue()).decode()
            else:
                b64 = base64.b64encode(await self._picture(body, prompt, index, edit)).decode()
            item = {"b64_json": b64}
            if "[revise]" in prompt:
                item["revised_prompt"] = f"REVISED: {prompt} with dramatic lighting"
            data.append(item)
        return JSONResponse(
            {
                "created": int(time.time()),
                "data": data,
                "background": "opaque",
                "output_format": "png",
                "quality": "medium",
                "size": body.get("size", "1024x1024"),
                "usage": usage_for(body, prompt, n),
            }
        )  # fmt: skip

    async def _picture(self, body: dict, prompt: str, index: int, edit: bool) -> bytes:
        if not edit:
            picture = await asyncio.to_thread(
                render_png, f"{prompt}#{index}", self.image_px, self.image_px
            )
            if "[c2pa]" in prompt:
                picture = await asyncio.to_thread(sign_image, picture, "image/png", "GPT-4o")
            self.sent.append(picture)
            return picture
        images = [InputImage(item["data"], item["content_type"]) for item in body["image"]]
        mask = body["mask"]["data"] if "mask" in body else None
        return await asyncio.to_thread(render_edit, prompt, images, mask, None, index)

    def _stream(self, body: dict, prompt: str, edit: bool) -> StreamingResponse:
        """Server-sent events as OpenAI sends them: partial images, then the completed one."""
        kind = "image_edit" if edit else "image_generation"
        partials = body.get("partial_images") or 0
        common = {"background": "opaque", "output_format": "png", "quality": "medium",
                  "size": body.get("size", "1024x1024")}  # fmt: skip

        def event(name: str, payload: dict) -> bytes:
            data = json.dumps({"type": name, "created_at": int(time.time()), **common, **payload})
            return f"event: {name}\ndata: {data}\n\n".encode()

        async def events():
            final = await self._picture(body, prompt, 0, edit)
            for step in range(partials):
                picture = PILImage.open(io.BytesIO(final))
                preview = await asyncio.to_thread(coarse_preview, picture, step, partials)
                b64 = base64.b64encode(preview).decode()
                yield event(f"{kind}.partial_image", {"b64_json": b64, "partial_image_index": step})
                await asyncio.sleep(0.3)
            if "[slow]" in prompt:
                await asyncio.sleep(SLOW_S)
            elif "[linger]" in prompt:  # the last partial stays on screen a while
                await asyncio.sleep(LINGER_S)
            usage = usage_for(body, prompt, 1, partials)
            b64 = base64.b64encode(final).decode()
            yield event(f"{kind}.completed", {"b64_json": b64, "usage": usage})

        return StreamingResponse(events(), media_type="text/event-stream")

    async def chat(self, request: Request):
        azure = request.url.path.startswith("/openai/")
        body = await self._record(request)
        if not self._authorised(request, azure):
            return self._error(401, "invalid_api_key", "Incorrect API key provided.")
        return JSONResponse(
            {
                "id": "chatcmpl-fake",
                "object": "chat.completion",
                "created": int(time.time()),
                "model": body.get("model", ""),
                "choices": [
                    {
                        "index": 0,
                        "finish_reason": "stop",
                        "message": {"role": "assistant", "content": f'"{SUGGESTION}"\n'},
                    }
                ],
                "usage": {"prompt_tokens": 20, "completion_tokens": 20, "total_tokens": 40},
            }
        )

    async def model(self, request: Request):
        """`GET /models/{model}`: what the app's readiness check asks (free, needs the key)."""
        azure, _ = self._kind(request)
        if not self._authorised(request, azure):
            return self._error(401, "invalid_api_key", "Incorrect API key provided.")
        name = request.path_params["model"]
        return JSONResponse({"id": name, "object": "model", "created": 0, "owned_by": "fake"})

    def asgi(self) -> Starlette:
        """The ASGI app with OpenAI's and Azure OpenAI's routes."""
        return Starlette(
            routes=[
                Route("/v1/images/generations", self.images, methods=["POST"]),
                Route("/v1/models/{model}", self.model, methods=["GET"]),
                Route("/openai/v1/models/{model}", self.model, methods=["GET"]),
                Route("/openai/models/{model}", self.model, methods=["GET"]),
                Route("/v1/images/edits", self.edits, methods=["POST"]),
                Route("/openai/v1/images/edits", self.edits, methods=["POST"]),
                Route("/openai/deployments/{name}/images/edits", self.edits, methods=["POST"]),
                Route("/v1/chat/completions", self.chat, methods=["POST"]),
                Route("/openai/v1/images/generations", self.images, methods=["POST"]),
                Route("/openai/deployments/{name}/images/generations", self.images,
                      methods=["POST"]),
                Route("/openai/deployments/{name}/chat/completions", self.chat, methods=["POST"]),
            ]
        )  # fmt: skip
