"""Selecting tiles and acting on them together: zip, delete, private/shared, star, add to a board.

Every action is checked on the server image by image, as the single actions are: a selection
that holds someone else's image acts on what the viewer may touch, and says how many it left.
"""

from __future__ import annotations

import logging
import uuid

import reflex as rx

from visionary_app.models import Image, Visibility
from visionary_app.services.access import Viewer
from visionary_app.services.gallery import (
    MAX_ZIP_IMAGES,
    BoardRefused,
    CatalogError,
    DeleteFailed,
    LibraryNotSaved,
    VisibilityNotChanged,
    change_visibility,
    delete_image,
    sign_ticket,
    star,
)
from visionary_app.services.studio import get_studio
from visionary_app.state.gallery import GalleryState
from visionary_app.state.visitor import viewer_of

logger = logging.getLogger(__name__)


def _summary(verb: str, done: int, refused: int, failed: int) -> str:
    """What a bulk action did, e.g. `3 deleted; 1 is not yours to change (or gone), ...`."""
    parts = [f"{done} {verb}"]
    if refused:
        parts.append(
            f"{refused} {'is' if refused == 1 else 'are'} not yours to change (or gone), "
            "left as they were"
        )
    if failed:
        parts.append(f"{failed} could not be changed (storage is unavailable); try again")
    return "; ".join(parts) + "."


class SelectionState(rx.State):
    """The selected tiles (ids, in the gallery's order) and the ticket to download them."""

    selected: list[str] = []
    ticket: str = ""  # signed for exactly `selected`, by whoever selected them
    confirming_delete: bool = False
    _anchor: str = ""  # the last tile clicked without shift: a shift-click selects from here

    @rx.var
    def count(self) -> int:
        """How many are selected."""
        return len(self.selected)

    @rx.var
    def ids_text(self) -> str:
        """The selection as the download form posts it."""
        return " ".join(self.selected)

    async def _set(self, ids: list[str]) -> None:
        self.selected = list(dict.fromkeys(ids))[:MAX_ZIP_IMAGES]
        if not self.selected:
            self.ticket, self.confirming_delete = "", False
            return
        viewer = await viewer_of(self)
        hexes = [uuid.UUID(image_id).hex for image_id in self.selected]
        self.ticket = sign_ticket(get_studio().archive_key, viewer, hexes)

    @rx.event
    async def toggle(self, image_id: str, info: dict | None = None):
        """Tick or untick one tile; with shift, tick every tile from the last one clicked."""
        gallery = await self.get_state(GalleryState)
        order = [tile.id for tile in gallery.images]
        if image_id not in order:
            return
        shift = bool((info or {}).get("shift_key"))
        if shift and self._anchor in order:
            start, end = sorted((order.index(self._anchor), order.index(image_id)))
            await self._set([*self.selected, *order[start : end + 1]])
            return
        self._anchor = image_id
        if image_id in self.selected:
            await self._set([i for i in self.selected if i != image_id])
        else:
            await self._set([*self.selected, image_id])

    @rx.event
    async def select_all(self):
        """Select every tile loaded."""
        gallery = await self.get_state(GalleryState)
        await self._set([tile.id for tile in gallery.images])

    @rx.event
    async def clear(self):
        """Select nothing."""
        self._anchor = ""
        await self._set([])

    @rx.event
    def set_confirming_delete(self, value: bool):
        """Open or close the delete confirmation."""
        self.confirming_delete = bool(value)

    async def _images(self) -> tuple[Viewer, list[Image], int]:
        """The viewer, the selected images they may see, and how many they may not."""
        viewer = await viewer_of(self)
        ids = [uuid.UUID(image_id) for image_id in self.selected]
        found = await get_studio().catalog.get_many(ids)
        visible = [image for image in found if viewer.may_see(image)]
        return viewer, visible, len(ids) - len(visible)

    @rx.event
    async def delete_selected(self):
        """Delete the selected images the viewer may change (after the confirmation)."""
        self.confirming_delete = False
        studio = get_studio()
        try:
            viewer, images, refused = await self._images()
        except CatalogError:
            return rx.toast.error("Nothing was deleted: the gallery index is unavailable.")
        gallery = await self.get_state(GalleryState)
        done = failed = 0
        for image in images:
            if not viewer.may_change(image):
                refused += 1
                continue
            try:
                await delete_image(studio.store, studio.catalog, image)
            except DeleteFailed:
                failed += 1
                continue
            done += 1
            gallery._forget(str(image.id))
        await self._set([])
        return rx.toast.success(_summary("deleted", done, refused, failed), id="bulk-result")

    @rx.event
    async def share_selected(self, shared: bool):
        """Make the selected images the viewer may change shared (True) or private."""
        studio = get_studio()
        visibility = Visibility.SHARED if shared else Visibility.PRIVATE
        try:
            viewer, images, refused = await self._images()
        except CatalogError:
            return rx.toast.error("Nothing was changed: the gallery index is unavailable.")
        done = failed = 0
        for image in images:
            if not viewer.may_change(image):
                refused += 1
                continue
            if image.visibility != visibility:
                try:
                    await change_visibility(studio.store, studio.catalog, image, visibility)
                except VisibilityNotChanged:
                    failed += 1
                    continue
            done += 1
        verb = "shared" if shared else "made private"
        return rx.toast.success(_summary(verb, done, refused, failed), id="bulk-result")

    @rx.event
    async def star_selected(self):
        """Star every selected image the viewer may see."""
        studio = get_studio()
        try:
            viewer, images, refused = await self._images()
        except CatalogError:
            return rx.toast.error("Nothing was starred: the gallery index is unavailable.")
        gallery = await self.get_state(GalleryState)
        done = failed = 0
        for image in images:
            try:
                await star(studio.store, studio.catalog, viewer, image, True)
            except LibraryNotSaved:
                failed += 1
                continue
            done += 1
            gallery._replace(str(image.id), favourite=True)
        return rx.toast.success(_summary("starred", done, refused, failed), id="bulk-result")

    @rx.event
    async def add_selected_to(self, board_id: str):
        """Put the selected images the viewer may see into one of their boards."""
        viewer = await viewer_of(self)
        try:
            change = await get_studio().boards.add(
                viewer, uuid.UUID(hex=board_id), [uuid.UUID(i) for i in self.selected]
            )
        except BoardRefused as exc:
            return rx.toast.error(str(exc), id="board-refused")
        except (CatalogError, ValueError):
            return rx.toast.error("Nothing was added: the gallery index is unavailable.")
        summary = _summary("added to the board", len(change.done), change.refused, change.failed)
        return rx.toast.success(summary, id="bulk-result")
