"""Boards: named collections of images, each with an owner and the images' private/shared rule.

A private board is its owner's alone; a shared board is seen by everyone who may use the app.
Its owner changes it (rename, share, delete, add and remove images), and so may an admin when
it is shared. A board never owns its images: deleting it leaves them where they were, and an
image may be in several boards. Each board is kept in a small JSON blob, and each image's
boards in its own blob's metadata, so that `sync` rebuilds both from the store.
"""

from __future__ import annotations

import asyncio
import json
import logging
import unicodedata
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime

import sqlalchemy as sa
from sqlmodel import Session, col, select

from visionary_app.models import Board, BoardImage, Image, ShareLink, Visibility
from visionary_app.services.access.ownership import Viewer
from visionary_app.services.gallery.catalog import Catalog, CatalogError
from visionary_app.services.gallery.curation import LibraryNotSaved, keep_library
from visionary_app.services.kit.database import in_session
from visionary_app.services.storage.blob_names import board_blob_name
from visionary_app.services.storage.blob_store import BlobStore, StorageError

__all__ = [
    "MAX_BOARDS_PER_OWNER",
    "MAX_BOARD_NAME_CHARS",
    "BoardChange",
    "BoardRefused",
    "Boards",
    "board_from_blob",
    "clean_board_name",
]

logger = logging.getLogger(__name__)

MAX_BOARD_NAME_CHARS = 80
MAX_BOARDS_PER_OWNER = 200
# An image's boards travel in its blob's metadata (33 bytes each): room for this many.
MAX_BOARDS_PER_IMAGE = 50
_AT_ONCE = 8  # metadata writes in flight during a bulk change


UNAVAILABLE = "unavailable"  # a BoardRefused's kind when storage or the index is down


class BoardRefused(Exception):
    """The board was not changed; the message is for the user, `kind` says why.

    `kind`: "invalid" (what was asked for), "missing" (no such board that they may see),
    "forbidden" (theirs to see, not to change), "unavailable" (storage or the index).
    """

    def __init__(self, message: str, kind: str = "invalid") -> None:
        super().__init__(message)
        self.kind = kind


def clean_board_name(name: str) -> str:
    """A board's name as kept: trimmed, one line, no control characters; BoardRefused if bad."""
    words = (
        "".join(ch for ch in word if unicodedata.category(ch)[0] != "C") for word in name.split()
    )
    text = " ".join(word for word in words if word)
    if not text:
        raise BoardRefused("Give the board a name.")
    if len(text) > MAX_BOARD_NAME_CHARS:
        raise BoardRefused(f"A board's name can be at most {MAX_BOARD_NAME_CHARS} characters.")
    return text


def _board_blob(board: Board) -> bytes:
    return json.dumps(
        {
            "id": board.id.hex,
            "name": board.name,
            "owner": board.owner,
            "visibility": board.visibility,
            "created_at": board.created_at.isoformat(),
        },
        ensure_ascii=False,
    ).encode("utf-8")


def board_from_blob(data: bytes) -> Board:
    """The board a board blob keeps; ValueError if it is not one."""
    try:
        body = json.loads(data.decode("utf-8"))
        return Board(
            id=uuid.UUID(hex=body["id"]),
            name=clean_board_name(body["name"]),
            owner=str(body["owner"]),
            visibility=Visibility(body["visibility"]).value,
            created_at=datetime.fromisoformat(body["created_at"]).astimezone(UTC),
        )
    except (KeyError, TypeError, UnicodeError, BoardRefused, json.JSONDecodeError) as exc:
        msg = f"not a board: {exc}"
        raise ValueError(msg) from exc


@dataclass
class BoardChange:
    """What a change to many images did: the ids it applied to, and how many it could not."""

    done: list[uuid.UUID] = field(default_factory=list)
    refused: int = 0  # not theirs to touch, or not there
    failed: int = 0  # storage or the index could not take it; nothing changed for those


class Boards:
    """Boards in the index and the store."""

    def __init__(self, catalog: Catalog, store: BlobStore) -> None:
        """Boards kept beside `catalog`'s images, with blobs in `store`."""
        self._catalog = catalog
        self._engine = catalog.engine
        self._store = store

    async def _run(self, work, action: str):
        def failure(error: str) -> CatalogError:
            return CatalogError(f"the boards could not {action}: {error}")

        return await in_session(self._engine, work, failure)

    @staticmethod
    def may_change(viewer: Viewer, board: Board) -> bool:
        """Its owner, or an admin when it is shared."""
        return board.owner == viewer.owner or (
            viewer.admin and board.visibility == Visibility.SHARED
        )

    @staticmethod
    def may_see(viewer: Viewer, board: Board) -> bool:
        """Shared boards, and one's own."""
        return board.visibility == Visibility.SHARED or board.owner == viewer.owner

    async def visible_to(self, viewer: Viewer) -> list[Board]:
        """The boards `viewer` may see: their own and the shared ones, by name."""
        query = (
            select(Board)
            .where(
                sa.or_(
                    col(Board.owner) == viewer.owner,
                    col(Board.visibility) == Visibility.SHARED.value,
                )
            )
            .order_by(sa.func.lower(col(Board.name)), col(Board.id))
        )
        return await self._run(lambda session: list(session.exec(query)), "be read")

    async def get_for(self, viewer: Viewer, board_id: uuid.UUID) -> Board | None:
        """The board if `viewer` may see it; None if it is not there or not theirs to see."""
        board = await self._run(lambda session: session.get(Board, board_id), "be read")
        return board if board is not None and self.may_see(viewer, board) else None

    async def _changeable(self, viewer: Viewer, board_id: uuid.UUID) -> Board:
        board = await self.get_for(viewer, board_id)
        if board is None:
            raise BoardRefused("There is no such board.", "missing")
        if not self.may_change(viewer, board):
            raise BoardRefused(
                "Only its owner (or an admin, if it is shared) can change a board.", "forbidden"
            )
        return board

    async def create(
        self, viewer: Viewer, name: str, visibility: Visibility = Visibility.PRIVATE
    ) -> Board:
        """A new board of `viewer`'s; BoardRefused with the reason if it cannot be made."""
        board = Board(
            name=clean_board_name(name),
            owner=viewer.owner,
            visibility=Visibility(visibility).value,
            created_at=datetime.now(UTC),
        )
        count = select(sa.func.count()).select_from(Board).where(col(Board.owner) == viewer.owner)
        if await self._run(lambda session: session.exec(count).one(), "be counted") >= (
            MAX_BOARDS_PER_OWNER
        ):
            raise BoardRefused(f"You have {MAX_BOARDS_PER_OWNER} boards, the most one may have.")
        await self._save(board)
        return board

    async def _save(self, board: Board) -> None:
        """The blob first (what `sync` rebuilds from), then the row."""
        try:
            await self._store.put(
                board_blob_name(board.id),
                _board_blob(board),
                "application/json",
                {},
                overwrite=True,
            )
        except StorageError as exc:
            logger.error("storing board %s failed: %s", board.id, exc)
            raise BoardRefused(
                "The board was not saved: image storage is unavailable.", UNAVAILABLE
            ) from exc

        def work(session: Session) -> None:
            session.merge(board)
            session.commit()

        try:
            await self._run(work, "be saved")
        except CatalogError as exc:
            raise BoardRefused(
                "The board was not saved: the gallery index is unavailable.", UNAVAILABLE
            ) from exc

    async def rename(self, viewer: Viewer, board_id: uuid.UUID, name: str) -> Board:
        """Give the board a new name."""
        board = await self._changeable(viewer, board_id)
        board.name = clean_board_name(name)
        await self._save(board)
        return board

    async def set_visibility(
        self, viewer: Viewer, board_id: uuid.UUID, visibility: Visibility
    ) -> Board:
        """Make the board private or shared (its images keep their own rule)."""
        board = await self._changeable(viewer, board_id)
        if board.owner != viewer.owner:
            raise BoardRefused("Only the board's owner can change who sees it.", "forbidden")
        board.visibility = Visibility(visibility).value
        await self._save(board)
        return board

    async def delete(self, viewer: Viewer, board_id: uuid.UUID) -> None:
        """Delete the board; its images stay. The blob goes first, so `sync` cannot bring it back.

        Images still name the board in their metadata until they next change; `sync` skips
        boards that are gone.
        """
        board = await self._changeable(viewer, board_id)
        try:
            await self._store.delete(board_blob_name(board.id))
        except StorageError as exc:
            raise BoardRefused(
                "The board was not deleted: image storage is unavailable.", UNAVAILABLE
            ) from exc

        def work(session: Session) -> None:
            session.exec(sa.delete(BoardImage).where(col(BoardImage.board_id) == board.id))
            session.exec(sa.delete(ShareLink).where(col(ShareLink.board_id) == board.id))
            session.exec(sa.delete(Board).where(col(Board.id) == board.id))
            session.commit()

        try:
            await self._run(work, "be deleted")
        except CatalogError as exc:
            raise BoardRefused(
                "The board's file was deleted, but the gallery index could not be updated; "
                "the next sync removes it.",
                UNAVAILABLE,
            ) from exc

    async def boards_holding(self, viewer: Viewer, image_id: uuid.UUID) -> set[uuid.UUID]:
        """Which of the boards `viewer` may see hold this image."""
        query = (
            select(BoardImage.board_id)
            .join(Board, col(Board.id) == col(BoardImage.board_id))
            .where(
                col(BoardImage.image_id) == image_id,
                sa.or_(
                    col(Board.owner) == viewer.owner,
                    col(Board.visibility) == Visibility.SHARED.value,
                ),
            )
        )
        return await self._run(lambda session: set(session.exec(query)), "be read")

    async def add(
        self, viewer: Viewer, board_id: uuid.UUID, image_ids: Iterable[uuid.UUID]
    ) -> BoardChange:
        """Put images `viewer` may see into a board they may change; each checked on its own."""
        board = await self._changeable(viewer, board_id)
        return await self._change(viewer, board, list(image_ids), joining=True)

    async def remove(
        self, viewer: Viewer, board_id: uuid.UUID, image_ids: Iterable[uuid.UUID]
    ) -> BoardChange:
        """Take images out of a board they may change (the images stay in the gallery)."""
        board = await self._changeable(viewer, board_id)
        return await self._change(viewer, board, list(image_ids), joining=False)

    async def join(self, board_id: uuid.UUID, images: list[Image]) -> BoardChange:
        """Put a job's new images into the board chosen when it was submitted (checked then).

        A board deleted meanwhile takes nothing.
        """
        board = await self._run(lambda session: session.get(Board, board_id), "be read")
        if board is None:
            return BoardChange(refused=len(images))
        owner = Viewer(owner=board.owner)
        return await self._apply(owner, board, images, joining=True)

    async def _change(
        self, viewer: Viewer, board: Board, image_ids: list[uuid.UUID], *, joining: bool
    ) -> BoardChange:
        found = await self._catalog.get_many(image_ids)
        images = [image for image in found if viewer.may_see(image)]
        change = await self._apply(viewer, board, images, joining=joining)
        change.refused += len(set(image_ids)) - len(images)
        return change

    async def _apply(
        self, viewer: Viewer, board: Board, images: list[Image], *, joining: bool
    ) -> BoardChange:
        """The rows, then each image's metadata; an image whose metadata fails is put back."""
        change = BoardChange()
        gate = asyncio.Semaphore(_AT_ONCE)

        async def one(image: Image) -> None:
            async with gate:
                try:
                    if not await self._set_member(board.id, image.id, joining=joining):
                        change.done.append(image.id)  # already so
                        return
                    await keep_library(self._store, self._catalog, image)
                except LibraryNotSaved:
                    await self._set_member(board.id, image.id, joining=not joining)
                    change.failed += 1
                except BoardRefused:
                    change.refused += 1
                except CatalogError as exc:
                    logger.error("board %s, image %s: %s", board.id, image.id, exc)
                    change.failed += 1
                else:
                    change.done.append(image.id)

        await asyncio.gather(*(one(image) for image in images))
        return change

    async def _set_member(self, board_id: uuid.UUID, image_id: uuid.UUID, *, joining: bool) -> bool:
        """Add or remove one membership row; False if it was already so."""

        def work(session: Session) -> bool:
            existing = session.get(BoardImage, (board_id, image_id))
            if joining == (existing is not None):
                return False
            if joining:
                held = session.exec(
                    select(sa.func.count())
                    .select_from(BoardImage)
                    .where(col(BoardImage.image_id) == image_id)
                ).one()
                if held >= MAX_BOARDS_PER_IMAGE:
                    raise BoardRefused(f"An image can be in at most {MAX_BOARDS_PER_IMAGE} boards.")
                session.add(
                    BoardImage(board_id=board_id, image_id=image_id, added_at=datetime.now(UTC))
                )
            else:
                session.delete(existing)
            session.commit()
            return True

        return await self._run(work, "be changed")

    async def known_ids(self) -> set[uuid.UUID]:
        """The id of every indexed board."""
        return await self._run(lambda session: set(session.exec(select(Board.id))), "be read")

    async def restore(self, boards: Iterable[Board]) -> list[Board]:
        """Index boards read back from their blobs (`sync`); returns the ones that were new."""
        wanted = list(boards)

        def work(session: Session) -> list[Board]:
            known = set(session.exec(select(Board.id)))
            new = [board for board in wanted if board.id not in known]
            session.add_all(new)
            session.commit()
            return new

        return await self._run(work, "be restored")
