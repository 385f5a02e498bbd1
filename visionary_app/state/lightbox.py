"""The lightbox: one image at full size, its details, and what can be done with it."""

from __future__ import annotations

import logging
import uuid

import reflex as rx

from visionary_app.models import LEGACY_OWNER, Image, Visibility
from visionary_app.services.blob_store import StorageError
from visionary_app.services.catalog import CatalogError
from visionary_app.services.curation import (
    DeleteFailed,
    VisibilityNotChanged,
    change_visibility,
    delete_image,
    download_filename,
)
from visionary_app.services.ownership import Viewer
from visionary_app.services.studio import get_studio
from visionary_app.state.gallery import GalleryState
from visionary_app.state.generation import GenerationState
from visionary_app.state.options import OptionsState
from visionary_app.state.visitor import viewer_of

logger = logging.getLogger(__name__)


class LightboxState(rx.State):
    """Which image is open and what the dialog shows about it."""

    is_open: bool = False
    image_id: str = ""
    origin_id: str = ""  # the tile it was opened from; focus goes back there on close
    full_url: str = ""
    download_url: str = ""
    download_name: str = ""
    prompt: str = ""
    revised_prompt: str = ""
    model: str = ""
    size: str = ""
    created_at: str = ""
    owner_label: str = ""  # "you", a user's name, "a visitor": never an owner key
    shared: bool = False
    can_change: bool = False  # only decides what the dialog offers; events check again
    confirming_delete: bool = False

    async def _image(self, image_id: str) -> Image | None:
        """The image with this id if this tab's viewer may see it.

        None if the id is malformed, the image gone or private to someone else, or the index
        unreadable.
        """
        try:
            return await get_studio().catalog.get_for(await viewer_of(self), uuid.UUID(image_id))
        except (CatalogError, ValueError) as exc:
            logger.error("reading image %r failed: %s", image_id, exc)
            return None

    async def _show(self, image_id: str) -> bool:
        studio = get_studio()
        image = await self._image(image_id)
        if image is None:
            return False
        viewer = await viewer_of(self)
        try:
            full = await studio.store.signed_url(image.blob_name)
            name = download_filename(image)
            download = await studio.store.download_url(image.blob_name, name)
        except (StorageError, ValueError) as exc:
            logger.error("opening %s failed: %s", image_id, exc)
            return False
        self.full_url, self.download_name, self.download_url = full.url, name, download.url
        self.image_id = image_id
        self.prompt = image.prompt
        self.revised_prompt = image.revised_prompt or ""
        self.model = image.model
        self.size = f"{image.width}×{image.height}"
        self.created_at = f"{image.created_at:%Y-%m-%d %H:%M} UTC"
        self.owner_label = owner_label(image.owner, viewer)
        self.shared = image.visibility == Visibility.SHARED
        self.can_change = viewer.may_change(image)
        self.confirming_delete = False
        return True

    @rx.event
    async def open_image(self, image_id: str):
        """Open the lightbox on one image."""
        if await self._show(image_id):
            self.is_open = True
            self.origin_id = image_id
        else:
            yield rx.toast.error("That image could not be opened; refresh the gallery.")

    @rx.event
    def set_open(self, value: bool) -> None:
        """Follow the dialog (Esc and the close button close it)."""
        self.is_open = value
        if not value:
            self.confirming_delete = False

    @rx.event
    async def step(self, delta: int):
        """Move to the previous (-1) or next (+1) image of the gallery."""
        gallery = await self.get_state(GalleryState)
        ids = [tile.id for tile in gallery.images]
        if self.image_id not in ids:
            return
        index = ids.index(self.image_id) + delta
        if 0 <= index < len(ids):
            await self._show(ids[index])

    @rx.event
    async def handle_key(self, key: str, _info: dict | None = None):
        """Arrow keys move between neighbours (Esc is handled by the dialog)."""
        if key == "ArrowRight":
            yield LightboxState.step(1)
        elif key == "ArrowLeft":
            yield LightboxState.step(-1)

    @rx.event
    def copy_prompt(self):
        """Put the prompt on the clipboard."""
        return [rx.set_clipboard(self.prompt), rx.toast.info("Prompt copied to the clipboard.")]

    @rx.event
    async def use_prompt(self):
        """Fill the prompt box with this prompt, without generating."""
        generation = await self.get_state(GenerationState)
        generation.prompt = self.prompt
        self.is_open = False
        return rx.toast.info("Prompt placed in the prompt box.")

    @rx.event
    async def regenerate(self):
        """Generate again from this prompt with the same size, quality and style."""
        studio = get_studio()
        image = await self._image(self.image_id)
        if image is None:
            return rx.toast.error("That image could not be read; refresh the gallery.")
        options = await self.get_state(OptionsState)
        size = f"{image.width}x{image.height}"
        options.size = size if size in studio.capabilities.sizes else ""
        options.quality = image.quality or ""
        options.style = image.style or ""
        options.count = "1"
        self.is_open = False
        return GenerationState.generate({"prompt": image.prompt})

    @rx.event
    def ask_delete(self, value: bool = True) -> None:
        """Show (or hide) the delete confirmation."""
        self.confirming_delete = value

    async def _changeable(self) -> Image | str:
        """The open image if this tab's viewer may change it, else why not (for a toast)."""
        viewer = await viewer_of(self)
        try:
            image = await get_studio().catalog.get_for(viewer, uuid.UUID(self.image_id))
        except (CatalogError, ValueError) as exc:
            logger.error("reading image %r failed: %s", self.image_id, exc)
            return "the index is unavailable."
        if image is None:
            self.is_open = False
            return "it is no longer in the gallery."
        if not viewer.may_change(image):
            logger.warning("%s may not change image %s", viewer.owner, image.id)
            return "only its owner (or an admin) may do that."
        return image

    @rx.event
    async def delete(self):
        """Delete the image, its thumbnail and its row, after the confirmation."""
        studio = get_studio()
        self.confirming_delete = False
        image = await self._changeable()
        if isinstance(image, str):
            return rx.toast.error(f"The image could not be deleted: {image}")
        try:
            await delete_image(studio.store, studio.catalog, image)
        except DeleteFailed as exc:
            return rx.toast.error(str(exc))
        gallery = await self.get_state(GalleryState)
        gallery._forget(self.image_id)
        self.is_open = False
        return rx.toast.success("Image deleted.")

    @rx.event
    async def toggle_visibility(self):
        """Make the open image private (its owner only) or shared (everyone)."""
        image = await self._changeable()
        if isinstance(image, str):
            return rx.toast.error(f"Who can see the image could not be changed: {image}")
        shared = image.visibility != Visibility.SHARED
        visibility = Visibility.SHARED if shared else Visibility.PRIVATE
        studio = get_studio()
        try:
            await change_visibility(studio.store, studio.catalog, image, visibility)
        except VisibilityNotChanged as exc:
            return rx.toast.error(str(exc))
        self.shared = shared
        if not shared and image.owner != (await viewer_of(self)).owner:
            # An admin hid someone else's image: it is private to its owner now, gone from here.
            (await self.get_state(GalleryState))._forget(self.image_id)
            self.is_open = False
        what = "Shared with everyone." if shared else "Private: only its owner can see it."
        return rx.toast.success(what)


def owner_label(owner: str, viewer: Viewer) -> str:
    """Who made an image, as the page may say it (a visitor's key never leaves the server)."""
    if owner == viewer.owner:
        return "you"
    if owner.startswith("user:"):
        return owner.removeprefix("user:")
    if owner == LEGACY_OWNER:
        return "someone, before images had owners"
    return "a visitor"
