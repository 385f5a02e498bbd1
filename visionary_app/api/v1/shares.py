"""Share links: make a public link to an image or a board, list yours, revoke one."""

import uuid
from datetime import datetime
from typing import Literal

from fastapi import APIRouter, Request, Response
from pydantic import BaseModel, Field

from visionary_app.api.v1.auth import CurrentStudio, Generator, Reader
from visionary_app.api.v1.errors import INDEX_DOWN, Problem, answers, unavailable
from visionary_app.models import ShareLink
from visionary_app.services.gallery import CatalogError, Expiry, ShareLinks, ShareRefused
from visionary_app.services.studio import Studio

__all__ = ["router"]

router = APIRouter()


class ShareIn(BaseModel):
    """What to share, for how long, and whether the page shows the prompt."""

    image_id: uuid.UUID | None = None
    board_id: uuid.UUID | None = None
    expires_in: Literal["hour", "day", "week", "never"] = Field(
        default="day", description="`never` only where an admin allows it."
    )
    show_prompt: bool = True


class ShareOut(BaseModel):
    """A share link (its URL only when it is made: only a digest of its token is kept)."""

    id: uuid.UUID
    image_id: uuid.UUID | None
    board_id: uuid.UUID | None
    shows: str = Field(description="The image's prompt or the board's name.")
    show_prompt: bool
    created_at: datetime
    expires_at: datetime | None
    revoked: bool
    url: str | None = Field(default=None, description="The public page; shown only now.")


class ShareList(BaseModel):
    """Your share links, newest first."""

    shares: list[ShareOut]


def _links(studio: Studio) -> ShareLinks:
    if studio.share_links is None:
        raise Problem(404, "Share links are not available here.")
    return studio.share_links


def _out(link: ShareLink, shows: str, url: str | None = None) -> ShareOut:
    return ShareOut(
        id=link.id, image_id=link.image_id, board_id=link.board_id, shows=shows[:300],
        show_prompt=link.show_prompt, created_at=link.created_at, expires_at=link.expires_at,
        revoked=link.revoked_at is not None, url=url,
    )  # fmt: skip


@router.post(
    "/shares",
    status_code=201,
    response_model=ShareOut,
    responses=answers(401, 403, 422, 503),
    summary="Make a public link to one of your images or boards",
)
async def create_share(
    body: ShareIn, request: Request, response: Response, holder: Generator, studio: CurrentStudio
):
    try:
        link, token = await _links(studio).create(
            holder.viewer,
            image_id=body.image_id,
            board_id=body.board_id,
            expiry=Expiry(body.expires_in),
            show_prompt=body.show_prompt,
        )
    except ShareRefused as exc:
        raise Problem(422, str(exc)) from exc
    except CatalogError as exc:
        raise unavailable(INDEX_DOWN) from exc
    origin = studio.settings.public_url or f"{request.url.scheme}://{request.url.netloc}"
    response.headers["Location"] = f"shares/{link.id}"
    return _out(link, "", url=f"{origin}/s/{token}")


@router.get(
    "/shares",
    response_model=ShareList,
    responses=answers(401, 403, 503),
    summary="List your share links",
)
async def list_shares(holder: Reader, studio: CurrentStudio):
    try:
        links = await _links(studio).of(holder.owner)
    except CatalogError as exc:
        raise unavailable(INDEX_DOWN) from exc
    return ShareList(shares=[_out(link, shows) for link, shows in links])


@router.delete(
    "/shares/{share_id}",
    status_code=204,
    responses=answers(401, 403, 404, 503),
    summary="Revoke a share link now",
)
async def revoke_share(share_id: uuid.UUID, holder: Generator, studio: CurrentStudio):
    try:
        revoked = await _links(studio).revoke(holder.owner, share_id)
    except CatalogError as exc:
        raise unavailable(INDEX_DOWN) from exc
    if not revoked:
        raise Problem(404, "No such share link (or it is not yours).")
    return Response(status_code=204)
