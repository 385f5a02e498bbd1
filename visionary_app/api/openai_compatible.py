"""OpenAI's image endpoints in front of the gallery: `/v1/images/generations` and `/edits`.

Existing clients (the official `openai` SDK, Open WebUI, LibreChat) set their base URL to
`https://<host>/v1` and use an API token as their key. Each request becomes a job like any
other (queue, caps, cost limits), owned by the token's user, on whichever provider the app is
configured with; its images land in that user's gallery. Answers are in OpenAI's format:
`b64_json`, or `url` as a signed URL, or server-sent events when `stream` is asked.
"""

from __future__ import annotations

import base64
import dataclasses
import json
import logging
import time
from collections.abc import Callable

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, StreamingResponse
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from visionary_app.api.v1 import (
    Problem,
    check_mask,
    holder_for,
    requested_options,
    retry_after,
)
from visionary_app.models import GenerationJob, Image, ImageKind
from visionary_app.services.generation import (
    QUEUE_UNAVAILABLE,
    Cancelled,
    Failed,
    GenerationFailed,
    ImageOptions,
    JobEvent,
    MaskRefused,
    PartialImage,
    Stored,
    UploadRefused,
    options_for_source,
)
from visionary_app.services.limits import LimitReached, QueueUnavailable
from visionary_app.services.storage import StorageError
from visionary_app.services.studio import Studio

__all__ = ["build_openai_compatible"]

logger = logging.getLogger(__name__)


class ImageRequest(BaseModel):
    """The fields of OpenAI's image requests this app honours; others are ignored."""

    model_config = ConfigDict(extra="ignore")

    prompt: str = Field(max_length=100_000)
    # A model on the studio's menu (its id or name); with one model, any name means it.
    model: str | None = None
    n: int = Field(default=1, ge=1, le=10)
    size: str | None = None
    quality: str | None = None
    style: str | None = None
    background: str | None = None
    response_format: str | None = None  # "b64_json" (default for GPT image models) or "url"
    stream: bool = False
    partial_images: int | None = Field(default=None, ge=0, le=3)


class OpenAIError(Exception):
    """An error in OpenAI's shape: {"error": {"message", "type", "code"}}."""

    def __init__(self, status: int, message: str, code: str, headers: dict | None = None):
        super().__init__(message)
        self.status, self.message, self.code = status, message, code
        self.headers = headers or {}


def _error_type(status: int) -> str:
    return {
        401: "authentication_error",
        403: "permission_error",
        404: "not_found_error",
        429: "rate_limit_exceeded",
    }.get(status, "invalid_request_error")


def build_openai_compatible(get_studio: Callable[[], Studio]) -> FastAPI:
    """The `/v1` app (mounted there by the Reflex app's API transformer)."""
    api = FastAPI(openapi_url=None, docs_url=None, redoc_url=None)

    @api.exception_handler(OpenAIError)
    async def _openai_error(_request: Request, exc: OpenAIError):
        body = {
            "error": {
                "message": exc.message,
                "type": _error_type(exc.status),
                "param": None,
                "code": exc.code,
            }
        }
        return JSONResponse(body, status_code=exc.status, headers=exc.headers)

    @api.exception_handler(Exception)
    async def _unexpected(_request: Request, exc: Exception):
        logger.exception("OpenAI-compatible request failed unexpectedly")
        body = {
            "error": {
                "message": "Something went wrong on the server; it has been logged.",
                "type": "server_error",
                "param": None,
                "code": None,
            }
        }
        return JSONResponse(body, status_code=500)

    def options_for(body: ImageRequest) -> ImageOptions:
        try:
            return requested_options(get_studio().pipeline, body, one_model_takes_any_name=True)
        except Problem as exc:
            raise OpenAIError(400, exc.detail, "invalid_value") from exc

    async def holder(request: Request):
        header = request.headers.get("authorization", "")
        token = header[7:].strip() if header.lower().startswith("bearer ") else None
        try:
            return await holder_for(get_studio(), token, "generate")
        except Problem as exc:
            raise OpenAIError(
                exc.status,
                exc.detail,
                "invalid_api_key" if exc.status == 401 else "forbidden",
                exc.headers,
            ) from exc

    async def run(
        request: Request,
        who,
        body: ImageRequest,
        opts: ImageOptions,
        *,
        kind=ImageKind.GENERATED,
        sources=(),
        mask=None,
    ):
        studio = get_studio()
        try:
            job = await studio.runner.submit(
                who.owner, body.prompt, opts, kind=kind, sources=sources, mask=mask
            )
        except GenerationFailed as exc:
            raise OpenAIError(400, str(exc), "invalid_value") from exc
        except LimitReached as exc:
            raise OpenAIError(
                429, str(exc), "rate_limit_exceeded", {"retry-after": retry_after(exc)}
            ) from exc
        except QueueUnavailable as exc:
            raise OpenAIError(503, QUEUE_UNAVAILABLE, "unavailable") from exc
        name = "image_edit" if kind == ImageKind.EDITED else "image_generation"
        if body.stream:
            return StreamingResponse(stream(job, name), media_type="text/event-stream")
        final = None
        async for event in studio.runner.follow(job):
            final = event
        return await answer(request, final, body)

    async def data_of(request: Request, image: Image, as_url: bool) -> dict:
        store = get_studio().store
        if as_url:
            signed = await store.signed_url(image.blob_name)
            url = signed.url
            if url.startswith("/"):
                url = str(request.base_url).rstrip("/") + url
            return {"url": url}
        return {"b64_json": base64.b64encode(await store.read(image.blob_name)).decode()}

    async def answer(request: Request, final: JobEvent | None, body: ImageRequest):
        if isinstance(final, Stored):
            try:
                data = [
                    await data_of(request, image, body.response_format == "url")
                    for image in final.images
                ]
            except StorageError as exc:
                raise OpenAIError(
                    503,
                    "Image storage is unavailable; the images are in the gallery.",
                    "unavailable",
                ) from exc
            return JSONResponse({"created": int(time.time()), "data": data})
        if isinstance(final, Failed):
            # 400, not 5xx: a client would retry a 5xx, and the provider call was paid for.
            raise OpenAIError(400, final.reason, "image_generation_failed")
        if isinstance(final, Cancelled):
            raise OpenAIError(409, "The job was cancelled; nothing was stored.", "cancelled")
        raise OpenAIError(503, "The job ended without an outcome; see the gallery.", "unknown")

    def stream(job: GenerationJob, name: str):
        async def events():
            studio = get_studio()
            async for event in studio.runner.follow(job):
                if isinstance(event, PartialImage):
                    yield _sse(
                        f"{name}.partial_image",
                        {
                            "b64_json": base64.b64encode(event.data).decode(),
                            "partial_image_index": event.index,
                        },
                    )
                elif isinstance(event, Stored):
                    for image in event.images:
                        data = await studio.store.read(image.blob_name)
                        yield _sse(
                            f"{name}.completed",
                            {
                                "b64_json": base64.b64encode(data).decode(),
                                "usage": {
                                    "input_tokens": 0,
                                    "output_tokens": 0,
                                    "total_tokens": 0,
                                    "input_tokens_details": {"image_tokens": 0, "text_tokens": 0},
                                },
                            },
                        )
                elif isinstance(event, Failed | Cancelled):
                    reason = event.reason if isinstance(event, Failed) else "cancelled"
                    yield _sse(
                        "error", {"error": {"message": reason, "type": "image_generation_failed"}}
                    )

        return events()

    @api.post("/images/generations")
    async def generations(request: Request):
        who = await holder(request)
        try:
            body = ImageRequest.model_validate(await request.json())
        except (ValidationError, ValueError) as exc:
            raise OpenAIError(
                400, f"Invalid request: {_first_error(exc)}", "invalid_value"
            ) from exc
        return await run(request, who, body, options_for(body))

    @api.post("/images/edits")
    async def edits(request: Request):
        who = await holder(request)
        studio = get_studio()
        async with request.form(max_files=17, max_part_size=1024 * 1024) as form:
            fields = {k: v for k, v in form.multi_items() if isinstance(v, str)}
            files = [
                v
                for k, v in form.multi_items()
                if k in ("image", "image[]") and not isinstance(v, str)
            ]
            mask_file = form.get("mask")
            try:
                body = ImageRequest.model_validate(
                    {**fields, "stream": fields.get("stream") == "true"}
                )
            except ValidationError as exc:
                raise OpenAIError(
                    400, f"Invalid request: {_first_error(exc)}", "invalid_value"
                ) from exc
            if not files:
                raise OpenAIError(400, "image is required", "missing_required_parameter")
            sources = []
            for upload in files:
                data = await upload.read(studio.uploads.limits.max_bytes + 1)
                try:
                    if len(data) > studio.uploads.limits.max_bytes:
                        raise UploadRefused("The image is larger than the upload limit.")
                    sources.append(
                        await studio.uploads.accept(who.owner, upload.filename or "image", data)
                    )
                except UploadRefused as exc:
                    raise OpenAIError(400, str(exc), "invalid_image") from exc
                except LimitReached as exc:
                    raise OpenAIError(
                        429, str(exc), "rate_limit_exceeded", {"retry-after": retry_after(exc)}
                    ) from exc
            mask = None
            if mask_file is not None and not isinstance(mask_file, str):
                mask = await mask_file.read(4 * 1024 * 1024 + 1)
                try:
                    check_mask(mask, sources[0])
                except MaskRefused as exc:
                    raise OpenAIError(400, str(exc), "invalid_mask") from exc
        opts = options_for(body)
        if body.size is None:
            opts = options_for_source(sources[0], opts, studio.pipeline.choice(opts).capabilities)
        opts = dataclasses.replace(opts, n=body.n)
        return await run(
            request, who, body, opts, kind=ImageKind.EDITED, sources=tuple(sources), mask=mask
        )

    return api


def _first_error(exc: Exception) -> str:
    if isinstance(exc, ValidationError) and exc.errors():
        first = exc.errors()[0]
        return f"{'.'.join(str(p) for p in first['loc'])}: {first['msg']}"
    return "the body is not JSON"


def _sse(name: str, payload: dict) -> bytes:
    return f"event: {name}\ndata: {json.dumps({'type': name, **payload})}\n\n".encode()
