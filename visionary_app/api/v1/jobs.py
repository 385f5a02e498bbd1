"""Jobs: generations and edits are submitted as jobs, then read, cancelled or followed live."""

import base64
import binascii
import io
import json
import uuid
from datetime import datetime
from typing import Literal

from fastapi import APIRouter, Response
from fastapi.responses import StreamingResponse
from PIL import Image as PILImage
from pydantic import BaseModel, Field

from visionary_app.api.v1.auth import CurrentStudio, Generator, Reader, visible_image
from visionary_app.api.v1.errors import INDEX_DOWN, Problem, answers, limit_problem, unavailable
from visionary_app.models import GenerationJob, Image, ImageKind, JobStatus, split_ids
from visionary_app.services.access import TokenHolder
from visionary_app.services.gallery import Boards, CatalogError
from visionary_app.services.generation import (
    QUEUE_UNAVAILABLE,
    Cancelled,
    Failed,
    GenerationFailed,
    GenerationPipeline,
    ImageOptions,
    MaskRefused,
    PartialImage,
    PresetRefused,
    PresetsUnavailable,
    Queued,
    Running,
    Stored,
    options_for_source,
)
from visionary_app.services.limits import LimitReached, QueueUnavailable
from visionary_app.services.studio import Studio

__all__ = ["check_mask", "requested_options", "router"]

router = APIRouter()


class OptionsIn(BaseModel):
    """What the page's options offer; each left out takes the model's default."""

    model: str | None = Field(
        default=None,
        max_length=200,
        examples=["openai/gpt-image-2"],
        description="A model from GET /models (its id, or its name if only one provider has "
        "it); left out, the studio's default model.",
    )
    size: str | None = Field(default=None, max_length=16, examples=["1024x1024"])
    quality: str | None = Field(default=None, max_length=16)
    style: str | None = Field(default=None, max_length=16)
    background: str | None = Field(default=None, max_length=16)
    complexity: str | None = Field(default=None, max_length=16)
    n: int = Field(default=1, ge=1, le=10)
    board_id: uuid.UUID | None = Field(
        default=None, description="A board you may change: the job's images join it."
    )


class GenerationIn(OptionsIn):
    """A prompt and options."""

    prompt: str = Field(max_length=100_000, examples=["a lighthouse at dusk, watercolour"])
    preset: str | None = Field(
        default=None,
        max_length=80,
        examples=["Watercolour"],
        description="A style preset (built in, or one of yours): its words follow the prompt.",
    )


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


class JobOut(BaseModel):
    """A job: where it is, how long it took, why it failed, what it made."""

    id: uuid.UUID
    kind: Literal["generated", "edited", "variation"]
    model: str = Field(description="The model it runs on (an id from GET /models).")
    status: Literal["queued", "running", "succeeded", "failed", "cancelled"]
    prompt: str
    n: int
    ahead: int = Field(description="Jobs that start before this one (while it waits).")
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    provider_ms: int | None
    estimated_usd: float = Field(description="What it should cost, reserved when submitted.")
    cost_usd: float | None = Field(
        description="What it cost once it ended (by the usage the provider reported; its "
        "estimate if the call was made and the provider said nothing; 0 if never started)."
    )
    error: str | None
    source_ids: list[uuid.UUID]
    image_ids: list[uuid.UUID]


def requested_options(
    pipeline: GenerationPipeline, body: BaseModel, *, one_model_takes_any_name: bool = False
) -> ImageOptions:
    """The options an API body asks for (ours or OpenAI's), the model's defaults where silent.

    A model not on the menu is a 422 Problem naming those that are; with
    `one_model_takes_any_name` (OpenAI's endpoint, whose clients name OpenAI's models), a
    studio with one model uses it whatever the name. Whether the model offers the other
    options is checked when the job is submitted.
    """
    name = getattr(body, "model", None) or None
    if name and pipeline.models.find(name) is None:
        if one_model_takes_any_name and len(pipeline.models) == 1:
            name = None
        else:
            offered = ", ".join(choice.key for choice in pipeline.models)
            raise Problem(422, f"model: {name!r} is not offered here. Choose one of: {offered}.")
    defaults = pipeline.default_options(name)
    return ImageOptions(
        size=body.size or defaults.size,
        quality=body.quality or defaults.quality,
        style=body.style or defaults.style,
        n=body.n,
        background=body.background,
        complexity=getattr(body, "complexity", None),
        model=defaults.model,
    )


def check_mask(mask: bytes, image: Image) -> None:
    """A mask must be a PNG with transparency at the image's own size (OpenAI's rule)."""
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


async def _job_out(studio: Studio, job: GenerationJob) -> JobOut:
    try:
        ahead = await studio.jobs.ahead(job)
    except QueueUnavailable:
        ahead = 0
    return JobOut(
        id=job.id,
        kind=job.kind,
        model=studio.pipeline.models.default.key if job.model is None else job.model,
        status=JobStatus(job.status).value,
        prompt=job.prompt,
        n=job.n,
        ahead=ahead,
        created_at=job.created_at,
        started_at=job.started_at,
        finished_at=job.finished_at,
        provider_ms=job.provider_ms,
        estimated_usd=job.estimated_micros / 1_000_000,
        cost_usd=None if job.cost_micros is None else job.cost_micros / 1_000_000,
        error=job.error,
        source_ids=split_ids(job.source_ids),
        image_ids=split_ids(job.image_ids),
    )


async def _own_job(studio: Studio, holder: TokenHolder, job_id: uuid.UUID) -> GenerationJob:
    try:
        job = await studio.jobs.get(job_id)
    except QueueUnavailable as exc:
        raise unavailable(QUEUE_UNAVAILABLE) from exc
    if job is None or job.owner != holder.owner:
        raise Problem(404, "No such job (or it is not yours).")
    return job


async def _submit(
    studio: Studio,
    holder: TokenHolder,
    prompt: str,
    options: ImageOptions,
    *,
    kind=ImageKind.GENERATED,
    sources=(),
    mask=None,
    board: uuid.UUID | None = None,
    preset_name: str | None = None,
) -> GenerationJob:
    if board is not None:
        await _changeable_board(studio, holder, board)
    try:
        preset = await studio.presets.find(holder.owner, preset_name) if preset_name else None
    except PresetRefused as exc:
        raise Problem(422, f"preset: {exc}") from exc
    except PresetsUnavailable as exc:
        raise unavailable(INDEX_DOWN) from exc
    try:
        return await studio.runner.submit(
            holder.owner, prompt, options, kind=kind, sources=sources, mask=mask, board=board,
            preset=preset,
        )  # fmt: skip
    except GenerationFailed as exc:
        raise Problem(422, str(exc)) from exc
    except LimitReached as exc:
        raise limit_problem(exc) from exc
    except QueueUnavailable as exc:
        raise unavailable(QUEUE_UNAVAILABLE) from exc


async def _changeable_board(studio: Studio, holder: TokenHolder, board_id: uuid.UUID) -> None:
    """Refuse (422, 403) a board the holder may not put images into."""
    try:
        board = await studio.boards.get_for(holder.viewer, board_id) if studio.boards else None
    except CatalogError as exc:
        raise unavailable(INDEX_DOWN) from exc
    if board is None:
        raise Problem(422, "board_id: no such board (or it is not yours to see).")
    if not Boards.may_change(holder.viewer, board):
        raise Problem(403, "board_id: only its owner (or an admin, if it is shared) adds to it.")


_ACCEPTED = {"status_code": 202, "response_model": JobOut}


@router.post(
    "/generations",
    **_ACCEPTED,
    responses=answers(401, 403, 422, 429, 503),
    summary="Generate images from a prompt (a job)",
)
async def create_generation(
    body: GenerationIn, holder: Generator, response: Response, studio: CurrentStudio
):
    options = requested_options(studio.pipeline, body)
    job = await _submit(
        studio, holder, body.prompt, options, board=body.board_id, preset_name=body.preset
    )
    response.headers["Location"] = f"jobs/{job.id}"
    return await _job_out(studio, job)


@router.post(
    "/edits",
    **_ACCEPTED,
    responses=answers(401, 403, 404, 422, 429, 503),
    summary="Edit an image with a prompt, an optional mask and references (a job)",
)
async def create_edit(body: EditIn, holder: Generator, response: Response, studio: CurrentStudio):
    sources = [await visible_image(studio, holder, body.image_id)]
    for reference_id in body.reference_ids:
        sources.append(await visible_image(studio, holder, reference_id))
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
    options = requested_options(studio.pipeline, body)
    if body.size is None:  # the image's own size, where the model can make it
        caps = studio.pipeline.choice(options).capabilities
        options = options_for_source(sources[0], options, caps)
    job = await _submit(
        studio,
        holder,
        body.prompt,
        options,
        kind=ImageKind.EDITED,
        sources=tuple(sources),
        mask=mask,
        board=body.board_id,
    )
    response.headers["Location"] = f"jobs/{job.id}"
    return await _job_out(studio, job)


@router.get(
    "/jobs/{job_id}",
    response_model=JobOut,
    responses=answers(401, 403, 404, 503),
    summary="Read a job",
)
async def read_job(job_id: uuid.UUID, holder: Reader, studio: CurrentStudio):
    return await _job_out(studio, await _own_job(studio, holder, job_id))


@router.post(
    "/jobs/{job_id}/cancel",
    response_model=JobOut,
    responses=answers(401, 403, 404, 409, 503),
    summary="Cancel a job",
)
async def cancel_job(job_id: uuid.UUID, holder: Generator, studio: CurrentStudio):
    job = await _own_job(studio, holder, job_id)
    try:
        cancelled = await studio.runner.cancel(job.id, holder.owner)
    except QueueUnavailable as exc:
        raise unavailable(QUEUE_UNAVAILABLE) from exc
    if not cancelled:
        raise Problem(409, f"The job has already ended ({JobStatus(job.status).value}).")
    return await _job_out(studio, await _own_job(studio, holder, job_id))


@router.get(
    "/jobs/{job_id}/events",
    responses={
        200: {"content": {"text/event-stream": {}}, "description": "Server-sent events"},
        **answers(401, 403, 404, 503),
    },
    summary="Follow a job as server-sent events",
)
async def follow_job(job_id: uuid.UUID, holder: Reader, studio: CurrentStudio):
    job = await _own_job(studio, holder, job_id)
    return StreamingResponse(_job_events(studio, job), media_type="text/event-stream")


def _sse(name: str, payload: dict) -> bytes:
    return f"event: {name}\ndata: {json.dumps(payload, default=str)}\n\n".encode()


async def _job_events(studio: Studio, job: GenerationJob):
    """The job's events wherever it runs, from where it is now to its end."""
    async for event in studio.runner.follow(job):
        match event:
            case Queued(ahead=ahead):
                yield _sse("queued", {"job_id": str(job.id), "ahead": ahead})
            case Running(elapsed_s=seconds, steps=steps):
                running = {"job_id": str(job.id), "elapsed_s": round(seconds, 1)}
                if steps is not None:
                    running |= {"step": steps[0], "steps": steps[1]}
                yield _sse("running", running)
            case PartialImage(index=index, data=data, content_type=content_type):
                yield _sse(
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
                    yield _sse("stored", {"job_id": str(job.id), "image_id": str(image.id)})
                yield _sse("succeeded", {"job_id": str(job.id), "failures": failures})
            case Failed(reason=reason):
                yield _sse("failed", {"job_id": str(job.id), "reason": reason})
            case Cancelled():
                yield _sse("cancelled", {"job_id": str(job.id)})
