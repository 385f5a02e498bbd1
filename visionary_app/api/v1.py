"""The HTTP API, `/api/v1`: jobs and images for scripts and teams, on the same services as the UI.

Every request carries a token (`Authorization: Bearer …`) and acts as the token's owner,
within its scopes, under the same limits, caps and privacy rules as the browser; the messages
are the ones the page shows. Errors are `application/problem+json` (RFC 9457) and never carry
a stack trace or a secret. The OpenAPI document is at `/api/v1/openapi.json`, browsable docs
at `/api/v1/docs`.
"""

# No `from __future__ import annotations`: FastAPI reads the handlers' annotations, and the
# dependencies they name are local to build_api.
import asyncio
import base64
import binascii
import json
import logging
import math
import re
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Annotated, Literal

from fastapi import Depends, FastAPI, File, Query, Request, UploadFile
from fastapi.exceptions import RequestValidationError
from fastapi.openapi.utils import get_openapi
from fastapi.responses import JSONResponse, Response, StreamingResponse
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import BaseModel, Field
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Match, Mount

from visionary_app.models import GenerationJob, Image, ImageKind, JobStatus, Visibility, split_ids
from visionary_app.services.access import Scope, TokenHolder, TokensUnavailable
from visionary_app.services.gallery import (
    CatalogError,
    DeleteFailed,
    PageCursor,
    VisibilityNotChanged,
    change_visibility,
    delete_image,
)
from visionary_app.services.generation import (
    QUEUE_UNAVAILABLE,
    Cancelled,
    Failed,
    GenerationFailed,
    GenerationPipeline,
    ImageOptions,
    MaskRefused,
    PartialImage,
    Queued,
    Running,
    Stored,
    UploadRefused,
    options_for_source,
)
from visionary_app.services.limits import LimitReached, QueueUnavailable
from visionary_app.services.storage import StorageError
from visionary_app.services.studio import Studio

__all__ = [
    "Problem",
    "build_api",
    "holder_for",
    "mount",
    "problem_response",
    "requested_options",
    "retry_after",
]

logger = logging.getLogger(__name__)

PROBLEM = "application/problem+json"
_TITLES = {
    400: "Bad request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not found",
    409: "Conflict",
    413: "Content too large",
    422: "Unprocessable content",
    429: "Too many requests",
    500: "Internal server error",
    503: "Service unavailable",
}
_CHUNK = 64 * 1024


class Problem(Exception):
    """An error for the client, with the status it belongs to and the UI's own words."""

    def __init__(self, status: int, detail: str, *, headers: dict[str, str] | None = None):
        super().__init__(detail)
        self.status = status
        self.detail = detail
        self.headers = headers or {}


class ProblemDetails(BaseModel):
    """RFC 9457 problem details."""

    type: str = "about:blank"
    title: str
    status: int
    detail: str


def problem_response(status: int, detail: str, headers: dict[str, str] | None = None):
    """A problem+json response."""
    body = ProblemDetails(title=_TITLES.get(status, "Error"), status=status, detail=detail)
    return JSONResponse(
        body.model_dump(), status_code=status, media_type=PROBLEM, headers=headers or {}
    )


INDEX_DOWN = "The image index is unavailable; try again."


def unavailable(detail: str) -> Problem:
    """503: a service the request needs did not answer; worth trying again shortly."""
    return Problem(503, detail, headers={"Retry-After": "5"})


def retry_after(exc: LimitReached) -> str:
    """Seconds until the limit's window frees up, for a Retry-After header."""
    return str(max(1, math.ceil((exc.retry_at - datetime.now(UTC)).total_seconds())))


def limit_problem(exc: LimitReached) -> Problem:
    """429 with Retry-After, in the page's words."""
    return Problem(429, str(exc), headers={"Retry-After": retry_after(exc)})


def _responses(*statuses: int) -> dict:
    # Only the statuses: `openapi()` gives every error answer its problem+json body.
    return {status: {"description": _TITLES[status]} for status in statuses}


_bearer = HTTPBearer(auto_error=False, description="A personal API token (made in the page).")


async def holder_for(studio: Studio, token: str | None, scope: str) -> TokenHolder:
    """Who the token acts as, if it may do `scope`; else the 401 or 403 Problem."""
    challenge = {"WWW-Authenticate": 'Bearer realm="visionary"'}
    if not token:
        raise Problem(
            401,
            "An API token is required: send `Authorization: Bearer <token>`.",
            headers=challenge,
        )
    try:
        holder = await studio.api_tokens.authenticate(token)
    except TokensUnavailable as exc:
        logger.error("checking an API token failed: %s", exc)
        raise unavailable(
            "Tokens cannot be checked right now (the database did not answer)."
        ) from exc
    if holder is None:
        raise Problem(
            401, "The token is not valid: unknown, revoked, or the API is off.", headers=challenge
        )
    if scope not in holder.scopes:
        raise Problem(403, f"This token does not have the {scope!r} scope.")
    return holder


# Bodies and answers


class OptionsIn(BaseModel):
    """What the page's options offer; each left out takes the model's default."""

    size: str | None = Field(default=None, max_length=16, examples=["1024x1024"])
    quality: str | None = Field(default=None, max_length=16)
    style: str | None = Field(default=None, max_length=16)
    background: str | None = Field(default=None, max_length=16)
    complexity: str | None = Field(default=None, max_length=16)
    n: int = Field(default=1, ge=1, le=10)


class GenerationIn(OptionsIn):
    """A prompt and options."""

    prompt: str = Field(max_length=100_000, examples=["a lighthouse at dusk, watercolour"])


class EditIn(OptionsIn):
    """An edit of an image you may see: what to change, an optional mask, further references."""

    image_id: uuid.UUID
    prompt: str = Field(max_length=100_000, examples=["add a red boat"])
    mask: str | None = Field(
        default=None,
        max_length=8_000_000,
        description="Base64 PNG the image's size, transparent where the image should change.",
    )
    reference_ids: list[uuid.UUID] = Field(default_factory=list, max_length=15)


class ImageSummary(BaseModel):
    """One image in a list: what made it, where it came from, its thumbnail's signed URL."""

    id: uuid.UUID
    prompt: str
    revised_prompt: str | None
    kind: Literal["generated", "edited", "variation", "upload"]
    source_id: uuid.UUID | None
    reference_ids: list[uuid.UUID]
    provider: str
    model: str
    width: int
    height: int
    quality: str | None
    style: str | None
    created_at: datetime
    visibility: Literal["private", "shared"]
    mine: bool
    favourite: bool
    thumbnail_url: str
    urls_expire_at: datetime


class ImageOut(ImageSummary):
    """One image, with the signed URL of the image itself as well."""

    url: str


class ImagePage(BaseModel):
    """A page of images, newest first; pass `next_cursor` as `cursor` for the next one."""

    images: list[ImageSummary]
    next_cursor: str | None


class ImagePatch(BaseModel):
    """Change who sees an image (its owner, or an admin) and whether you starred it."""

    visibility: Literal["private", "shared"] | None = None
    favourite: bool | None = None


class JobOut(BaseModel):
    """A job: where it is, how long it took, why it failed, what it made."""

    id: uuid.UUID
    kind: Literal["generated", "edited", "variation"]
    status: Literal["queued", "running", "succeeded", "failed", "cancelled"]
    prompt: str
    n: int
    ahead: int = Field(description="Jobs that start before this one (while it waits).")
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    provider_ms: int | None
    error: str | None
    source_ids: list[uuid.UUID]
    image_ids: list[uuid.UUID]


def _absolute(request: Request, url: str) -> str:
    return str(request.base_url).rstrip("/") + url if url.startswith("/") else url


async def _only_known_query(request: Request) -> None:
    """A query parameter the operation does not have (a typo), or one given twice, is refused."""
    route = request.scope.get("route")
    dependant = getattr(route, "dependant", None)
    known = {param.alias for param in getattr(dependant, "query_params", [])}
    unknown = sorted(set(request.query_params) - known)
    if unknown:
        raise Problem(422, f"{unknown[0]!r} is not a query parameter of this operation.")
    repeated = sorted(k for k in known if len(request.query_params.getlist(k)) > 1)
    if repeated:  # every parameter here takes one value
        raise Problem(422, f"{repeated[0]!r} is given more than once.")


def build_api(get_studio: Callable[[], Studio]) -> FastAPI:
    """The `/api/v1` app (mounted there by the Reflex app's API transformer)."""
    api = FastAPI(
        dependencies=[Depends(_only_known_query)],
        title="VisionaryAI API",
        version="1.0.0",
        description=__doc__,
        openapi_url="/openapi.json",
        docs_url="/docs",
        redoc_url=None,
    )

    @api.exception_handler(Problem)
    async def _problem(_request: Request, exc: Problem):
        return problem_response(exc.status, exc.detail, exc.headers)

    @api.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException):
        headers = dict(getattr(exc, "headers", None) or {})
        if exc.status_code == 405:
            # Each method is its own route: name every method this path has, not one.
            allowed = {
                method
                for route in api.routes
                if route.matches(request.scope)[0] != Match.NONE
                for method in getattr(route, "methods", None) or ()
            }
            headers["Allow"] = ", ".join(sorted(allowed))
        return problem_response(exc.status_code, str(exc.detail), headers)

    @api.exception_handler(RequestValidationError)
    async def _invalid(_request: Request, exc: RequestValidationError):
        first = exc.errors()[0] if exc.errors() else {}
        where = ".".join(str(part) for part in first.get("loc", ()) if part != "body")
        detail = f"{where}: {first.get('msg', 'invalid')}" if where else "The request is invalid."
        return problem_response(422, detail)

    @api.exception_handler(Exception)
    async def _unexpected(_request: Request, exc: Exception):
        logger.exception("API request failed unexpectedly")
        return problem_response(500, "Something went wrong on the server; it has been logged.")

    def requires(scope: str):
        async def dependency(
            credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
        ) -> TokenHolder:
            token = credentials.credentials if credentials is not None else None
            return await holder_for(get_studio(), token, scope)

        return dependency

    Reader = Annotated[TokenHolder, Depends(requires("read"))]
    Generator = Annotated[TokenHolder, Depends(requires("generate"))]
    Deleter = Annotated[TokenHolder, Depends(requires("delete"))]

    async def image_out(
        request: Request,
        image: Image,
        holder: TokenHolder,
        starred: bool | None = None,
        *,
        summary: bool = False,
    ) -> ImageOut | ImageSummary:
        studio = get_studio()
        try:
            thumb = await studio.store.signed_url(image.thumbnail_blob_name or image.blob_name)
            full = thumb if summary else await studio.store.signed_url(image.blob_name)
            if starred is None:
                starred = image.id in await studio.catalog.starred(holder.viewer, [image.id])
        except (StorageError, CatalogError) as exc:
            logger.error("describing image %s failed: %s", image.id, exc)
            raise unavailable("Image storage or the index is unavailable; try again.") from exc
        extra = {} if summary else {"url": _absolute(request, full.url)}
        return (ImageSummary if summary else ImageOut)(
            **extra,
            id=image.id,
            prompt=image.prompt,
            revised_prompt=image.revised_prompt,
            kind=image.kind,
            source_id=image.source_id,
            reference_ids=split_ids(image.reference_ids),
            provider=image.provider,
            model=image.model,
            width=image.width,
            height=image.height,
            quality=image.quality,
            style=image.style,
            created_at=image.created_at,
            visibility=image.visibility,
            mine=image.owner == holder.owner,
            favourite=starred,
            thumbnail_url=_absolute(request, thumb.url),
            urls_expire_at=datetime.fromtimestamp(min(full.expires_at, thumb.expires_at), UTC),
        )

    async def visible_image(holder: TokenHolder, image_id: uuid.UUID) -> Image:
        try:
            image = await get_studio().catalog.get_for(holder.viewer, image_id)
        except CatalogError as exc:
            raise unavailable(INDEX_DOWN) from exc
        if image is None:
            raise Problem(404, "No such image (or it is not yours to see).")
        return image

    async def job_out(job: GenerationJob) -> JobOut:
        try:
            ahead = await get_studio().jobs.ahead(job)
        except QueueUnavailable:
            ahead = 0
        return JobOut(
            id=job.id,
            kind=job.kind,
            status=JobStatus(job.status).value,
            prompt=job.prompt,
            n=job.n,
            ahead=ahead,
            created_at=job.created_at,
            started_at=job.started_at,
            finished_at=job.finished_at,
            provider_ms=job.provider_ms,
            error=job.error,
            source_ids=split_ids(job.source_ids),
            image_ids=split_ids(job.image_ids),
        )

    async def own_job(holder: TokenHolder, job_id: uuid.UUID) -> GenerationJob:
        try:
            job = await get_studio().jobs.get(job_id)
        except QueueUnavailable as exc:
            raise unavailable(QUEUE_UNAVAILABLE) from exc
        if job is None or job.owner != holder.owner:
            raise Problem(404, "No such job (or it is not yours).")
        return job

    async def submit(
        holder: TokenHolder,
        prompt: str,
        options: ImageOptions,
        *,
        kind=ImageKind.GENERATED,
        sources=(),
        mask=None,
    ) -> GenerationJob:
        studio = get_studio()
        try:
            job = await studio.runner.submit(
                holder.owner, prompt, options, kind=kind, sources=sources
            )
        except GenerationFailed as exc:
            raise Problem(422, str(exc)) from exc
        except LimitReached as exc:
            raise limit_problem(exc) from exc
        except QueueUnavailable as exc:
            raise unavailable(QUEUE_UNAVAILABLE) from exc
        studio.hub.start(job, mask=mask)
        return job

    accepted = {"status_code": 202, "response_model": JobOut}

    @api.post(
        "/generations",
        **accepted,
        responses=_responses(401, 403, 422, 429, 503),
        summary="Generate images from a prompt (a job)",
    )
    async def create_generation(body: GenerationIn, holder: Generator, response: Response):
        job = await submit(holder, body.prompt, requested_options(get_studio().pipeline, body))
        response.headers["Location"] = f"jobs/{job.id}"
        return await job_out(job)

    @api.post(
        "/edits",
        **accepted,
        responses=_responses(401, 403, 404, 422, 429, 503),
        summary="Edit an image with a prompt, an optional mask and references (a job)",
    )
    async def create_edit(body: EditIn, holder: Generator, response: Response):
        sources = [await visible_image(holder, body.image_id)]
        for reference_id in body.reference_ids:
            sources.append(await visible_image(holder, reference_id))
        mask = None
        if body.mask:
            try:
                mask = base64.b64decode(body.mask, validate=True)
                check_mask(mask, sources[0])
            except (binascii.Error, ValueError, MaskRefused) as exc:
                raise Problem(
                    422,
                    f"mask: {exc}"
                    if isinstance(exc, MaskRefused)
                    else "mask: not a base64 PNG of the image's size",
                ) from exc
        options = requested_options(get_studio().pipeline, body)
        if body.size is None:  # the image's own size, where the model can make it
            options = options_for_source(sources[0], options, get_studio().capabilities)
        job = await submit(
            holder, body.prompt, options, kind=ImageKind.EDITED, sources=tuple(sources), mask=mask
        )
        response.headers["Location"] = f"jobs/{job.id}"
        return await job_out(job)

    @api.get(
        "/jobs/{job_id}",
        response_model=JobOut,
        responses=_responses(401, 403, 404, 503),
        summary="Read a job",
    )
    async def read_job(job_id: uuid.UUID, holder: Reader):
        return await job_out(await own_job(holder, job_id))

    @api.post(
        "/jobs/{job_id}/cancel",
        response_model=JobOut,
        responses=_responses(401, 403, 404, 409, 503),
        summary="Cancel a job",
    )
    async def cancel_job(job_id: uuid.UUID, holder: Generator):
        job = await own_job(holder, job_id)
        try:
            cancelled = await get_studio().runner.cancel(job.id, holder.owner)
        except QueueUnavailable as exc:
            raise unavailable(QUEUE_UNAVAILABLE) from exc
        if not cancelled:
            raise Problem(409, f"The job has already ended ({JobStatus(job.status).value}).")
        return await job_out(await own_job(holder, job_id))

    @api.get(
        "/jobs/{job_id}/events",
        responses={
            200: {"content": {"text/event-stream": {}}, "description": "Server-sent events"},
            **_responses(401, 403, 404, 503),
        },
        summary="Follow a job as server-sent events",
    )
    async def follow_job(job_id: uuid.UUID, holder: Reader):
        job = await own_job(holder, job_id)
        return StreamingResponse(job_events(job), media_type="text/event-stream")

    def sse(name: str, payload: dict) -> bytes:
        return f"event: {name}\ndata: {json.dumps(payload, default=str)}\n\n".encode()

    async def job_events(job: GenerationJob):
        studio = get_studio()
        if studio.hub.here(job.id):
            async for event in studio.hub.follow(job.id):
                match event:
                    case Queued(ahead=ahead):
                        yield sse("queued", {"job_id": str(job.id), "ahead": ahead})
                    case Running(elapsed_s=seconds):
                        yield sse(
                            "running", {"job_id": str(job.id), "elapsed_s": round(seconds, 1)}
                        )
                    case PartialImage(index=index, data=data, content_type=content_type):
                        yield sse(
                            "partial_image",
                            {
                                "job_id": str(job.id),
                                "index": index,
                                "content_type": content_type,
                                "b64": base64.b64encode(data).decode(),
                            },
                        )
                    case Stored(images=images, failures=failures):
                        for image in images:
                            yield sse("stored", {"job_id": str(job.id), "image_id": str(image.id)})
                        yield sse("succeeded", {"job_id": str(job.id), "failures": failures})
                    case Failed(reason=reason):
                        yield sse("failed", {"job_id": str(job.id), "reason": reason})
                    case Cancelled():
                        yield sse("cancelled", {"job_id": str(job.id)})
            return
        # Running on another worker (or ended): follow the row.
        seen = None
        while True:
            try:
                row = await studio.jobs.get(job.id)
            except QueueUnavailable:
                await asyncio.sleep(1.0)  # the database is away: keep the stream, try again
                continue
            if row is None:
                return
            status = JobStatus(row.status).value
            if status != seen:
                seen = status
                payload = {"job_id": str(job.id)}
                if row.status == JobStatus.FAILED:
                    payload["reason"] = row.error or ""
                for image_id in split_ids(row.image_ids):
                    if row.status == JobStatus.SUCCEEDED:
                        yield sse("stored", {"job_id": str(job.id), "image_id": str(image_id)})
                yield sse(status, payload)
                if row.status in (JobStatus.SUCCEEDED, JobStatus.FAILED, JobStatus.CANCELLED):
                    return
            await asyncio.sleep(1.0)

    @api.get(
        "/images",
        response_model=ImagePage,
        responses=_responses(401, 403, 422, 503),
        summary="List images you may see, newest first",
    )
    async def list_images(
        request: Request,
        holder: Reader,
        cursor: Annotated[str, Query(max_length=200, description="next_cursor of a page")] = "",
        search: Annotated[str, Query(max_length=500)] = "",
        scope: Literal["everyone", "mine"] = "everyone",
        favourites: bool = False,
        limit: Annotated[int, Query(ge=1, le=100)] = 50,
    ):
        before = decode_cursor(cursor) if cursor else None
        catalog = get_studio().catalog
        try:
            images = await catalog.newest(
                limit + 1,
                before,
                viewer=holder.viewer,
                scope=Scope(scope),
                favourites_only=favourites,
                search=search,
            )
            shown = images[:limit]
            starred = await catalog.starred(holder.viewer, [image.id for image in shown])
        except CatalogError as exc:
            raise unavailable(INDEX_DOWN) from exc
        more = len(images) > limit
        page = ImagePage(
            images=[
                await image_out(request, i, holder, i.id in starred, summary=True) for i in shown
            ],
            next_cursor=encode_cursor(shown[-1]) if more and shown else None,
        )
        # Already validated: sent as is, not checked against the model a second time.
        return Response(page.model_dump_json(), media_type="application/json")

    @api.post(
        "/images",
        status_code=201,
        response_model=ImageOut,
        responses=_responses(401, 403, 413, 422, 429, 503),
        summary="Upload a picture of your own (PNG, JPEG or WebP)",
    )
    async def upload_image(
        request: Request, holder: Generator, file: Annotated[UploadFile, File()]
    ):
        uploads = get_studio().uploads
        data = bytearray()
        while chunk := await file.read(_CHUNK):
            data += chunk
            if len(data) > uploads.limits.max_bytes:
                raise Problem(
                    413,
                    f"The file is larger than "
                    f"{uploads.limits.max_bytes / (1024 * 1024):.1f} MB; nothing was stored.",
                )
        try:
            image = await uploads.accept(holder.owner, file.filename or "upload", bytes(data))
        except UploadRefused as exc:
            raise Problem(422, f"{exc} Nothing was stored.") from exc
        except LimitReached as exc:
            raise limit_problem(exc) from exc
        except (GenerationFailed, QueueUnavailable) as exc:
            raise unavailable(str(exc)) from exc
        return await image_out(request, image, holder, False)

    @api.get(
        "/images/{image_id}",
        response_model=ImageOut,
        responses=_responses(401, 403, 404, 503),
        summary="Read one image",
    )
    async def read_image(request: Request, image_id: uuid.UUID, holder: Reader):
        return await image_out(request, await visible_image(holder, image_id), holder)

    @api.delete(
        "/images/{image_id}",
        status_code=204,
        responses=_responses(401, 403, 404, 503),
        summary="Delete an image",
    )
    async def remove_image(image_id: uuid.UUID, holder: Deleter):
        image = await visible_image(holder, image_id)
        if not holder.viewer.may_change(image):
            raise Problem(403, "Only its owner (or an admin) may delete it.")
        studio = get_studio()
        try:
            await delete_image(studio.store, studio.catalog, image)
        except DeleteFailed as exc:
            raise unavailable(str(exc)) from exc
        return Response(status_code=204)

    @api.patch(
        "/images/{image_id}",
        response_model=ImageOut,
        responses=_responses(401, 403, 404, 422, 503),
        summary="Change who sees an image, or star it",
    )
    async def change_image(
        request: Request, image_id: uuid.UUID, body: ImagePatch, holder: Generator
    ):
        image = await visible_image(holder, image_id)
        studio = get_studio()
        if body.visibility is not None and body.visibility != image.visibility:
            if not holder.viewer.may_change(image):
                raise Problem(403, "Only its owner (or an admin) may change who sees it.")
            try:
                await change_visibility(
                    studio.store, studio.catalog, image, Visibility(body.visibility)
                )
            except VisibilityNotChanged as exc:
                raise unavailable(str(exc)) from exc
        if body.favourite is not None:
            try:
                await studio.catalog.set_favourite(holder.viewer, image.id, body.favourite)
            except CatalogError as exc:
                raise unavailable(INDEX_DOWN) from exc
        return await image_out(request, await visible_image(holder, image_id), holder)

    def openapi() -> dict:
        # Every error is problem+json (FastAPI documents its own 422 as application/json),
        # and every operation can answer 401, 403, 422 and 503.
        if api.openapi_schema is None:
            document = get_openapi(title=api.title, version=api.version,
                                   description=api.description, routes=api.routes)  # fmt: skip
            problem = {PROBLEM: {"schema": {"$ref": "#/components/schemas/ProblemDetails"}}}
            for operations in document.get("paths", {}).values():
                for operation in operations.values():
                    answers = operation.setdefault("responses", {})
                    for status in ("400", "401", "403", "422", "503"):
                        answers.setdefault(status, {"description": _TITLES[int(status)]})
                    for status, answer in answers.items():
                        if int(status) >= 400:
                            answer["content"] = problem
            schemas = document.setdefault("components", {}).setdefault("schemas", {})
            for unused in ("HTTPValidationError", "ValidationError"):
                schemas.pop(unused, None)
            schemas["ProblemDetails"] = ProblemDetails.model_json_schema()
            api.openapi_schema = document
        return api.openapi_schema

    api.openapi = openapi
    return api


def mount(path: str, app) -> Mount:
    """Mount `app` at `path` for every path below it, even one with a newline (%0A) in it.

    Starlette's mount pattern stops at a newline, and the request would fall through to a
    plain-text 404 instead of the API's own answer.
    """
    mounted = Mount(path, app=app)
    mounted.path_regex = re.compile(mounted.path_regex.pattern, re.DOTALL)
    return mounted


def requested_options(pipeline: GenerationPipeline, body: BaseModel) -> ImageOptions:
    """The options an API body asks for (ours or OpenAI's), the model's defaults where silent.

    Whether the model offers them is checked when the job is submitted.
    """
    defaults = pipeline.default_options()
    return ImageOptions(
        size=body.size or defaults.size,
        quality=body.quality or defaults.quality,
        style=body.style or defaults.style,
        n=body.n,
        background=body.background,
        complexity=getattr(body, "complexity", None),
    )


def check_mask(mask: bytes, image: Image) -> None:
    """A mask must be a PNG with transparency at the image's own size (OpenAI's rule)."""
    import io

    from PIL import Image as PILImage

    try:
        with PILImage.open(io.BytesIO(mask), formats=["PNG"]) as picture:
            size, bands = picture.size, picture.getbands()
            has_transparency = "A" in bands or "transparency" in picture.info
    except (OSError, PILImage.DecompressionBombError) as exc:
        raise MaskRefused("The mask is not a PNG.") from exc
    if size != (image.width, image.height):
        raise MaskRefused(
            f"The mask is {size[0]}x{size[1]}; it must be the image's size, "
            f"{image.width}x{image.height}."
        )
    if not has_transparency:
        raise MaskRefused("The mask has no transparency: nothing would change.")


def encode_cursor(image: Image) -> str:
    """An opaque cursor that continues after `image`."""
    raw = f"{image.created_at.astimezone(UTC).isoformat()}|{image.id.hex}"
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> PageCursor:
    """The page cursor `encode_cursor` made, or a 422 Problem."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        moment, _, image_id = raw.partition("|")
        return PageCursor(
            created_at=datetime.fromisoformat(moment).astimezone(UTC),
            image_id=uuid.UUID(hex=image_id),
        )
    except (ValueError, UnicodeDecodeError, binascii.Error) as exc:
        raise Problem(422, "cursor: not a cursor this API gave out.") from exc
