"""Boards in the page: those one may see, the one the gallery shows, making and changing them."""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass
from typing import Any

import reflex as rx

from visionary_app.models import Visibility
from visionary_app.services.gallery import BoardRefused, Boards, CatalogError
from visionary_app.services.studio import get_studio
from visionary_app.state.gallery import GalleryState
from visionary_app.state.visitor import viewer_of

logger = logging.getLogger(__name__)

ALL_IMAGES = "all"  # the picker's value for no board (Radix's select takes no empty value)
_UNREADABLE = "The boards could not be read; try again."


@dataclass
class BoardEntry:
    """A board the viewer may see, as the picker and the lightbox list it."""

    id: str
    name: str
    shared: bool
    may_change: bool


class BoardsState(rx.State):
    """The viewer's boards, and the dialog that makes or renames one."""

    boards: list[BoardEntry] = []
    dialog_open: bool = False
    renaming: bool = False  # the dialog renames the chosen board rather than making one

    @rx.var
    def changeable(self) -> list[BoardEntry]:
        """The boards the viewer may put images into."""
        return [board for board in self.boards if board.may_change]

    @rx.var
    def picker_key(self) -> str:
        """Changes with any board's name: Radix's select shows a renamed choice once remade."""
        return str(hash(tuple((board.id, board.name) for board in self.boards)))

    @rx.var
    def changeable_ids(self) -> list[str]:
        """The ids of `changeable`."""
        return [board.id for board in self.boards if board.may_change]

    async def _reload(self) -> None:
        viewer = await viewer_of(self)
        boards = await get_studio().boards.visible_to(viewer)
        self.boards = [
            BoardEntry(
                id=board.id.hex,
                name=board.name,
                shared=board.visibility == Visibility.SHARED,
                may_change=Boards.may_change(viewer, board),
            )
            for board in boards
        ]

    @rx.event
    async def refresh(self):
        """Read the boards again (when the page loads and after each change)."""
        try:
            await self._reload()
        except CatalogError as exc:
            logger.error("reading boards failed: %s", exc)
            return rx.toast.error(_UNREADABLE)
        return None

    @rx.event
    async def choose(self, value: str):
        """Show one board's images, or all images; new images from this page join it."""
        gallery = await self.get_state(GalleryState)
        chosen = "" if value == ALL_IMAGES else str(value)
        if chosen and chosen not in {board.id for board in self.boards}:
            return None  # not a board this viewer was offered: a crafted event does nothing
        gallery.board = chosen
        return GalleryState.load

    @rx.event
    def open_new(self):
        """Open the dialog to make a board."""
        self.renaming = False
        self.dialog_open = True

    @rx.event
    def open_rename(self):
        """Open the dialog to rename the chosen board."""
        self.renaming = True
        self.dialog_open = True

    @rx.event
    def set_dialog_open(self, value: bool):
        """Follow the dialog (Esc and Cancel close it)."""
        self.dialog_open = bool(value)

    @rx.event
    async def save(self, form: dict[str, Any]):
        """Make a board, or rename the chosen one, from the dialog's form."""
        name = str(form.get("name", ""))
        boards, viewer = get_studio().boards, await viewer_of(self)
        gallery = await self.get_state(GalleryState)
        try:
            if self.renaming:
                board = await boards.rename(viewer, uuid.UUID(gallery.board), name)
                message = f"Renamed to “{board.name}”."
            else:
                shared = Visibility.SHARED if form.get("shared") else Visibility.PRIVATE
                board = await boards.create(viewer, name, shared)
                message = f"Board “{board.name}” made; it is showing now."
                gallery.board = board.id.hex
            await self._reload()
        except BoardRefused as exc:
            return rx.toast.error(str(exc), id="board-refused")
        except (CatalogError, ValueError) as exc:
            logger.error("saving a board failed: %s", exc)
            return rx.toast.error(_UNREADABLE)
        self.dialog_open = False
        return [GalleryState.load, rx.toast.success(message, id="board-saved")]

    @rx.event
    async def delete_chosen(self):
        """Delete the chosen board (its images stay) and show all images."""
        gallery = await self.get_state(GalleryState)
        if not gallery.board:
            return None
        try:
            await get_studio().boards.delete(await viewer_of(self), uuid.UUID(gallery.board))
            gallery.board = ""
            await self._reload()
        except BoardRefused as exc:
            return rx.toast.error(str(exc), id="board-refused")
        except (CatalogError, ValueError) as exc:
            logger.error("deleting a board failed: %s", exc)
            return rx.toast.error(_UNREADABLE)
        return [GalleryState.load, rx.toast.success("Board deleted; its images are still here.")]
