"""The image index: inserts and newest-first keyset queries over the `image` table."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import TypeVar

import sqlalchemy as sa
from sqlmodel import Session, col, select

from visionary_app.models import Image, UTCDateTime
from visionary_app.services.database import in_session
from visionary_app.services.search_index import PromptSearch, search_terms

__all__ = ["Catalog", "CatalogError", "PageCursor"]

T = TypeVar("T")


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

    def __init__(self, engine: sa.Engine) -> None:
        self._engine = engine
        self._search = PromptSearch(engine)

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

    async def newest(
        self,
        limit: int,
        before: PageCursor | None = None,
        *,
        favourites_only: bool = False,
        search: str = "",
    ) -> list[Image]:
        """Up to `limit` images, newest first, strictly older than `before` when given.

        `search` keeps images whose prompt contains every word of it (any script, any case
        for letters that have one).
        """
        return await self._page(limit, before, favourites_only, search, older=True)

    async def newer(
        self,
        limit: int,
        after: PageCursor,
        *,
        favourites_only: bool = False,
        search: str = "",
    ) -> list[Image]:
        """The `limit` images just newer than `after` (the page above it), newest first."""
        rows = await self._page(limit, after, favourites_only, search, older=False)
        return rows[::-1]

    async def _page(
        self,
        limit: int,
        cursor: PageCursor | None,
        favourites_only: bool,
        search: str,
        *,
        older: bool,
    ) -> list[Image]:
        query = select(Image)
        if favourites_only:
            query = query.where(col(Image.favourite).is_(True))
        if cursor is not None:
            # A row-value comparison lets both SQLite and Postgres seek in the index.
            key = sa.tuple_(col(Image.created_at), col(Image.id))
            at = sa.tuple_(
                sa.literal(cursor.created_at, UTCDateTime()),
                sa.literal(cursor.image_id, sa.Uuid()),
            )
            query = query.where(key < at if older else key > at)
        if older:
            order = (col(Image.created_at).desc(), col(Image.id).desc())
        else:
            order = (col(Image.created_at).asc(), col(Image.id).asc())
        query = query.order_by(*order).limit(limit)
        terms = search_terms(search)

        def work(session: Session) -> list[Image]:
            final = self._search.filter(session, query, terms) if terms else query
            return list(session.exec(final))

        return await self._run(work, "be read")

    async def get(self, image_id: uuid.UUID) -> Image | None:
        """One image by id, or None."""
        return await self._run(lambda session: session.get(Image, image_id), "be read")

    async def set_favourite(self, image_id: uuid.UUID, favourite: bool) -> bool:
        """Star or unstar an image; False if there is no such image."""

        def work(session: Session) -> bool:
            image = session.get(Image, image_id)
            if image is None:
                return False
            image.favourite = favourite
            session.add(image)
            session.commit()
            return True

        return await self._run(work, "update a row")

    async def remove(self, image_id: uuid.UUID) -> bool:
        """Delete one row; False if it was not there."""

        def work(session: Session) -> bool:
            result = session.exec(sa.delete(Image).where(col(Image.id) == image_id))
            session.commit()
            return bool(result.rowcount)

        return await self._run(work, "remove a row")

    async def count(self) -> int:
        """How many images are indexed."""
        query = select(sa.func.count()).select_from(Image)
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
                result = session.exec(sa.delete(Image).where(col(Image.blob_name).in_(chunk)))
                removed += result.rowcount or 0
            session.commit()
            return removed

        return await self._run(work, "remove rows")
