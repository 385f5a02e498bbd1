"""Gallery state: the page of newest images on screen, with signed URLs for each."""

from __future__ import annotations

import logging
from dataclasses import dataclass

import reflex as rx

from visionary_app.models import Image
from visionary_app.services.blob_store import StorageError
from visionary_app.services.catalog import CatalogError
from visionary_app.services.studio import get_studio

logger = logging.getLogger(__name__)


@dataclass
class GalleryTile:
    """What the browser needs to show one image: no bytes, only a signed URL."""

    id: str
    url: str
    prompt: str
    width: int
    height: int
    created_at: str
    model: str


async def tile_for(image: Image) -> GalleryTile:
    """A tile for an indexed image, with a freshly signed URL."""
    signed = await get_studio().store.signed_url(image.blob_name)
    return GalleryTile(
        id=str(image.id),
        url=signed.url,
        prompt=image.prompt,
        width=image.width,
        height=image.height,
        created_at=image.created_at.isoformat(),
        model=image.model,
    )


class GalleryState(rx.State):
    """The newest images, newest first; only the visible page lives in state."""

    images: list[GalleryTile] = []
    loading: bool = False
    loaded: bool = False
    load_error: str = ""

    @rx.event
    async def load(self):
        """Fetch the first page of newest images (on page load and on refresh)."""
        self.loading = True
        yield
        studio = get_studio()
        try:
            records = await studio.catalog.newest(studio.settings.gallery_page_size)
            self.images = [await tile_for(record) for record in records]
            self.load_error = ""
        except (CatalogError, StorageError) as exc:
            logger.error("gallery load failed: %s", exc)
            self.load_error = "The gallery could not be loaded: the image index is unavailable."
            yield rx.toast.error(self.load_error)
        finally:
            self.loading = False
            self.loaded = True

    def _show_new(self, tile: GalleryTile) -> None:
        """Put a just-generated image at the top (unless a refresh already brought it)."""
        if any(existing.id == tile.id for existing in self.images):
            return
        limit = get_studio().settings.gallery_page_size
        self.images = [tile, *self.images][:limit]
