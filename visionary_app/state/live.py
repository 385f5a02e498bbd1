"""Push, not poll: each worker applies the live feed's changes to the tabs connected to it.

A new image is read from the index and signed once per worker, then offered to every tab on
that worker; each tab decides, as its own viewer, whether it may and wants to see it
(`GalleryState.hear`). A change to someone's jobs asks that owner's tabs to match their
cards to the queue (`GenerationState.sync_jobs`, which also tells them of jobs that failed
unseen). Changes that arrive together reach each tab in one state update. Nothing runs
while nothing changes.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid

import reflex as rx
from reflex.istate.manager.token import BaseStateToken
from reflex.state import StateUpdate
from reflex_base.event import Event

from visionary_app.models import Image
from visionary_app.services.gallery import CatalogError, Change, ChangeKind
from visionary_app.services.kit import LIVE_UPDATE_SECONDS
from visionary_app.services.storage import StorageError
from visionary_app.services.studio import get_studio
from visionary_app.state.gallery import GalleryState, SignedTile, sign_tile
from visionary_app.state.generation import GenerationState
from visionary_app.state.visitor import VisitorState

__all__ = ["LiveTabs"]

logger = logging.getLogger(__name__)

# Tabs updated at once: each takes its state's lock (and, with Redis, a read and a write).
_AT_ONCE = 32
# Passes start at most this often: while images keep arriving, each tab's gallery (its whole
# window of tiles, several kilobytes) is sent twice a second, not once per image.
_PASS_EVERY_S = 0.5
# A change with the image it names and that image's tile (both None if gone or not an image's).
Heard = tuple[Change, Image | None, SignedTile | None]
# How long a tab's owner is trusted from memory (a sign-in in that tab changes it).
_OWNER_TTL_S = 30.0


class LiveTabs:
    """The tabs of one worker, kept up to date from the live feed."""

    def __init__(self, app: rx.App) -> None:
        self._app = app
        # Tabs seen connected here when last looked; a tab not among them missed changes.
        self._known: set[str] = set()
        self._owners: dict[str, tuple[str | None, float]] = {}
        self._pending: list[Change] = []
        self._arrived = asyncio.Event()
        self._last_pass = -_PASS_EVERY_S

    def _tokens(self) -> list[str]:
        """Client tokens with a websocket on this worker (Reflex's own record of them)."""
        namespace = self._app.event_namespace
        return sorted(set(namespace.sid_to_token.values())) if namespace is not None else []

    async def watch_arrivals(self, every_s: float = 1.0) -> None:
        """Have each tab that (re)connects here catch up once, until cancelled.

        A tab that reconnects after a network drop, or to this worker after its own died,
        may have missed changes while it had no websocket. This compares Reflex's record of
        connected tabs in memory; it asks nothing of the database while nobody arrives.
        """
        while True:
            await asyncio.sleep(every_s)
            try:
                await self._greet_arrivals()
            except Exception:
                logger.exception("could not bring newly connected tabs up to date")

    async def _greet_arrivals(self) -> None:
        current = set(self._tokens())
        arrived, self._known = current - self._known, current
        self._owners = {t: known for t, known in self._owners.items() if t in current}
        for token in sorted(arrived):
            await self._ask(token, [GalleryState.check_new, GenerationState.sync_jobs])

    async def apply(self, change: Change) -> None:
        """Take one change; tabs get it with whatever else arrives before their next pass."""
        self._pending.append(change)
        self._arrived.set()

    async def keep_applying(self) -> None:
        """Bring every tab of this worker up to date as changes arrive, until cancelled.

        Changes that arrive while a pass runs, or within `_PASS_EVERY_S` of its start, go
        together in the next one: one state update per tab for all of them, not one each. A
        change after a quiet spell is applied at once.
        """
        while True:
            await self._arrived.wait()
            await asyncio.sleep(max(0.0, self._last_pass + _PASS_EVERY_S - time.monotonic()))
            self._last_pass = time.monotonic()
            self._arrived.clear()
            changes, self._pending = self._pending, []
            try:
                await self._apply_all(changes)
            except Exception:
                logger.exception("could not bring the tabs up to date")

    async def _apply_all(self, changes: list[Change]) -> None:
        tokens = self._tokens()
        self._known &= set(tokens)  # a tab away now misses these changes: it catches up later
        if not tokens:
            return
        started = time.perf_counter()
        heard = await self._read(changes)
        gate = asyncio.Semaphore(_AT_ONCE)

        async def one(token: str) -> None:
            async with gate:
                try:
                    await self._apply_to(token, heard)
                except Exception:
                    logger.exception("a live update to one tab failed")

        await asyncio.gather(*(one(token) for token in tokens))
        elapsed = time.perf_counter() - started
        for kind in {change.kind for change in changes}:
            LIVE_UPDATE_SECONDS.labels(kind.value).observe(elapsed)

    @staticmethod
    async def _read(changes: list[Change]) -> list[Heard]:
        """Each change with its image and tile, read in one query and signed once for all tabs.

        An image that is gone, or could not be read or signed, is heard as None.
        """
        wanted: dict[str, uuid.UUID] = {}
        for change in changes:
            if change.kind in (ChangeKind.STORED, ChangeKind.VISIBILITY):
                try:
                    wanted[change.image_id] = uuid.UUID(change.image_id)
                except ValueError:
                    logger.warning("a live update named a malformed image id")
        found: dict[uuid.UUID, tuple[Image, SignedTile]] = {}
        try:
            images = await get_studio().catalog.get_many(wanted.values()) if wanted else []
        except CatalogError as exc:
            logger.warning("a live update could not read %d image(s): %s", len(wanted), exc)
            images = []
        for image in images:
            try:
                found[image.id] = (image, await sign_tile(image))
            except StorageError as exc:
                logger.warning("a live update could not sign image %s: %s", image.id, exc)
        gone = (None, None)
        return [(change, *found.get(wanted.get(change.image_id), gone)) for change in changes]

    async def _apply_to(self, token: str, heard: list[Heard]) -> None:
        """One tab: its job cards asked to match the queue once, its gallery told of each image."""
        moved = {change.owner for change, _, _ in heard if change.kind == ChangeKind.JOBS}
        if moved and await self._owner(token) in moved:
            # The tab asks, so its toasts arrive as a normal event's do.
            await self._ask(token, GenerationState.sync_jobs)
        images = [item for item in heard if item[0].kind != ChangeKind.JOBS]
        if not images:
            return
        catch_up = False
        async with self._app.modify_state(BaseStateToken(ident=token, cls=GalleryState)) as root:
            gallery = await root.get_state(GalleryState)
            for change, image, tile in images:
                catch_up = await gallery.hear(change, image, tile) or catch_up
        if catch_up:
            await self._ask(token, GalleryState.check_new)

    async def _owner(self, token: str) -> str | None:
        """Whose tab this is, remembered for a while (sign-in can change it)."""
        now = time.monotonic()
        known = self._owners.get(token)
        if known is not None and now - known[1] < _OWNER_TTL_S:
            return known[0]
        async with self._app.modify_state(BaseStateToken(ident=token, cls=GenerationState)) as root:
            owner = (await root.get_state(VisitorState))._existing_owner()
        if owner is not None:  # a tab not yet identified is looked at again next time
            self._owners[token] = (owner, now)
        return owner

    async def _ask(self, token: str, handler) -> None:
        """Have the tab send `handler` as its own event (with its own auth and toasts)."""
        namespace = self._app.event_namespace
        if namespace is not None:
            update = StateUpdate(events=Event.from_event_type(handler))
            await namespace.emit_update(update=update, token=token)
