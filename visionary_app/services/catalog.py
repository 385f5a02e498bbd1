"""The image index: inserts and newest-first keyset queries over the `image` table."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TypeVar

import sqlalchemy as sa
from sqlmodel import Session, col, select

from visionary_app.models import Favourite, Image, ImageRecord, UTCDateTime, Visibility
from visionary_app.services.database import in_session
from visionary_app.services.live_feed import Change, ChangeKind, LiveFeed
from visionary_app.services.ownership import Scope, Viewer
from visionary_app.services.search_index import PromptSearch, SearchPlan, search_terms

__all__ = ["Catalog", "CatalogError", "PageCursor"]

T = TypeVar("T")

# Matches a search reads through before it would rather scan the visible rows instead.
_MAX_WALKED = 4096


def _utcnow() -> datetime:
    return datetime.now(UTC)


def _visible_to(viewer: Viewer):
    """Shared images, and the viewer's own (a private image is its owner's alone)."""
    return sa.or_(
        col(Image.visibility) == Visibility.SHARED.value, col(Image.owner) == viewer.owner
    )


@dataclass(frozen=True)
class _Visible:
    """What a viewer may see: index-friendly parts to merge, and the same as one query.

    `parts` are what a gallery page reads. A search that the index narrowed to a few ids
    reads those rows by primary key instead, with the visibility rules as one condition
    (`combined`) written so that no index is chosen for it: as a plain OR, the database
    would collect and sort every shared image first.
    """

    parts: list
    combined: object

    def where(self, *conditions) -> _Visible:
        """Both forms, narrowed the same way."""
        return _Visible(
            parts=[part.where(*conditions) for part in self.parts],
            combined=self.combined.where(*conditions),
        )


def _read(session: Session, query) -> list[ImageRecord]:
    """The images of a query as plain records (ORM objects were most of a page's cost)."""
    result = session.connection().execute(query)
    if tuple(result.keys()) != ImageRecord._fields:  # select(Image) gives them in this order
        msg = f"unexpected columns {tuple(result.keys())}"
        raise AssertionError(msg)
    make = ImageRecord._make
    return [make(row) for row in result.all()]


def _scan_in_time_order(session: Session) -> None:
    """Make PostgreSQL answer a LIKE search by walking the time index newest first.

    It cannot estimate how many prompts contain a word, and at a million rows it chose to
    collect every shared image and sort the matches (1.3 s); walking the index in order stops
    after a page. For this transaction only.
    """
    session.exec(sa.text("SET LOCAL enable_bitmapscan = off"))
    session.exec(sa.text("SET LOCAL enable_seqscan = off"))


class CatalogError(Exception):
    """The index database could not complete an operation."""


@dataclass(frozen=True)
class PageCursor:
    """Position after the last image of a page: the next page starts strictly older."""

    created_at: datetime
    image_id: uuid.UUID

    @classmethod
    def after(cls, image: Image) -> PageCursor:
        """The cursor that continues after `image`."""
        return cls(created_at=image.created_at, image_id=image.id)


class Catalog:
    """Async facade over the index; database work runs in worker threads."""

    def __init__(self, engine: sa.Engine, feed: LiveFeed | None = None) -> None:
        """The index in `engine`; `feed`, if given, hears of every image added or changed."""
        self._engine = engine
        self._search = PromptSearch(engine)
        self._feed = feed

    async def _tell(self, change: Change) -> None:
        if self._feed is not None:
            await self._feed.publish(change)

    def dispose(self) -> None:
        """Close pooled database connections."""
        self._engine.dispose()

    async def _run(self, work: Callable[[Session], T], action: str) -> T:
        def failure(error: str) -> CatalogError:
            return CatalogError(f"the image index could not {action}: {error}")

        return await in_session(self._engine, work, failure)

    async def add(self, image: Image) -> Image:
        """Insert one row; raises CatalogError if the database refuses it."""
        await self.add_many([image])
        return image

    async def add_many(self, images: Iterable[Image]) -> None:
        """Insert rows in one transaction."""
        rows = list(images)

        def work(session: Session) -> None:
            session.add_all(rows)
            session.commit()

        await self._run(work, "store new rows")
        for image in rows:
            await self._tell(
                Change(
                    ChangeKind.STORED,
                    owner=image.owner,
                    image_id=str(image.id),
                    visibility=str(image.visibility),
                )
            )

    async def newest(
        self,
        limit: int,
        before: PageCursor | None = None,
        *,
        viewer: Viewer,
        scope: Scope = Scope.EVERYONE,
        favourites_only: bool = False,
        search: str = "",
    ) -> list[Image]:
        """Up to `limit` images `viewer` may see, newest first, strictly older than `before`.

        `scope` MINE keeps the viewer's own; `favourites_only` the ones they starred; `search`
        those whose prompt contains every word of it (any script, any case for letters that
        have one).
        """
        visible = self._visible(viewer, scope, favourites_only)
        return await self._page(visible, limit, before, search, older=True)

    async def newer(
        self,
        limit: int,
        after: PageCursor,
        *,
        viewer: Viewer,
        scope: Scope = Scope.EVERYONE,
        favourites_only: bool = False,
        search: str = "",
    ) -> list[Image]:
        """The `limit` visible images just newer than `after` (the page above it), newest first."""
        visible = self._visible(viewer, scope, favourites_only)
        rows = await self._page(visible, limit, after, search, older=False)
        return rows[::-1]

    @staticmethod
    def _visible(viewer: Viewer, scope: Scope, favourites_only: bool) -> _Visible:
        """The images `viewer` may see in `scope`, as queries each served by one index.

        Everyone's gallery is the shared images plus the viewer's own private ones, "Mine" their
        shared plus their private ones: each part a keyset scan of one index, merged, rather
        than one OR that a database answers by collecting and sorting every match.
        """
        own_private = select(Image).where(
            col(Image.owner) == viewer.owner, col(Image.visibility) == Visibility.PRIVATE.value
        )
        if scope == Scope.MINE:
            own_shared = select(Image).where(
                col(Image.owner) == viewer.owner, col(Image.visibility) == Visibility.SHARED.value
            )
            mine = (col(Image.owner) == viewer.owner).is_(True)
            visible = _Visible(parts=[own_shared, own_private], combined=select(Image).where(mine))
        else:
            shared = select(Image).where(col(Image.visibility) == Visibility.SHARED.value)
            seen = _visible_to(viewer).is_(True)
            visible = _Visible(parts=[shared, own_private], combined=select(Image).where(seen))
        if favourites_only:
            starred = select(Favourite.image_id).where(col(Favourite.owner) == viewer.owner)
            visible = visible.where(col(Image.id).in_(starred))
        return visible

    async def _page(
        self, visible: _Visible, limit: int, cursor: PageCursor | None, search: str, *, older: bool
    ) -> list[Image]:
        # A row-value comparison lets both SQLite and Postgres seek in the index.
        key = sa.tuple_(col(Image.created_at), col(Image.id))
        if cursor is not None:
            at = sa.tuple_(
                sa.literal(cursor.created_at, UTCDateTime()),
                sa.literal(cursor.image_id, sa.Uuid()),
            )
            visible = visible.where(key < at if older else key > at)
        if older:
            order = (col(Image.created_at).desc(), col(Image.id).desc())
        else:
            order = (col(Image.created_at).asc(), col(Image.id).asc())
        terms = search_terms(search)

        def work(session: Session) -> list[Image]:
            plan = self._search.prepare(session, terms) if terms else None
            if plan is not None and plan.walk_terms:
                walked = self._walk(session, plan, visible.combined, limit, cursor, older=older)
                if walked is not None:
                    return walked
                plan = plan.scanning(terms)  # too few matches visible: scan instead
            rows: list[Image] = []
            if plan is not None and plan.found is not None:
                # A few ids from the search index: read them by key, keep the visible.
                query = plan.apply(visible.combined).order_by(*order).limit(limit)
                rows = _read(session, query)
            else:
                if plan is not None and plan.like_terms and plan.dialect == "postgresql":
                    _scan_in_time_order(session)
                for query in visible.parts:
                    if len(rows) >= limit:
                        # A page is full: later parts only matter where they beat its last row.
                        last = rows[limit - 1]
                        bound = sa.tuple_(
                            sa.literal(last.created_at, UTCDateTime()),
                            sa.literal(last.id, sa.Uuid()),
                        )
                        query = query.where(key > bound if older else key < bound)
                    query = query.order_by(*order).limit(limit)
                    rows.extend(_read(session, plan.apply(query) if plan else query))
                    rows.sort(key=lambda image: (image.created_at, image.id), reverse=older)
            return rows[:limit]

        return await self._run(work, "be read")

    def _walk(
        self,
        session: Session,
        plan: SearchPlan,
        visible,
        limit: int,
        cursor: PageCursor | None,
        *,
        older: bool,
    ) -> list[Image] | None:
        """A search page read by following the FTS index in time order (SQLite).

        Each batch of matches is narrowed to the rows the viewer may see (and the short
        terms); reading stops once a page is full. None if more than _MAX_WALKED matches
        had to be read, i.e. few matches are visible (say, a common word among one's
        favourites), where a scan of the visible rows is quicker.
        """
        rows: list[Image] = []
        walked = 0
        after = cursor.created_at if cursor is not None else None
        for ids in self._search.walk(session, plan.walk_terms, after, older=older):
            rows.extend(_read(session, plan.apply(visible.where(col(Image.id).in_(ids)))))
            walked += len(ids)
            if len(rows) >= limit:
                break
            if walked >= _MAX_WALKED:
                return None
        rows.sort(key=lambda image: (image.created_at, image.id), reverse=older)
        return rows[:limit]

    def prepare_search(self) -> None:
        """Bring the search index up to date before serving (a rebuild after an upgrade)."""
        with Session(self._engine) as session:
            self._search.ensure_ready(session)

    async def reachable(self) -> None:
        """Raise CatalogError unless the index answers a trivial query."""
        await self._run(lambda session: session.exec(sa.select(sa.literal(1))).one(), "be read")

    async def get(self, image_id: uuid.UUID) -> Image | None:
        """One image by id, or None, whoever owns it: for the server's own bookkeeping."""
        return await self._run(lambda session: session.get(Image, image_id), "be read")

    async def get_for(self, viewer: Viewer, image_id: uuid.UUID) -> Image | None:
        """One image by id if `viewer` may see it; None if it is not there or not theirs to see.

        The two cases look the same, so an id tells nobody whether a private image exists.
        """
        image = await self.get(image_id)
        return image if image is not None and viewer.may_see(image) else None

    async def made_from(self, viewer: Viewer, image_id: uuid.UUID, limit: int = 24) -> list[Image]:
        """The images made from this one (edits, variations) that `viewer` may see, newest first."""
        query = (
            select(Image)
            .where(col(Image.source_id) == image_id, _visible_to(viewer))
            .order_by(col(Image.created_at).desc(), col(Image.id).desc())
            .limit(limit)
        )
        return await self._run(lambda session: list(session.exec(query)), "be read")

    async def starred(self, viewer: Viewer, image_ids: Iterable[uuid.UUID]) -> set[uuid.UUID]:
        """Which of these images the viewer has starred."""
        wanted = list(image_ids)
        if not wanted:
            return set()
        query = select(Favourite.image_id).where(
            col(Favourite.owner) == viewer.owner, col(Favourite.image_id).in_(wanted)
        )
        return await self._run(lambda session: set(session.exec(query)), "be read")

    async def set_favourite(self, viewer: Viewer, image_id: uuid.UUID, favourite: bool) -> bool:
        """Star or unstar an image for this viewer; False if they cannot see such an image."""
        if await self.get_for(viewer, image_id) is None:
            return False

        def work(session: Session) -> bool:
            existing = session.get(Favourite, (viewer.owner, image_id))
            if favourite and existing is None:
                session.add(Favourite(owner=viewer.owner, image_id=image_id, created_at=_utcnow()))
            elif not favourite and existing is not None:
                session.delete(existing)
            session.commit()
            return True

        return await self._run(work, "update a favourite")

    async def set_visibility(self, image_id: uuid.UUID, visibility: Visibility) -> bool:
        """Make an image private or shared; False if there is no such image."""

        def work(session: Session) -> str | None:
            result = session.exec(
                sa.update(Image)
                .where(col(Image.id) == image_id)
                .values(visibility=visibility)
                .returning(col(Image.owner))
            )
            owner = result.scalar()
            session.commit()
            return owner

        owner = await self._run(work, "update a row")
        if owner is None:
            return False
        change = Change(
            ChangeKind.VISIBILITY,
            owner=owner,
            image_id=str(image_id),
            visibility=Visibility(visibility).value,
        )
        await self._tell(change)
        return True

    async def remove(self, image_id: uuid.UUID) -> bool:
        """Delete one row; False if it was not there."""

        def work(session: Session) -> bool:
            session.exec(sa.delete(Favourite).where(col(Favourite.image_id) == image_id))
            result = session.exec(sa.delete(Image).where(col(Image.id) == image_id))
            session.commit()
            return bool(result.rowcount)

        removed = await self._run(work, "remove a row")
        if removed:
            await self._tell(Change(ChangeKind.REMOVED, image_id=str(image_id)))
        return removed

    async def count(self, viewer: Viewer | None = None) -> int:
        """How many images are indexed (all of them, or those `viewer` may see)."""
        query = select(sa.func.count()).select_from(Image)
        if viewer is not None:
            query = query.where(_visible_to(viewer))
        return await self._run(lambda session: session.exec(query).one(), "be counted")

    async def blob_names(self) -> set[str]:
        """The blob name of every indexed image."""
        query = select(Image.blob_name)
        return await self._run(lambda session: set(session.exec(query)), "be read")

    async def remove_blob_names(self, names: Iterable[str]) -> int:
        """Delete the rows of these blobs; returns how many rows went."""
        wanted = list(names)

        def work(session: Session) -> int:
            removed = 0
            for start in range(0, len(wanted), 500):
                chunk = wanted[start : start + 500]
                ids = select(Image.id).where(col(Image.blob_name).in_(chunk))
                session.exec(sa.delete(Favourite).where(col(Favourite.image_id).in_(ids)))
                result = session.exec(sa.delete(Image).where(col(Image.blob_name).in_(chunk)))
                removed += result.rowcount or 0
            session.commit()
            return removed

        removed = await self._run(work, "remove rows")
        if removed:
            await self._tell(Change(ChangeKind.RESYNC))
        return removed
