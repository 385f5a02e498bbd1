"""Gallery state: the rows on screen (newest first, a page at a time) with fresh signed URLs."""

from __future__ import annotations

import logging
import time
import uuid
from dataclasses import dataclass, replace
from datetime import datetime

import reflex as rx

from visionary_app.models import Image
from visionary_app.services.blob_store import StorageError
from visionary_app.services.catalog import CatalogError, PageCursor
from visionary_app.services.studio import get_studio
from visionary_app.settings import get_settings

logger = logging.getLogger(__name__)

# Renew every URL once a quarter of its lifetime is left, checking five times per lifetime.
_RENEW_WHEN_LEFT = 0.25
_CHECKS_PER_TTL = 5
_MAX_CHECK_INTERVAL_MS = 30_000


@dataclass
class GalleryTile:
    """What the browser needs to show one image: no bytes, only signed URLs."""

    id: str
    url: str
    prompt: str
    width: int
    height: int
    created_at: str
    model: str
    revised_prompt: str = ""
    favourite: bool = False
    quality: str = ""
    style: str = ""


@dataclass(frozen=True)
class SignedTile:
    """A tile with what the server keeps to itself: the blob shown and the URL's expiry."""

    tile: GalleryTile
    shown_blob_name: str
    expires_at: int


async def sign_tile(image: Image) -> SignedTile:
    """A tile for an indexed image: its thumbnail (or the image itself) with a fresh URL."""
    shown = image.thumbnail_blob_name or image.blob_name
    signed = await get_studio().store.signed_url(shown)
    tile = GalleryTile(
        id=str(image.id),
        url=signed.url,
        prompt=image.prompt,
        width=image.thumbnail_width or image.width,
        height=image.thumbnail_height or image.height,
        created_at=image.created_at.isoformat(),
        model=image.model,
        revised_prompt=image.revised_prompt or "",
        favourite=image.favourite,
        quality=image.quality or "",
        style=image.style or "",
    )
    return SignedTile(tile, shown, signed.expires_at)


class GalleryState(rx.State):
    """The loaded pages of the gallery; only these rows live in state, never the whole table."""

    images: list[GalleryTile] = []
    loading: bool = False
    loaded: bool = False
    has_more: bool = False
    favourites_only: bool = False
    search: str = ""
    load_error: str = ""

    _shown_blobs: dict[str, str] = {}
    _renew_after: float = 0.0
    _retried: set[str] = set()
    _cursor: tuple[str, str] | None = None

    @rx.var(cache=True)
    def renew_check_ms(self) -> int:
        """How often the browser asks whether the image URLs need renewing."""
        ttl_ms = get_settings().url_ttl_seconds * 1000
        return min(_MAX_CHECK_INTERVAL_MS, ttl_ms // _CHECKS_PER_TTL)

    def _remember(self, signed: list[SignedTile]) -> None:
        for item in signed:
            self._shown_blobs[item.tile.id] = item.shown_blob_name
        if signed:
            ttl = get_settings().url_ttl_seconds
            renew_after = min(item.expires_at for item in signed) - ttl * _RENEW_WHEN_LEFT
            self._renew_after = (
                min(self._renew_after, renew_after) if self._renew_after else renew_after
            )

    async def _fetch_page(self, cursor: PageCursor | None) -> list[SignedTile]:
        studio = get_studio()
        size = studio.settings.gallery_page_size
        records = await studio.catalog.newest(
            size + 1, before=cursor, favourites_only=self.favourites_only, search=self.search
        )
        self.has_more = len(records) > size
        records = records[:size]
        if records:
            last = records[-1]
            self._cursor = (last.created_at.isoformat(), str(last.id))
        return [await sign_tile(record) for record in records]

    @rx.event
    async def load(self):
        """Fetch the first page (on page load, on refresh, and when the filter changes)."""
        self.loading = True
        yield
        try:
            signed = await self._fetch_page(None)
        except (CatalogError, StorageError) as exc:
            logger.error("gallery load failed: %s", exc)
            self.load_error = "The gallery could not be loaded: the image index is unavailable."
            yield rx.toast.error(self.load_error)
        else:
            self.images = [item.tile for item in signed]
            self._shown_blobs = {}
            self._renew_after, self._retried = 0.0, set()
            self._remember(signed)
            self.load_error = ""
        finally:
            self.loading = False
            self.loaded = True

    @rx.event
    async def load_more(self):
        """Append the next page (keyset: strictly older than the last row shown)."""
        if self.loading or not self.has_more or self._cursor is None:
            return
        self.loading = True
        yield
        created_at, image_id = self._cursor
        cursor = PageCursor(datetime.fromisoformat(created_at), uuid.UUID(image_id))
        try:
            signed = await self._fetch_page(cursor)
        except (CatalogError, StorageError) as exc:
            logger.error("loading more failed: %s", exc)
            yield rx.toast.error("More images could not be loaded; try again.")
        else:
            known = {tile.id for tile in self.images}
            fresh = [item for item in signed if item.tile.id not in known]
            self.images = [*self.images, *(item.tile for item in fresh)]
            self._remember(fresh)
        finally:
            self.loading = False

    @rx.event
    async def check_new(self, _tick: str = ""):
        """Show images anyone made since the newest one on screen (a timer calls this)."""
        if not self.loaded or self.loading or self.load_error:
            return None
        studio = get_studio()
        try:
            records = await studio.catalog.newest(
                studio.settings.gallery_page_size,
                favourites_only=self.favourites_only,
                search=self.search,
            )
        except CatalogError as exc:
            logger.warning("checking for new images failed: %s", exc)
            return None
        known = {tile.id for tile in self.images}
        fresh = [r for r in records if str(r.id) not in known]
        if self.images:
            # Older than everything loaded: "Load more" brings those in order.
            oldest = self.images[-1]
            oldest_key = (datetime.fromisoformat(oldest.created_at), uuid.UUID(oldest.id))
            fresh = [r for r in fresh if (r.created_at, r.id) > oldest_key]
        if not fresh:
            return None
        if self.images and len(fresh) == studio.settings.gallery_page_size:
            return GalleryState.load  # more arrived than a page: start again from the top
        try:
            signed = [await sign_tile(record) for record in fresh]
        except StorageError as exc:
            logger.warning("signing new images failed: %s", exc)
            return None
        merged = [*(item.tile for item in signed), *self.images]
        merged.sort(
            key=lambda t: (datetime.fromisoformat(t.created_at), uuid.UUID(t.id)), reverse=True
        )
        self.images = merged
        self._remember(signed)
        return None

    @rx.event
    def set_search(self, value: str):
        """Search prompts as the user types (the input debounces); empty shows everything."""
        if value == self.search:
            return None
        self.search = value
        return GalleryState.load

    @rx.event
    def set_favourites_only(self, value: bool):
        """Show only starred images, or everything."""
        self.favourites_only = value
        return GalleryState.load

    @rx.event
    async def renew_urls(self, _tick: str = ""):
        """Re-sign every visible URL when the earliest is near expiry (a timer calls this)."""
        if not self.images or time.time() < self._renew_after:
            return
        store = get_studio().store
        renewed: list[GalleryTile] = []
        expires = 0
        try:
            for tile in self.images:
                signed = await store.signed_url(self._shown_blobs[tile.id])
                renewed.append(replace(tile, url=signed.url))
                expires = signed.expires_at
        except (StorageError, KeyError) as exc:
            logger.warning("could not renew image URLs: %s", exc)
            return
        self.images = renewed
        self._renew_after = expires - get_settings().url_ttl_seconds * _RENEW_WHEN_LEFT

    @rx.event
    async def image_failed(self, image_id: str):
        """An image did not load: give it a fresh URL, once (a second failure is real)."""
        if image_id in self._retried or image_id not in self._shown_blobs:
            return
        self._retried.add(image_id)
        try:
            signed = await get_studio().store.signed_url(self._shown_blobs[image_id])
        except StorageError as exc:
            logger.warning("could not re-sign %s: %s", image_id, exc)
            return
        self.images = [
            replace(tile, url=signed.url) if tile.id == image_id else tile for tile in self.images
        ]

    def _show_new(self, signed: SignedTile) -> None:
        """Put a just-generated image at the top (unless a refresh already brought it)."""
        filtered = self.favourites_only or self.search.strip()
        if filtered or any(t.id == signed.tile.id for t in self.images):
            return
        self.images = [signed.tile, *self.images]
        self._remember([signed])

    def _forget(self, image_id: str) -> None:
        self.images = [tile for tile in self.images if tile.id != image_id]
        self._shown_blobs.pop(image_id, None)

    def _replace(self, image_id: str, **changes) -> None:
        self.images = [
            replace(tile, **changes) if tile.id == image_id else tile for tile in self.images
        ]

    @rx.event
    async def toggle_favourite(self, image_id: str):
        """Star or unstar an image (kept in the index, so it survives reloads)."""
        tile = next((t for t in self.images if t.id == image_id), None)
        if tile is None:
            return
        try:
            await get_studio().catalog.set_favourite(uuid.UUID(image_id), not tile.favourite)
        except CatalogError:
            yield rx.toast.error("The favourite could not be saved: the index is unavailable.")
            return
        self._replace(image_id, favourite=not tile.favourite)
        if self.favourites_only and tile.favourite:
            self._forget(image_id)
