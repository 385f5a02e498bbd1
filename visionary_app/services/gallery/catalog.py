"""The image index: inserts and newest-first keyset queries over the `image` table."""

from __future__ import annotations

import asyncio
import functools
import logging
import time
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TypeVar

import sqlalchemy as sa
from sqlmodel import Session, col, select

from visionary_app.models import (
    Board,
    BoardImage,
    Favourite,
    Image,
    ImageRecord,
    ShareLink,
    UTCDateTime,
    Visibility,
)
from visionary_app.services.access.ownership import Scope, Viewer
from visionary_app.services.gallery.live_feed import Change, ChangeKind, LiveFeed
from visionary_app.services.gallery.search_index import (
    PromptSearch,
    SearchPlan,
    install_sqlite_search,
    like_pattern,
    prompt_holds,
    search_terms,
)
from visionary_app.services.kit.database import (
    in_connection_now,
    in_session,
    in_session_now,
    make_engine,
)
from visionary_app.services.storage.blob_metadata import Library

__all__ = ["Catalog", "CatalogError", "PageCursor", "make_index_engine"]


def make_index_engine(url: str) -> sa.Engine:
    """The engine of the image index at `url`: on SQLite, every connection has its search.

    Any connection that writes `image` rows must keep the search index in step, so every
    engine on the index (the app's, migrations', tools') is made here.
    """
    return make_engine(url, on_sqlite_connect=install_sqlite_search)


T = TypeVar("T")

logger = logging.getLogger(__name__)

# Matches a search reads through before it would rather scan the visible rows instead.
_MAX_WALKED = 4096


def _utcnow() -> datetime:
    return datetime.now(UTC)


# A page's statements take the viewer, cursor and size as parameters, so each shape of page
# is built and compiled once per process: building them per request cost more than the query.
_VIEWER = sa.bindparam("viewer", type_=sa.String())
_LIMIT = sa.bindparam("limit", type_=sa.Integer())
_KEY = sa.tuple_(col(Image.created_at), col(Image.id))
_CURSOR = sa.tuple_(
    sa.bindparam("at_time", type_=UTCDateTime()), sa.bindparam("at_id", type_=sa.Uuid())
)


def _visible_to(owner):
    """Shared images, and `owner`'s own (a private image is its owner's alone).

    `owner` is a value, or `_VIEWER` in the statements built once.
    """
    return sa.or_(col(Image.visibility) == Visibility.SHARED.value, col(Image.owner) == owner)


@dataclass(frozen=True)
class _PageQueries:
    """The statements of one shape of page: what a viewer may see, as index-friendly parts.

    Everyone's gallery is the shared images plus the viewer's own private ones, "Mine" their
    shared plus their private ones: each part a keyset scan of one index, newest `limit` of
    each merged in one statement (`page`), rather than one OR that a database answers by
    collecting and sorting every match. `parts` are the unordered parts, for a search to
    narrow and scan one after the other. A search that the index narrowed to a few ids
    reads those rows by primary key instead, with the visibility rules as one condition
    (`combined`) written so that no index is chosen for it.
    """

    parts: tuple
    combined: sa.Select
    older: bool
    page: sa.Select

    @property
    def order(self) -> tuple:
        """Newest first when paging older, else oldest first."""
        return _order(Image.created_at, Image.id, older=self.older)


def _order(created_at, image_id, *, older: bool) -> tuple:
    if older:
        return (col(created_at).desc(), col(image_id).desc())
    return (col(created_at).asc(), col(image_id).asc())


def _merge(parts: list, *, older: bool) -> sa.Select:
    """One statement: the first `limit` rows of each part in page order, merged, first `limit`."""
    order = _order(Image.created_at, Image.id, older=older)
    firsts = [select(part.order_by(*order).limit(_LIMIT).subquery()) for part in parts]
    merged = sa.union_all(*firsts).subquery()
    page_order = _order(merged.c.created_at, merged.c.id, older=older)
    return select(merged).order_by(*page_order).limit(_LIMIT)


_BOARD = sa.bindparam("board", type_=sa.Uuid())


@functools.lru_cache(maxsize=64)
def _page_queries(
    scope: Scope, favourites_only: bool, *, older: bool, from_cursor: bool, on_board: bool = False
) -> _PageQueries:
    own_private = select(Image).where(
        col(Image.owner) == _VIEWER, col(Image.visibility) == Visibility.PRIVATE.value
    )
    if scope == Scope.MINE:
        own_shared = select(Image).where(
            col(Image.owner) == _VIEWER, col(Image.visibility) == Visibility.SHARED.value
        )
        parts = [own_shared, own_private]
        combined = select(Image).where((col(Image.owner) == _VIEWER).is_(True))
    else:
        shared = select(Image).where(col(Image.visibility) == Visibility.SHARED.value)
        parts = [shared, own_private]
        combined = select(Image).where(_visible_to(_VIEWER).is_(True))
    conditions = []
    if favourites_only:
        starred = select(Favourite.image_id).where(col(Favourite.owner) == _VIEWER)
        conditions.append(col(Image.id).in_(starred))
    if on_board:
        members = select(BoardImage.image_id).where(col(BoardImage.board_id) == _BOARD)
        conditions.append(col(Image.id).in_(members))
    if from_cursor:
        conditions.append(_KEY < _CURSOR if older else _KEY > _CURSOR)
    parts = [part.where(*conditions) for part in parts]
    return _PageQueries(
        parts=tuple(parts),
        combined=combined.where(*conditions),
        older=older,
        page=_merge(parts, older=older),
    )


def _read(connection: sa.Connection, query, params: dict) -> list[ImageRecord]:
    """The images of a query as plain records (ORM objects were most of a page's cost)."""
    result = connection.execute(query, params)
    if tuple(result.keys()) != ImageRecord._fields:  # select(Image) gives them in this order
        msg = f"unexpected columns {tuple(result.keys())}"
        raise AssertionError(msg)
    make = ImageRecord._make
    return [make(row) for row in result.all()]


# One round trip; `true` makes each setting local to the transaction, as SET LOCAL does.
_SCAN_IN_TIME_ORDER = sa.text(
    "SELECT set_config('enable_bitmapscan', 'off', true), "
    "set_config('enable_seqscan', 'off', true), "
    "set_config('max_parallel_workers_per_gather', '0', true)"
)


def _scan_in_time_order(session: Session) -> None:
    """Make PostgreSQL answer a LIKE search by walking the time index newest first.

    It cannot estimate how many prompts contain a word, and at a million rows it chose to
    collect every shared image and sort the matches (1.3 s); walking the index in order stops
    after a page. Nor in parallel: starting workers for a scan that stops after a page took
    longer than the scan (a CJK search, 5 ms alone, 31 ms whenever the statistics made a
    parallel plan look cheaper). For this transaction only.
    """
    session.exec(_SCAN_IN_TIME_ORDER)


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
        # A page of a local SQLite file is a few index seeks: reading it here takes less time
        # than handing it to a thread and back (0.8 ms on a 2-core machine, half a page's
        # cost). Searches, which may scan, and a database server, which may keep a query
        # waiting on the network, are read in a thread.
        self._pages_here = engine.dialect.name == "sqlite"
        # Pages and searches are read outside a transaction on a server, saving the BEGIN and
        # ROLLBACK round trips (1.1 ms of 2.7 for a page on PostgreSQL here). SQLite has no
        # round trips, and switching its driver to autocommit and back costs more.
        self._reader = (
            engine if self._pages_here else engine.execution_options(isolation_level="AUTOCOMMIT")
        )

    @property
    def engine(self) -> sa.Engine:
        """The index's engine, for the services that keep tables beside it (boards)."""
        return self._engine

    async def _tell(self, change: Change) -> None:
        if self._feed is not None:
            await self._feed.publish(change)

    def dispose(self) -> None:
        """Close pooled database connections."""
        self._engine.dispose()

    @staticmethod
    def _failure(action: str) -> Callable[[str], CatalogError]:
        def failure(error: str) -> CatalogError:
            return CatalogError(f"the image index could not {action}: {error}")

        return failure

    async def _run(self, work: Callable[[Session], T], action: str) -> T:
        return await in_session(self._engine, work, self._failure(action))

    async def add(self, image: Image) -> Image:
        """Insert one row; raises CatalogError if the database refuses it."""
        await self.add_many([image])
        return image

    async def add_many(
        self, images: Iterable[Image], libraries: dict[uuid.UUID, Library] | None = None
    ) -> None:
        """Insert rows in one transaction, with the boards and stars their blobs kept (`sync`).

        Boards that are not (or no longer) indexed are skipped.
        """
        rows = list(images)
        kept = {image_id: library for image_id, library in (libraries or {}).items() if library}

        def work(session: Session) -> None:
            session.add_all(rows)
            if kept:
                session.flush()
                named = {board for library in kept.values() for board in library.boards}
                boards = set(session.exec(select(Board.id).where(col(Board.id).in_(named))))
                now = _utcnow()
                for image_id, library in kept.items():
                    for board in set(library.boards) & boards:
                        session.add(BoardImage(board_id=board, image_id=image_id, added_at=now))
                    for owner in set(library.starred_by):
                        session.add(Favourite(owner=owner, image_id=image_id, created_at=now))
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
        board: uuid.UUID | None = None,
    ) -> list[Image]:
        """Up to `limit` images `viewer` may see, newest first, strictly older than `before`.

        `scope` MINE keeps the viewer's own; `favourites_only` the ones they starred; `search`
        those whose prompt contains every word of it (any script, any case for letters that
        have one); `board` those in that board (whose visibility the caller checked).
        """
        queries = _page_queries(
            scope,
            favourites_only,
            older=True,
            from_cursor=before is not None,
            on_board=board is not None,
        )
        return await self._page(queries, viewer, limit, before, search, older=True, board=board)

    async def newer(
        self,
        limit: int,
        after: PageCursor,
        *,
        viewer: Viewer,
        scope: Scope = Scope.EVERYONE,
        favourites_only: bool = False,
        search: str = "",
        board: uuid.UUID | None = None,
    ) -> list[Image]:
        """The `limit` visible images just newer than `after` (the page above it), newest first."""
        queries = _page_queries(
            scope, favourites_only, older=False, from_cursor=True, on_board=board is not None
        )
        rows = await self._page(queries, viewer, limit, after, search, older=False, board=board)
        return rows[::-1]

    async def _page(
        self,
        queries: _PageQueries,
        viewer: Viewer,
        limit: int,
        cursor: PageCursor | None,
        search: str,
        *,
        older: bool,
        board: uuid.UUID | None = None,
    ) -> list[Image]:
        params: dict = {"viewer": viewer.owner, "limit": limit}
        if board is not None:
            params["board"] = board
        if cursor is not None:
            params.update(at_time=cursor.created_at, at_id=cursor.image_id)
        terms = search_terms(search)

        def look_up(session: Session) -> tuple[SearchPlan | None, list[Image] | None]:
            """The search's page, unless it takes a scan: then (the plan to scan by, None)."""
            walked = self._walk_at_once(session, terms, queries, params, cursor, older=older)
            if walked is not None:
                return None, walked
            plan = self._search.prepare(session, terms)
            if plan.walk_terms:
                walked = self._walk(session, plan, queries, params, cursor, older=older)
                if walked is not None:
                    return plan, walked
                plan = plan.scanning(terms)  # too few matches visible: scan instead
            if plan.found is not None:
                # A few ids from the search index: read them by key, keep the visible.
                query = plan.apply(queries.combined).order_by(*queries.order).limit(_LIMIT)
                return plan, _read(session.connection(), query, params)
            return plan, None

        def scan(session: Session, plan: SearchPlan) -> list[Image]:
            """Each part scanned newest first for matches, one after the other."""
            if plan.dialect == "postgresql":
                _scan_in_time_order(session)
            rows: list[Image] = []
            for part in queries.parts:
                query = plan.apply(part)
                if len(rows) >= limit:
                    # A page is full: a later part only matters where it beats its last row,
                    # so it stops scanning there.
                    last = rows[limit - 1]
                    bound = sa.tuple_(
                        sa.literal(last.created_at, UTCDateTime()),
                        sa.literal(last.id, sa.Uuid()),
                    )
                    query = query.where(_KEY > bound if older else _KEY < bound)
                query = query.order_by(*queries.order).limit(_LIMIT)
                rows.extend(_read(session.connection(), query, params))
                rows.sort(key=lambda image: (image.created_at, image.id), reverse=older)
            return rows[:limit]

        failure = self._failure("be read")

        def read() -> list[Image]:
            # Outside a transaction on a server: no BEGIN and ROLLBACK round trips. A scan
            # needs one, for its planner settings.
            if not terms:  # one statement: no ORM session to set up
                page = functools.partial(_read, query=queries.page, params=params)
                return in_connection_now(self._reader, page, failure)
            plan, rows = in_session_now(self._reader, look_up, failure)
            if rows is None and plan is not None:
                rows = in_session_now(self._engine, lambda session: scan(session, plan), failure)
            return rows or []

        if self._pages_here and not terms:
            return read()
        return await asyncio.to_thread(read)

    def _walk_at_once(
        self,
        session: Session,
        terms: list[str],
        queries: _PageQueries,
        params: dict,
        cursor: PageCursor | None,
        *,
        older: bool,
    ) -> list[Image] | None:
        """A search page in one statement, if the first batch of its walk holds it.

        The batch of matches (`PromptSearch.first_batch`) and the visible rows among them
        are read at once. None when the batch did not settle the page (too few visible,
        or no match, which on PostgreSQL may also mean too many words), or where it does
        not apply: then the search goes the slower way.
        """
        limit = params["limit"]
        after = cursor.created_at if cursor is not None else None
        size = 2 * limit  # room for the matches the viewer may not see
        batch = self._search.first_batch(session, terms, after, older=older, size=size)
        if batch is None:
            return None
        query = self._batch_page(queries, batch.walked, len(batch.like_terms))
        values = {
            f"like_{index}": like_pattern(term) for index, term in enumerate(batch.like_terms)
        }
        result = session.connection().execute(query, {**params, **batch.params, **values}).all()
        if not result:
            return None
        rows = [ImageRecord._make(row[:-2]) for row in result]
        return rows if batch.holds_page(result[0][-2], result[0][-1], rows, limit) else None

    @functools.lru_cache(maxsize=64)  # noqa: B019 (a few shapes, kept while the index lives)
    def _batch_page(self, queries: _PageQueries, walked: sa.CTE, like_terms: int) -> sa.Select:
        """The page among a first batch's matches, with how many there were and the last."""
        matches = sa.select(sa.func.count()).select_from(walked).scalar_subquery()
        edge = (sa.func.min if queries.older else sa.func.max)(walked.c.edge)
        return (
            queries.combined.where(
                col(Image.id).in_(sa.select(walked.c.image_id)),
                *prompt_holds(self._engine.dialect.name, like_terms),
            )
            .add_columns(matches, sa.select(edge).scalar_subquery())
            .order_by(*queries.order)
            .limit(_LIMIT)
        )

    def _walk(
        self,
        session: Session,
        plan: SearchPlan,
        queries: _PageQueries,
        params: dict,
        cursor: PageCursor | None,
        *,
        older: bool,
    ) -> list[Image] | None:
        """A search page read by following the search index in time order.

        Each batch of matches is narrowed to the rows the viewer may see (and the terms the
        index did not check); reading stops once a page is full. None if more than
        _MAX_WALKED matches had to be read, i.e. few matches are visible (say, a common word
        among one's favourites), where a scan of the visible rows is quicker.
        """
        limit = params["limit"]
        rows: list[Image] = []
        walked = 0
        after = cursor.created_at if cursor is not None else None
        for ids in self._search.walk(session, plan, after, older=older):
            query = plan.apply(queries.combined.where(plan.among(ids)))
            rows.extend(_read(session.connection(), query, params))
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

    async def tidy_search(self, budget_s: float = 60.0, pause_s: float = 0.05) -> int:
        """Merge the search index's pieces into one, a step at a time; the steps it took.

        Stops at one piece or after `budget_s`. Writers get the lock between steps (`pause_s`).
        Nothing to do on PostgreSQL.
        """
        failure = self._failure("be tidied")
        steps, deadline = 0, time.monotonic() + budget_s
        while time.monotonic() < deadline:
            merged = await asyncio.to_thread(
                in_connection_now, self._engine, self._search.merge_step, failure
            )
            if not merged:
                break
            steps += 1
            await asyncio.sleep(pause_s)
        return steps

    async def keep_search_tidy(self, every_s: float = 300.0) -> None:
        """Tidy the search index now and then every `every_s` seconds, until cancelled."""
        while True:
            try:
                steps = await self.tidy_search()
            except CatalogError as exc:
                logger.warning("could not tidy the search index: %s", exc)
            else:
                if steps:
                    logger.info("merged the search index in %d step(s)", steps)
            await asyncio.sleep(every_s)

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

    async def get_many(self, image_ids: Iterable[uuid.UUID]) -> list[Image]:
        """The images with these ids that exist, whoever owns them (callers check who may act)."""
        wanted = list(dict.fromkeys(image_ids))

        def work(session: Session) -> list[Image]:
            found: list[Image] = []
            for start in range(0, len(wanted), 500):
                chunk = wanted[start : start + 500]
                found.extend(session.exec(select(Image).where(col(Image.id).in_(chunk))))
            return found

        return await self._run(work, "be read")

    async def library_of(self, image_id: uuid.UUID) -> Library:
        """The boards an image is in and who starred it: what its blob keeps besides itself."""

        def work(session: Session) -> Library:
            boards = session.exec(
                select(BoardImage.board_id).where(col(BoardImage.image_id) == image_id)
            )
            stars = session.exec(select(Favourite.owner).where(col(Favourite.image_id) == image_id))
            return Library(boards=tuple(sorted(boards)), starred_by=tuple(sorted(stars)))

        return await self._run(work, "be read")

    async def made_from(self, viewer: Viewer, image_id: uuid.UUID, limit: int = 24) -> list[Image]:
        """The images made from this one (edits, variations) that `viewer` may see, newest first."""
        query = (
            select(Image)
            .where(col(Image.source_id) == image_id, _visible_to(viewer.owner))
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
            session.exec(sa.delete(BoardImage).where(col(BoardImage.image_id) == image_id))
            session.exec(sa.delete(ShareLink).where(col(ShareLink.image_id) == image_id))
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
            query = query.where(_visible_to(viewer.owner))
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
                session.exec(sa.delete(BoardImage).where(col(BoardImage.image_id).in_(ids)))
                session.exec(sa.delete(ShareLink).where(col(ShareLink.image_id).in_(ids)))
                result = session.exec(sa.delete(Image).where(col(Image.blob_name).in_(chunk)))
                removed += result.rowcount or 0
            session.commit()
            return removed

        removed = await self._run(work, "remove rows")
        if removed:
            await self._tell(Change(ChangeKind.RESYNC))
        return removed
