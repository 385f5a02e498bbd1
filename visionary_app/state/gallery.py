"""Gallery state: the page of newest images on screen, with signed URLs kept fresh."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass

import reflex as rx

from visionary_app.models import Image
from visionary_app.services.blob_store import StorageError
from visionary_app.services.catalog import CatalogError
from visionary_app.services.studio import get_studio
from visionary_app.settings import get_settings

logger = logging.getLogger(__name__)

# Renew every URL once a quarter of its lifetime is left, checking five times per lifetime.
_RENEW_WHEN_LEFT = 0.25
_CHECKS_PER_TTL = 5
_MAX_CHECK_INTERVAL_MS = 30_000


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
    revised_prompt: str = ""


@dataclass(frozen=True)
class SignedTile:
    """A tile with what the server keeps to itself: the blob name and the URL's expiry."""

    tile: GalleryTile
    blob_name: str
    expires_at: int


async def sign_tile(image: Image) -> SignedTile:
    """A tile for an indexed image, with a freshly signed URL."""
    signed = await get_studio().store.signed_url(image.blob_name)
    tile = GalleryTile(
        id=str(image.id),
        url=signed.url,
        prompt=image.prompt,
        width=image.width,
        height=image.height,
        created_at=image.created_at.isoformat(),
        model=image.model,
        revised_prompt=image.revised_prompt or "",
    )
    return SignedTile(tile=tile, blob_name=image.blob_name, expires_at=signed.expires_at)


class GalleryState(rx.State):
    """The newest images, newest first; only the visible page lives in state."""

    images: list[GalleryTile] = []
    loading: bool = False
    loaded: bool = False
    load_error: str = ""

    _blob_names: dict[str, str] = {}
    _renew_after: float = 0.0
    _retried: set[str] = set()

    @rx.var(cache=True)
    def renew_check_ms(self) -> int:
        """How often the browser asks whether the image URLs need renewing."""
        ttl_ms = get_settings().url_ttl_seconds * 1000
        return min(_MAX_CHECK_INTERVAL_MS, ttl_ms // _CHECKS_PER_TTL)

    def _remember(self, signed: list[SignedTile]) -> None:
        for item in signed:
            self._blob_names[item.tile.id] = item.blob_name
        if signed:
            ttl = get_settings().url_ttl_seconds
            earliest = min(item.expires_at for item in signed)
            renew_after = earliest - ttl * _RENEW_WHEN_LEFT
            self._renew_after = (
                min(self._renew_after, renew_after) if self._renew_after else renew_after
            )

    @rx.event
    async def load(self):
        """Fetch the first page of newest images (on page load and on refresh)."""
        self.loading = True
        yield
        studio = get_studio()
        try:
            records = await studio.catalog.newest(studio.settings.gallery_page_size)
            signed = [await sign_tile(record) for record in records]
        except (CatalogError, StorageError) as exc:
            logger.error("gallery load failed: %s", exc)
            self.load_error = "The gallery could not be loaded: the image index is unavailable."
            yield rx.toast.error(self.load_error)
        else:
            self.images = [item.tile for item in signed]
            self._blob_names, self._renew_after, self._retried = {}, 0.0, set()
            self._remember(signed)
            self.load_error = ""
        finally:
            self.loading = False
            self.loaded = True

    @rx.event
    async def renew_urls(self, _tick: str = ""):
        """Re-sign every visible URL when the earliest is near expiry (a timer calls this)."""
        if not self.images or time.time() < self._renew_after:
            return
        store = get_studio().store
        renewed: list[GalleryTile] = []
        try:
            for tile in self.images:
                signed = await store.signed_url(self._blob_names[tile.id])
                renewed.append(GalleryTile(**{**tile.__dict__, "url": signed.url}))
                expires = signed.expires_at
        except (StorageError, KeyError) as exc:
            logger.warning("could not renew image URLs: %s", exc)
            return
        self.images = renewed
        self._renew_after = expires - get_settings().url_ttl_seconds * _RENEW_WHEN_LEFT

    @rx.event
    async def image_failed(self, image_id: str):
        """An image did not load: give it a fresh URL, once (a second failure is real)."""
        if image_id in self._retried or image_id not in self._blob_names:
            return
        self._retried.add(image_id)
        try:
            signed = await get_studio().store.signed_url(self._blob_names[image_id])
        except StorageError as exc:
            logger.warning("could not re-sign %s: %s", image_id, exc)
            return
        self.images = [
            GalleryTile(**{**tile.__dict__, "url": signed.url}) if tile.id == image_id else tile
            for tile in self.images
        ]

    def _show_new(self, signed: SignedTile) -> None:
        """Put a just-generated image at the top (unless a refresh already brought it)."""
        if any(existing.id == signed.tile.id for existing in self.images):
            return
        limit = get_settings().gallery_page_size
        self.images = [signed.tile, *self.images][:limit]
        self._remember([signed])
