"""Gallery state: a bounded window of rows (newest first, a page at a time) with signed URLs.

A tab never holds more than `WINDOW_PAGES` pages. Scrolling down past that drops the top
page; scrolling back up fetches it again by keyset ("newer than the first row shown"), so
the window slides both ways with no repeats or gaps, and its size stays flat however far
anyone scrolls.
"""

from __future__ import annotations

import logging
import time
import uuid
from dataclasses import dataclass, replace
from datetime import datetime

import reflex as rx

from visionary_app.models import Image
from visionary_app.services.access import Scope, Viewer
from visionary_app.services.gallery import (
    MAX_QUERY_CHARS,
    CatalogError,
    Change,
    ChangeKind,
    LibraryNotSaved,
    PageCursor,
    clean_query,
    search_terms,
    star,
)
from visionary_app.services.kit import GALLERY_QUERY_SECONDS
from visionary_app.services.storage import StorageError
from visionary_app.services.studio import get_studio
from visionary_app.settings import get_settings
from visionary_app.state.visitor import NotSignedIn, viewer_of

logger = logging.getLogger(__name__)

# Renew every URL once a quarter of its lifetime is left, checking five times per lifetime.
_RENEW_WHEN_LEFT = 0.25
_CHECKS_PER_TTL = 5
# Every two minutes at most: a URL is handed out with at least half its life (15 minutes) left
# and renewed once a quarter (7.5 minutes) is left, so it never runs out between two checks,
# and a thousand idle tabs send eight events a second, not thirty-three.
MAX_RENEW_CHECK_MS = 120_000
# Pages a tab keeps at most; beyond this the far end is dropped and fetched again if needed.
WINDOW_PAGES = 4
# A tile shows a few lines of its prompt; the lightbox reads the whole prompt from the index.
_TILE_PROMPT_CHARS = 300
_LOAD_FAILED = "The gallery could not be loaded: the image index is unavailable."


def _clip(text: str) -> str:
    return text if len(text) <= _TILE_PROMPT_CHARS else text[: _TILE_PROMPT_CHARS - 1] + "…"


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


def cursor_of(tile: GalleryTile) -> PageCursor:
    """The keyset position of a tile."""
    return PageCursor(*_position(tile))


def _position(tile: GalleryTile) -> tuple[datetime, uuid.UUID]:
    """Where a tile sorts: newer is greater (the index's order: time, then id)."""
    return datetime.fromisoformat(tile.created_at), uuid.UUID(tile.id)


@dataclass(frozen=True)
class SignedTile:
    """A tile with what the server keeps to itself: the blob shown and the URL's expiry."""

    tile: GalleryTile
    shown_blob_name: str
    expires_at: int


async def sign_tile(image: Image, *, favourite: bool = False) -> SignedTile:
    """A tile for an indexed image: its thumbnail (or the image itself) with a fresh URL.

    `favourite` is whether the viewer the tile is for has starred it.
    """
    shown = image.thumbnail_blob_name or image.blob_name
    signed = await get_studio().store.signed_url(shown)
    tile = GalleryTile(
        id=str(image.id),
        url=signed.url,
        prompt=_clip(image.prompt),
        width=image.thumbnail_width or image.width,
        height=image.thumbnail_height or image.height,
        created_at=image.created_at.isoformat(),
        model=image.model,
        revised_prompt=_clip(image.revised_prompt or ""),
        favourite=favourite,
        quality=image.quality or "",
        style=image.style or "",
    )
    return SignedTile(tile, shown, signed.expires_at)


def _newest_first(tiles: list[GalleryTile]) -> list[GalleryTile]:
    return sorted(tiles, key=_position, reverse=True)


class GalleryState(rx.State):
    """The window of the gallery on screen; never the whole table, never unbounded."""

    images: list[GalleryTile] = []
    loading: bool = False
    loaded: bool = False
    has_more: bool = False  # older images exist below the window
    has_newer: bool = False  # newer images were dropped above the window
    favourites_only: bool = False
    scope: str = Scope.EVERYONE.value  # "everyone" or "mine"
    search: str = ""
    board: str = ""  # the board shown (hex id), or "" for all images
    load_error: str = ""

    _shown_blobs: dict[str, str] = {}
    _renew_after: float = 0.0
    _retried: set[str] = set()

    @rx.var(cache=True)
    def renew_check_ms(self) -> int:
        """How often the browser asks whether the image URLs need renewing."""
        ttl_ms = get_settings().url_ttl_seconds * 1000
        return min(MAX_RENEW_CHECK_MS, ttl_ms // _CHECKS_PER_TTL)

    @staticmethod
    def _page_size() -> int:
        return get_studio().settings.gallery_page_size

    def _window_size(self) -> int:
        return WINDOW_PAGES * self._page_size()

    def _set_window(self, tiles: list[GalleryTile], signed: list[SignedTile]) -> None:
        """Show exactly `tiles`; remember the blobs of new ones and forget the dropped ones."""
        self.images = tiles
        shown = {tile.id for tile in tiles}
        blobs = {k: v for k, v in self._shown_blobs.items() if k in shown}
        for item in signed:
            if item.tile.id in shown:
                blobs[item.tile.id] = item.shown_blob_name
        self._shown_blobs = blobs
        self._retried = {image_id for image_id in self._retried if image_id in shown}
        if signed:
            ttl = get_settings().url_ttl_seconds
            renew_after = min(item.expires_at for item in signed) - ttl * _RENEW_WHEN_LEFT
            self._renew_after = (
                min(self._renew_after, renew_after) if self._renew_after else renew_after
            )

    async def _filters(self) -> dict:
        """Who is looking, and what they asked to see (decided here, never by the browser).

        A board they may no longer see (deleted, or made private) gives way to all images.
        """
        viewer = await viewer_of(self)
        board = await self.board_for(viewer)
        self.board = board.hex if board else ""
        return {
            "viewer": viewer,
            "scope": Scope(self.scope),
            "favourites_only": self.favourites_only,
            "search": self.search,
            "board": board,
        }

    async def board_for(self, viewer: Viewer, *, changing: bool = False) -> uuid.UUID | None:
        """The board shown, if `viewer` may see it (and, `changing`, put images into it)."""
        if not self.board:
            return None
        boards = get_studio().boards
        board = await boards.get_for(viewer, uuid.UUID(hex=self.board))
        if board is None or (changing and not boards.may_change(viewer, board)):
            return None
        return board.id

    async def _fetch(self, cursor: PageCursor | None, *, older: bool = True) -> list[SignedTile]:
        """One page (plus one row, to tell whether more follow) beside the cursor, newest first."""
        catalog, size = get_studio().catalog, self._page_size()
        filters = await self._filters()
        with GALLERY_QUERY_SECONDS.time():
            if older:
                records = await catalog.newest(size + 1, before=cursor, **filters)
            else:
                assert cursor is not None
                records = await catalog.newer(size + 1, cursor, **filters)
        return await self._sign(records, filters["viewer"])

    @staticmethod
    async def _sign(records: list[Image], viewer: Viewer) -> list[SignedTile]:
        starred = await get_studio().catalog.starred(viewer, (r.id for r in records))
        return [await sign_tile(r, favourite=r.id in starred) for r in records]

    @rx.event
    async def load(self):
        """Fetch the first page (on page load, on refresh, and when the filter changes)."""
        self.loading = True
        yield
        try:
            await self._load_top()
        except (CatalogError, StorageError) as exc:
            logger.error("gallery load failed: %s", exc)
            self.load_error = _LOAD_FAILED
            yield rx.toast.error(self.load_error)
        finally:
            self.loading = False
            self.loaded = True

    async def _load_top(self) -> None:
        signed = await self._fetch(None)
        size = self._page_size()
        self.has_more, self.has_newer = len(signed) > size, False
        self._shown_blobs, self._renew_after, self._retried = {}, 0.0, set()
        self._set_window([item.tile for item in signed[:size]], signed[:size])
        self.load_error = ""

    @rx.event
    async def load_more(self):
        """Append the next older page; past the window's size the top page is dropped."""
        async for update in self._slide(older=True):
            yield update

    @rx.event
    async def load_newer(self):
        """Bring back the page above the window (scrolling up); the bottom page is dropped."""
        async for update in self._slide(older=False):
            yield update

    async def _slide(self, *, older: bool):
        """Add the page beyond one edge of the window and trim the other edge to keep it bounded."""
        beyond_edge = self.has_more if older else self.has_newer
        if self.loading or not beyond_edge or not self.images:
            return
        self.loading = True
        yield
        edge = self.images[-1] if older else self.images[0]
        try:
            signed = await self._fetch(cursor_of(edge), older=older)
        except (CatalogError, StorageError) as exc:
            logger.error("loading %s images failed: %s", "older" if older else "newer", exc)
            what = "More" if older else "Newer"
            yield rx.toast.error(f"{what} images could not be loaded; try again.")
        else:
            size, window = self._page_size(), self._window_size()
            more_beyond = len(signed) > size
            # Pages come newest first: the rows next to the window lead an older page and
            # close a newer one.
            page = signed[:size] if older else signed[-size:]
            tiles = [item.tile for item in page]
            if older:
                self.has_more = more_beyond
                tiles = [*self.images, *tiles]
                if len(tiles) > window:
                    tiles, self.has_newer = tiles[len(tiles) - window :], True
            else:
                self.has_newer = more_beyond
                tiles = [*tiles, *self.images]
                if len(tiles) > window:
                    tiles, self.has_more = tiles[:window], True
            self._set_window(tiles, page)
        finally:
            self.loading = False

    @rx.event
    async def check_new(self, _tick: str = ""):
        """Catch up with the index, when live updates may have been missed.

        New images otherwise arrive by `hear`, unasked. After a failed load this retries the
        load (a timer calls it while the error shows), so the gallery comes back by itself
        when the index does.
        """
        if not self.loaded or self.loading:
            return None
        if self.load_error:
            return await self._recover()
        if self.has_newer:
            return None  # scrolled away from the top: scrolling back up brings them
        studio = get_studio()
        filters = await self._filters()
        try:
            records = await studio.catalog.newest(self._page_size(), **filters)
        except CatalogError as exc:
            logger.warning("checking for new images failed: %s", exc)
            return None
        known = {tile.id for tile in self.images}
        fresh = [r for r in records if str(r.id) not in known]
        if self.images and self.has_more:
            # Older than everything loaded: "Load more" brings those in order. Without more
            # below, the window reaches the end, so an older row belongs in it (one stored
            # elsewhere just before this tab showed a newer image of its own).
            oldest = _position(self.images[-1])
            fresh = [r for r in fresh if (r.created_at, r.id) > oldest]
        if not fresh:
            return None
        if self.images and len(fresh) == self._page_size():
            return GalleryState.load  # more arrived than a page: start again from the top
        try:
            signed = await self._sign(fresh, filters["viewer"])
        except (StorageError, CatalogError) as exc:
            logger.warning("signing new images failed: %s", exc)
            return None
        self._add_at_top(signed)
        return None

    async def hear(self, change: Change, image: Image | None, tile: SignedTile | None) -> bool:
        """Apply one change from the live feed to this tab, as its viewer may see it.

        `image` and `tile` are the changed image's row and unstarred tile (read and signed
        once per worker for every tab), or None if it is gone. Returns True when the tab
        should catch up by asking the index itself (`check_new`).
        """
        if not self.loaded or self.loading or self.load_error:
            return False
        if change.kind == ChangeKind.RESYNC:
            return True
        shown = any(t.id == change.image_id for t in self.images)
        try:
            viewer = await viewer_of(self)
        except NotSignedIn:
            return False
        if image is None or not viewer.may_see(image):
            if shown:  # removed, or made private by someone else
                self._forget(change.image_id)
            return False
        if shown or tile is None:
            return False
        if self.board and not self.has_newer:
            return True  # in the board or not: `check_new` asks the index
        if not self._wants(image, viewer):
            return False
        if self.has_more and (image.created_at, image.id) < _position(self.images[-1]):
            return False  # below the window: "Load more" brings it in order
        self._add_at_top([tile])
        return False

    def _wants(self, image: Image, viewer: Viewer) -> bool:
        """Whether this tab's filters show `image` (a viewer may see it) at the top."""
        if self.favourites_only or self.has_newer or self.board:
            # A new image has no stars yet; scrolled away, "Load newer" has it; a board's
            # images are told apart by the index (`hear` asks it).
            return False
        if Scope(self.scope) == Scope.MINE and image.owner != viewer.owner:
            return False
        prompt = image.prompt.casefold()
        return all(term.casefold() in prompt for term in search_terms(self.search))

    async def _recover(self):
        try:
            await self._load_top()
        except (CatalogError, StorageError) as exc:
            logger.warning("the gallery is still unavailable: %s", exc)
            return None
        logger.info("the gallery is available again")
        return rx.toast.success("The gallery is back.", id="gallery-back")

    def _add_at_top(self, signed: list[SignedTile]) -> None:
        """Merge new tiles into the window in order; the oldest fall off its bottom."""
        merged = _newest_first([*(item.tile for item in signed), *self.images])
        if len(merged) > self._window_size():
            merged = merged[: self._window_size()]
            self.has_more = True
        self._set_window(merged, signed)

    @rx.event
    def set_search(self, value: str):
        """Search prompts as the user types (the input debounces); empty shows everything.

        Whatever arrives is cut to MAX_QUERY_CHARS (the box stops there too; a crafted event
        does not) and loses any lone surrogate, so the state never holds more than that.
        """
        text = str(value)
        cleaned = clean_query(text)
        if cleaned == self.search:
            return None
        self.search = cleaned
        if len(text) > MAX_QUERY_CHARS:
            return [
                GalleryState.load,
                rx.toast.warning(
                    f"Searches are limited to {MAX_QUERY_CHARS} characters; "
                    f"searching for the first {MAX_QUERY_CHARS}."
                ),
            ]
        return GalleryState.load

    @rx.event
    def set_favourites_only(self, value: bool):
        """Show only starred images, or everything."""
        self.favourites_only = bool(value)
        return GalleryState.load

    @rx.event
    def set_scope(self, value: str | list[str]):
        """Everyone's images (shared, and one's own private ones) or only one's own."""
        try:
            self.scope = Scope(value).value
        except (ValueError, TypeError):
            return None  # not a scope the page offers: a crafted event changes nothing
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

    def _show_new(self, signed: list[SignedTile], board: uuid.UUID | None = None) -> None:
        """Put just-generated images at the top (unless filtered out or scrolled away).

        `board`: the board the job's images joined, if any.
        """
        known = {tile.id for tile in self.images}
        fresh = [item for item in signed if item.tile.id not in known]
        other_board = self.board and (board is None or board.hex != self.board)
        # (A new image is always the viewer's own, so either scope shows it.)
        if self.favourites_only or self.search.strip() or self.has_newer or other_board:
            return
        if fresh:
            self._add_at_top(fresh)

    def _forget(self, image_id: str) -> None:
        self._set_window([tile for tile in self.images if tile.id != image_id], [])

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
        viewer = await viewer_of(self)
        studio = get_studio()
        try:
            image = await studio.catalog.get_for(viewer, uuid.UUID(image_id))
            saved = image is not None and await star(
                studio.store, studio.catalog, viewer, image, not tile.favourite
            )
        except CatalogError:
            yield rx.toast.error("The favourite could not be saved: the index is unavailable.")
            return
        except LibraryNotSaved as exc:
            yield rx.toast.error(f"The favourite could not be saved. {exc}")
            return
        if not saved:
            self._forget(image_id)
            yield rx.toast.error("That image is no longer in the gallery.")
            return
        self._replace(image_id, favourite=not tile.favourite)
        if self.favourites_only and tile.favourite:
            self._forget(image_id)
