"""Boards: make, list, rename, share and delete them; put images in and take them out."""

import uuid
from datetime import datetime
from typing import Literal

from fastapi import APIRouter, Response
from pydantic import BaseModel, Field

from visionary_app.api.v1.auth import CurrentStudio, Generator, Reader
from visionary_app.api.v1.errors import INDEX_DOWN, Problem, answers, unavailable
from visionary_app.models import Board, Visibility
from visionary_app.services.access import TokenHolder
from visionary_app.services.gallery import (
    MAX_BOARD_NAME_CHARS,
    BoardChange,
    BoardRefused,
    Boards,
    CatalogError,
)
from visionary_app.services.studio import Studio

__all__ = ["router"]

router = APIRouter()
_NO_BOARD = "No such board (or it is not yours to see)."


class BoardIn(BaseModel):
    """A new board."""

    name: str = Field(max_length=4 * MAX_BOARD_NAME_CHARS, examples=["Forest animals"])
    visibility: Literal["private", "shared"] = "private"


class BoardPatch(BaseModel):
    """What to change about a board; fields left out stay as they are."""

    name: str | None = Field(default=None, max_length=4 * MAX_BOARD_NAME_CHARS)
    visibility: Literal["private", "shared"] | None = None


class BoardOut(BaseModel):
    """A board you may see."""

    id: uuid.UUID
    name: str
    visibility: Literal["private", "shared"]
    mine: bool = Field(description="Whether you own it.")
    may_change: bool = Field(description="Whether you may rename it and add or remove images.")
    created_at: datetime


class BoardList(BaseModel):
    """The boards you may see (yours and the shared ones), by name."""

    boards: list[BoardOut]


class BoardImagesIn(BaseModel):
    """Images to put into a board."""

    image_ids: list[uuid.UUID] = Field(min_length=1, max_length=1000)


class BoardChangeOut(BaseModel):
    """What a change to many images did."""

    image_ids: list[uuid.UUID] = Field(description="The images it applied to.")
    refused: int = Field(description="Images that are not there or not yours to see.")
    failed: int = Field(description="Images storage could not change; try those again.")


def _boards(studio: Studio) -> Boards:
    if studio.boards is None:
        raise Problem(404, "Boards are not available here.")
    return studio.boards


def _out(board: Board, holder: TokenHolder) -> BoardOut:
    return BoardOut(
        id=board.id,
        name=board.name,
        visibility=board.visibility,
        mine=board.owner == holder.owner,
        may_change=Boards.may_change(holder.viewer, board),
        created_at=board.created_at,
    )


def _change_out(change: BoardChange) -> BoardChangeOut:
    return BoardChangeOut(image_ids=change.done, refused=change.refused, failed=change.failed)


def _refused(exc: BoardRefused) -> Problem:
    if exc.kind == "missing":
        return Problem(404, _NO_BOARD)
    if exc.kind == "unavailable":
        return unavailable(str(exc))
    return Problem(403 if exc.kind == "forbidden" else 422, str(exc))


@router.get(
    "/boards",
    response_model=BoardList,
    responses=answers(401, 403, 503),
    summary="List the boards you may see",
)
async def list_boards(holder: Reader, studio: CurrentStudio):
    try:
        boards = await _boards(studio).visible_to(holder.viewer)
    except CatalogError as exc:
        raise unavailable(INDEX_DOWN) from exc
    return BoardList(boards=[_out(board, holder) for board in boards])


@router.post(
    "/boards",
    status_code=201,
    response_model=BoardOut,
    responses=answers(401, 403, 422, 503),
    summary="Make a board",
)
async def create_board(body: BoardIn, holder: Generator, response: Response, studio: CurrentStudio):
    try:
        board = await _boards(studio).create(holder.viewer, body.name, Visibility(body.visibility))
    except BoardRefused as exc:
        raise _refused(exc) from exc
    except CatalogError as exc:
        raise unavailable(INDEX_DOWN) from exc
    response.headers["Location"] = f"boards/{board.id}"
    return _out(board, holder)


@router.get(
    "/boards/{board_id}",
    response_model=BoardOut,
    responses=answers(401, 403, 404, 503),
    summary="One board (its images: GET /images?board=…)",
)
async def get_board(board_id: uuid.UUID, holder: Reader, studio: CurrentStudio):
    try:
        board = await _boards(studio).get_for(holder.viewer, board_id)
    except CatalogError as exc:
        raise unavailable(INDEX_DOWN) from exc
    if board is None:
        raise Problem(404, _NO_BOARD)
    return _out(board, holder)


@router.patch(
    "/boards/{board_id}",
    response_model=BoardOut,
    responses=answers(401, 403, 404, 422, 503),
    summary="Rename a board, or make it private or shared",
)
async def change_board(
    board_id: uuid.UUID, body: BoardPatch, holder: Generator, studio: CurrentStudio
):
    boards = _boards(studio)
    try:
        board = await boards.get_for(holder.viewer, board_id)
        if board is None:
            raise Problem(404, _NO_BOARD)
        if body.name is not None:
            board = await boards.rename(holder.viewer, board_id, body.name)
        if body.visibility is not None and body.visibility != board.visibility:
            board = await boards.set_visibility(
                holder.viewer, board_id, Visibility(body.visibility)
            )
    except BoardRefused as exc:
        raise _refused(exc) from exc
    except CatalogError as exc:
        raise unavailable(INDEX_DOWN) from exc
    return _out(board, holder)


@router.delete(
    "/boards/{board_id}",
    status_code=204,
    responses=answers(401, 403, 404, 503),
    summary="Delete a board (its images stay in the gallery)",
)
async def delete_board(board_id: uuid.UUID, holder: Generator, studio: CurrentStudio):
    try:
        await _boards(studio).delete(holder.viewer, board_id)
    except BoardRefused as exc:
        raise _refused(exc) from exc
    except CatalogError as exc:
        raise unavailable(INDEX_DOWN) from exc
    return Response(status_code=204)


@router.post(
    "/boards/{board_id}/images",
    response_model=BoardChangeOut,
    responses=answers(401, 403, 404, 422, 503),
    summary="Put images into a board (each one you may see)",
)
async def add_board_images(
    board_id: uuid.UUID, body: BoardImagesIn, holder: Generator, studio: CurrentStudio
):
    try:
        change = await _boards(studio).add(holder.viewer, board_id, body.image_ids)
    except BoardRefused as exc:
        raise _refused(exc) from exc
    except CatalogError as exc:
        raise unavailable(INDEX_DOWN) from exc
    return _change_out(change)


@router.delete(
    "/boards/{board_id}/images/{image_id}",
    response_model=BoardChangeOut,
    responses=answers(401, 403, 404, 503),
    summary="Take an image out of a board (it stays in the gallery)",
)
async def remove_board_image(
    board_id: uuid.UUID, image_id: uuid.UUID, holder: Generator, studio: CurrentStudio
):
    try:
        change = await _boards(studio).remove(holder.viewer, board_id, [image_id])
    except BoardRefused as exc:
        raise _refused(exc) from exc
    except CatalogError as exc:
        raise unavailable(INDEX_DOWN) from exc
    return _change_out(change)
