"""The upload button: a person's own picture into the gallery, then open to edit or vary it."""

from __future__ import annotations

import logging

import reflex as rx

from visionary_app.services.gallery import BoardRefused, CatalogError
from visionary_app.services.storage import StorageError
from visionary_app.services.studio import get_studio
from visionary_app.state.gallery import GalleryState, sign_tile
from visionary_app.state.lightbox import LightboxState
from visionary_app.state.upload_files import receive_upload
from visionary_app.state.visitor import VisitorState, viewer_of

logger = logging.getLogger(__name__)

UPLOAD_ID = "upload-image"


class UploadState(rx.State):
    """Whether an upload is on its way."""

    uploading: bool = False

    @rx.event(background=True)
    async def upload(self, chunks: rx.UploadChunkIterator):
        """Check and store the picture; it joins the gallery and opens in the lightbox."""
        async with self:
            self.uploading = True
            owner = (await self.get_state(VisitorState))._owner()
        try:
            result = await receive_upload(owner, chunks)
        finally:
            async with self:
                self.uploading = False
        if isinstance(result, str):
            yield rx.toast.error(result, duration=10_000, id="upload-refused")
            return
        # Like an image made from the page, it joins the board the gallery shows.
        async with self:
            viewer = await viewer_of(self)
            board = await (await self.get_state(GalleryState)).board_for(viewer, changing=True)
        if board is not None:
            try:
                await get_studio().boards.add(viewer, board, [result.id])
            except (BoardRefused, CatalogError) as exc:
                logger.error("an upload could not join board %s: %s", board, exc)
                board = None
        try:
            signed = await sign_tile(result)
        except StorageError:
            signed = None
        if signed is not None:
            async with self:
                (await self.get_state(GalleryState))._show_new([signed], board)
        yield rx.toast.success(f"Uploaded “{result.prompt}”.")
        yield LightboxState.open_image(str(result.id))
