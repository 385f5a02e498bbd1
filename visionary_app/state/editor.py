"""The editor: one image, a prompt, a painted mask and reference images, before an edit job.

The strokes come from the painter in the browser as data and stay on the server (a backend
var); the mask is drawn from them when the edit is submitted (GenerationState.edit).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import reflex as rx

from visionary_app.models import Image
from visionary_app.services.generation import MaskRefused, Stroke, strokes_from_painter
from visionary_app.services.storage import StorageError
from visionary_app.services.studio import get_studio
from visionary_app.state.options import OptionsState
from visionary_app.state.upload_files import receive_upload
from visionary_app.state.visitor import VisitorState, visible_image

logger = logging.getLogger(__name__)

BRUSH_SIZES = (8, 64)


@dataclass
class ReferenceTile:
    """A further image the edit should follow, as the editor shows it."""

    id: str
    url: str
    name: str


class EditorState(rx.State):
    """Which image is being edited and how."""

    is_open: bool = False
    image_id: str = ""
    image_url: str = ""
    width: int = 1024
    height: int = 1024
    prompt: str = ""
    brush_size: int = 32
    erasing: bool = False
    painted: bool = False  # whether any stroke is on the canvas (for the hint)
    references: list[ReferenceTile] = []
    _strokes: list[Stroke] = []
    _canvas_width: float = 0.0

    async def _open(self, image: Image) -> bool:
        """Open the editor on `image` (already checked visible); False if it cannot be shown."""
        try:
            signed = await get_studio().store.signed_url(image.blob_name)
        except StorageError as exc:
            logger.error("signing %s for the editor failed: %s", image.blob_name, exc)
            return False
        self.image_id, self.image_url = str(image.id), signed.url
        self.width, self.height = image.width, image.height
        self.prompt = ""
        self.erasing = False
        self.painted = False
        self.references = []
        self._strokes, self._canvas_width = [], 0.0
        self.is_open = True
        return True

    @rx.event
    def set_open(self, value: bool) -> None:
        """Follow the dialog (Esc and the close button close it)."""
        self.is_open = value

    @rx.event
    def set_prompt(self, value: str) -> None:
        """Keep what the edit should do."""
        self.prompt = value

    @rx.event
    def set_brush_size(self, value: str) -> None:
        """The range input's value: brush (and eraser) width in screen pixels."""
        try:
            size = int(float(value))
        except ValueError:
            return
        self.brush_size = min(max(size, BRUSH_SIZES[0]), BRUSH_SIZES[1])

    @rx.event
    def set_erasing(self, value: bool) -> None:
        """Paint (False) or erase (True); the painter itself switches on the client."""
        self.erasing = value

    @rx.event
    def set_strokes(self, paths: list, canvas_width: float = 0.0):
        """The painter's strokes after every change (stroke, undo, clear): kept server-side."""
        try:
            strokes = strokes_from_painter(paths)
        except MaskRefused as exc:
            self._strokes = []
            return rx.toast.error(str(exc), id="mask-refused")
        self._strokes = strokes
        self._canvas_width = float(canvas_width or 0.0)
        self.painted = any(stroke.paint for stroke in strokes)
        return None

    @rx.event(background=True)
    async def upload_reference(self, chunks: rx.UploadChunkIterator):
        """A picture of one's own as a further reference (it joins the gallery as an upload)."""
        async with self:
            owner = (await self.get_state(VisitorState))._owner()
        result = await receive_upload(owner, chunks)
        if isinstance(result, str):
            yield rx.toast.error(result, duration=10_000, id="upload-refused")
            return
        async with self:
            await self._add_reference(result)

    @rx.event
    async def add_reference(self, image_id: str) -> None:
        """Add an image this tab's viewer may see as a further reference (ids are checked)."""
        image = await visible_image(self, image_id)
        if image is not None:
            await self._add_reference(image)

    async def _add_reference(self, image: Image) -> None:
        image_id = str(image.id)
        if image_id == self.image_id or any(ref.id == image_id for ref in self.references):
            return
        options = await self.get_state(OptionsState)
        if len(self.references) >= options.capabilities().max_input_images - 1:
            return
        try:
            signed = await get_studio().store.signed_url(
                image.thumbnail_blob_name or image.blob_name
            )
        except StorageError as exc:
            logger.error("signing reference %s failed: %s", image.id, exc)
            return
        self.references = [
            *self.references,
            ReferenceTile(str(image.id), signed.url, image.prompt[:80]),
        ]

    @rx.event
    def remove_reference(self, image_id: str) -> None:
        """Drop a reference image from the edit."""
        self.references = [ref for ref in self.references if ref.id != image_id]
