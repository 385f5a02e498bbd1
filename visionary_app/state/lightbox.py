"""The lightbox: one image at full size, its details, and what can be done with it."""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass

import reflex as rx

from visionary_app.models import LEGACY_OWNER, Image, ImageKind, Visibility
from visionary_app.services.access import Viewer
from visionary_app.services.gallery import (
    BoardRefused,
    CatalogError,
    ContentCredentials,
    DeleteFailed,
    VisibilityNotChanged,
    change_visibility,
    delete_image,
    download_filename,
)
from visionary_app.services.generation import PROVIDER_LABELS
from visionary_app.services.storage import StorageError
from visionary_app.services.studio import get_studio
from visionary_app.state.editor import EditorState
from visionary_app.state.gallery import GalleryState
from visionary_app.state.generation import GenerationState
from visionary_app.state.visitor import viewer_of, visible_image

logger = logging.getLogger(__name__)

# What the lightbox calls each kind, and how it names the image an image was made from.
KIND_LABELS = {
    ImageKind.GENERATED: "Generated",
    ImageKind.EDITED: "Edited",
    ImageKind.VARIATION: "Variation",
    ImageKind.UPLOAD: "Uploaded",
}
PARENT_LABELS = {ImageKind.EDITED: "Edited from", ImageKind.VARIATION: "Variation of"}


@dataclass
class LineageTile:
    """An image made from the open one, as a small link."""

    id: str
    url: str
    prompt: str
    kind: str


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
    provider: str = ""  # what the page calls the provider that made it ("" for an upload)
    # Its content credentials (C2PA), if it carries them: signer, generator, validation.
    credentials_signer: str = ""
    credentials_generator: str = ""
    credentials_state: str = ""
    credentials_note: str = ""
    size: str = ""
    created_at: str = ""
    owner_label: str = ""  # "you", a user's name, "a visitor": never an owner key
    shared: bool = False
    can_change: bool = False  # only decides what the dialog offers; events check again
    confirming_delete: bool = False
    kind_label: str = ""
    parent_label: str = ""  # "Edited from", "Variation of"; "" for a generation or upload
    parent_id: str = ""  # "" when the source is gone or not this viewer's to see
    parent_prompt: str = ""
    made_from_this: list[LineageTile] = []
    board_ids: list[str] = []  # the boards the viewer may see that hold it
    preset: str = ""  # the style preset it was made with, if any

    def _show_credentials(self, credentials: ContentCredentials | None) -> None:
        if credentials is None:
            self.credentials_signer = self.credentials_generator = ""
            self.credentials_state = self.credentials_note = ""
            return
        self.credentials_signer = credentials.signer
        self.credentials_generator = credentials.generator
        self.credentials_state = {
            "Trusted": "Valid, from a trusted signer",
            "Valid": "Valid (signature intact; signer not on a trust list)",
        }.get(credentials.state, "Does not validate: changed since it was signed")
        notes = []
        if credentials.created_by_ai:
            notes.append("Made by an AI model, it says.")
        if credentials.from_upload:
            notes.append("Read from the uploaded file; the stored copy has its metadata removed.")
        self.credentials_note = " ".join(notes)

    async def _show(self, image_id: str) -> bool:
        studio = get_studio()
        image = await visible_image(self, image_id)
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
        self.preset = image.preset or ""
        self.provider = PROVIDER_LABELS.get(image.provider, image.provider) if image.model else ""
        self._show_credentials(ContentCredentials.from_json(image.credentials))
        self.size = f"{image.width}×{image.height}"
        self.created_at = f"{image.created_at:%Y-%m-%d %H:%M} UTC"
        self.owner_label = owner_label(image.owner, viewer)
        self.shared = image.visibility == Visibility.SHARED
        self.can_change = viewer.may_change(image)
        self.confirming_delete = False
        await self._show_lineage(image, viewer)
        try:
            held = await studio.boards.boards_holding(viewer, image.id)
        except CatalogError as exc:
            logger.error("reading the boards of %s failed: %s", image.id, exc)
            held = set()
        self.board_ids = sorted(board.hex for board in held)
        return True

    async def _show_lineage(self, image: Image, viewer: Viewer) -> None:
        """Where the image came from and what was made of it, as far as the viewer may see."""
        catalog, store = get_studio().catalog, get_studio().store
        kind = ImageKind(image.kind)
        self.kind_label = KIND_LABELS[kind]
        self.parent_label = PARENT_LABELS.get(kind, "")
        self.parent_id = self.parent_prompt = ""
        self.made_from_this = []
        try:
            parent = await catalog.get_for(viewer, image.source_id) if image.source_id else None
            children = await catalog.made_from(viewer, image.id)
        except CatalogError as exc:
            logger.error("reading the lineage of %s failed: %s", image.id, exc)
            return
        if parent is not None:
            self.parent_id, self.parent_prompt = str(parent.id), parent.prompt[:120]
        tiles = []
        for child in children:
            try:
                signed = await store.signed_url(child.thumbnail_blob_name or child.blob_name)
            except StorageError:
                continue
            tiles.append(LineageTile(str(child.id), signed.url, child.prompt[:120], child.kind))
        self.made_from_this = tiles

    @rx.event
    async def open_image(self, image_id: str):
        """Open the lightbox on one image."""
        if await self._show(image_id):
            self.is_open = True
            self.origin_id = image_id
        else:
            yield rx.toast.error("That image could not be opened; refresh the gallery.")

    @rx.event
    async def go_to(self, image_id: str):
        """Show a related image (its source, or one made from it) in the open lightbox."""
        if not await self._show(image_id):
            return rx.toast.error("That image is no longer in the gallery.")
        return None

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
    async def toggle_board(self, board_id: str, joined: bool):
        """Put the open image into a board, or take it out (both checked on the server)."""
        boards, viewer = get_studio().boards, await viewer_of(self)
        try:
            board, image = uuid.UUID(hex=board_id), uuid.UUID(self.image_id)
            if joined:
                change = await boards.add(viewer, board, [image])
            else:
                change = await boards.remove(viewer, board, [image])
        except BoardRefused as exc:
            return rx.toast.error(str(exc), id="board-refused")
        except (CatalogError, ValueError) as exc:
            logger.error("changing board %r failed: %s", board_id, exc)
            return rx.toast.error("The board could not be changed; try again.")
        if not change.done:
            return rx.toast.error("The board could not be changed: image storage is unavailable.")
        held = set(self.board_ids)
        held = held | {board.hex} if joined else held - {board.hex}
        self.board_ids = sorted(held)
        gallery = await self.get_state(GalleryState)
        if gallery.board == board.hex and not joined:
            gallery._forget(self.image_id)
        return None

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
    async def more_like_this(self):
        """A variation of the open image (a job, shown in the gallery like any other)."""
        if await visible_image(self, self.image_id) is None:
            return rx.toast.error("That image could not be read; refresh the gallery.")
        self.is_open = False
        return GenerationState.vary(self.image_id)

    @rx.event
    async def start_edit(self):
        """Open the editor on this image."""
        image = await visible_image(self, self.image_id)
        if image is None:
            return rx.toast.error("That image could not be read; refresh the gallery.")
        editor = await self.get_state(EditorState)
        if not await editor._open(image):
            return rx.toast.error("That image could not be opened for editing; try again.")
        self.is_open = False
        return None

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
