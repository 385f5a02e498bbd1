"""Images: list and search what you may see, upload your own, read, star, share or delete one."""

import base64
import binascii
import logging
import uuid
from datetime import UTC, datetime
from typing import Annotated, Literal

from fastapi import APIRouter, File, Query, Request, UploadFile
from fastapi.responses import Response
from pydantic import BaseModel, Field

from visionary_app.api.downloads import zip_response
from visionary_app.api.v1.auth import CurrentStudio, Deleter, Generator, Reader, visible_image
from visionary_app.api.v1.errors import INDEX_DOWN, Problem, answers, limit_problem, unavailable
from visionary_app.models import Image, Visibility, split_ids
from visionary_app.services.access import Scope, TokenHolder
from visionary_app.services.gallery import (
    MAX_ZIP_IMAGES,
    CatalogError,
    DeleteFailed,
    LibraryNotSaved,
    PageCursor,
    VisibilityNotChanged,
    change_visibility,
    delete_image,
    star,
)
from visionary_app.services.generation import GenerationFailed, UploadRefused
from visionary_app.services.limits import LimitReached, QueueUnavailable
from visionary_app.services.storage import StorageError
from visionary_app.services.studio import Studio

__all__ = ["decode_cursor", "encode_cursor", "router"]

logger = logging.getLogger(__name__)

router = APIRouter()

_CHUNK = 64 * 1024


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
    preset: str | None = None  # the style preset it was made with
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


def _absolute(request: Request, url: str) -> str:
    return str(request.base_url).rstrip("/") + url if url.startswith("/") else url


async def _image_out(
    studio: Studio,
    request: Request,
    image: Image,
    holder: TokenHolder,
    starred: bool | None = None,
    *,
    summary: bool = False,
) -> ImageOut | ImageSummary:
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
        preset=image.preset,
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


@router.get(
    "/images",
    response_model=ImagePage,
    responses=answers(401, 403, 404, 422, 503),
    summary="List images you may see, newest first",
)
async def list_images(
    request: Request,
    holder: Reader,
    studio: CurrentStudio,
    cursor: Annotated[str, Query(max_length=200, description="next_cursor of a page")] = "",
    search: Annotated[str, Query(max_length=500)] = "",
    scope: Literal["everyone", "mine"] = "everyone",
    favourites: bool = False,
    board: Annotated[uuid.UUID | None, Query(description="only the images in this board")] = None,
    limit: Annotated[int, Query(ge=1, le=100)] = 50,
):
    before = decode_cursor(cursor) if cursor else None
    catalog = studio.catalog
    try:
        if board is not None and (
            studio.boards is None or await studio.boards.get_for(holder.viewer, board) is None
        ):
            raise Problem(404, "No such board (or it is not yours to see).")
        images = await catalog.newest(
            limit + 1,
            before,
            viewer=holder.viewer,
            scope=Scope(scope),
            favourites_only=favourites,
            search=search,
            board=board,
        )
        shown = images[:limit]
        starred = await catalog.starred(holder.viewer, [image.id for image in shown])
    except CatalogError as exc:
        raise unavailable(INDEX_DOWN) from exc
    more = len(images) > limit
    page = ImagePage(
        images=[
            await _image_out(studio, request, i, holder, i.id in starred, summary=True)
            for i in shown
        ],
        next_cursor=encode_cursor(shown[-1]) if more and shown else None,
    )
    # Already validated: sent as is, not checked against the model a second time.
    return Response(page.model_dump_json(), media_type="application/json")


class ZipIn(BaseModel):
    """Images to download as one zip."""

    image_ids: list[uuid.UUID] = Field(min_length=1, max_length=MAX_ZIP_IMAGES)


@router.post(
    "/images/zip",
    response_class=Response,
    responses={
        **answers(401, 403, 422, 503),
        200: {
            "description": "A zip of the originals you may see (byte for byte) and a "
            "`manifest.json` (prompt, model, size, time, id); streamed as it is built. "
            "`X-Images-Skipped` counts the ids that are not there or not yours to see.",
            "content": {"application/zip": {"schema": {"type": "string", "format": "binary"}}},
        },
    },
    summary="Download images as one zip",
)
async def zip_of_images(body: ZipIn, holder: Reader, studio: CurrentStudio):
    ids = list(dict.fromkeys(body.image_ids))
    try:
        return await zip_response(studio, holder.viewer, ids)
    except CatalogError as exc:
        raise unavailable(INDEX_DOWN) from exc


@router.post(
    "/images",
    status_code=201,
    response_model=ImageOut,
    responses=answers(401, 403, 413, 422, 429, 503),
    summary="Upload a picture of your own (PNG, JPEG or WebP)",
)
async def upload_image(
    request: Request,
    holder: Generator,
    studio: CurrentStudio,
    file: Annotated[UploadFile, File()],
):
    uploads = studio.uploads
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
    return await _image_out(studio, request, image, holder, False)


@router.get(
    "/images/{image_id}",
    response_model=ImageOut,
    responses=answers(401, 403, 404, 503),
    summary="Read one image",
)
async def read_image(request: Request, image_id: uuid.UUID, holder: Reader, studio: CurrentStudio):
    image = await visible_image(studio, holder, image_id)
    return await _image_out(studio, request, image, holder)


@router.delete(
    "/images/{image_id}",
    status_code=204,
    responses=answers(401, 403, 404, 503),
    summary="Delete an image",
)
async def remove_image(image_id: uuid.UUID, holder: Deleter, studio: CurrentStudio):
    image = await visible_image(studio, holder, image_id)
    if not holder.viewer.may_change(image):
        raise Problem(403, "Only its owner (or an admin) may delete it.")
    try:
        await delete_image(studio.store, studio.catalog, image)
    except DeleteFailed as exc:
        raise unavailable(str(exc)) from exc
    return Response(status_code=204)


@router.patch(
    "/images/{image_id}",
    response_model=ImageOut,
    responses=answers(401, 403, 404, 422, 503),
    summary="Change who sees an image, or star it",
)
async def change_image(
    request: Request,
    image_id: uuid.UUID,
    body: ImagePatch,
    holder: Generator,
    studio: CurrentStudio,
):
    image = await visible_image(studio, holder, image_id)
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
            await star(studio.store, studio.catalog, holder.viewer, image, body.favourite)
        except LibraryNotSaved as exc:
            raise unavailable(str(exc)) from exc
    image = await visible_image(studio, holder, image_id)
    return await _image_out(studio, request, image, holder)
