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
from visionary_app.services.search_index import (
    MIN_TRIGRAM_CHARS,
    fts_phrase,
    like_pattern,
    postgres_search_schema,
    search_terms,
)

__all__ = ["Catalog", "CatalogError", "PageCursor"]

T = TypeVar("T")

# Above this many FTS matches a term is common: scanning newest-first with LIKE finds a page
# sooner than collecting every match. Below it, the FTS match set is small and quick to use.
_DENSE_MATCHES = 300


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
        url = engine.url
        self._has_fts = url.get_backend_name() == "sqlite" and url.database not in (
            None,
            "",
            ":memory:",
        )
        self._fts_checked = False
        self._pg_search_table: str | None = None  # "" once known to be missing

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
        query = select(Image)
        if favourites_only:
            query = query.where(col(Image.favourite).is_(True))
        if before is not None:
            # A row-value comparison lets both SQLite and Postgres seek in the index.
            query = query.where(
                sa.tuple_(col(Image.created_at), col(Image.id))
                < sa.tuple_(
                    sa.literal(before.created_at, UTCDateTime()),
                    sa.literal(before.image_id, sa.Uuid()),
                )
            )
        query = query.order_by(col(Image.created_at).desc(), col(Image.id).desc()).limit(limit)
        terms = search_terms(search)

        def work(session: Session) -> list[Image]:
            final = self._filtered(session, query, terms) if terms else query
            return list(session.exec(final))

        return await self._run(work, "be read")

    def _filtered(self, session: Session, query, terms: list[str]):
        """Add the search conditions: the trigram index for rare words, a newest-first scan else."""
        like_terms = list(terms)
        long_terms = [t for t in terms if len(t) >= MIN_TRIGRAM_CHARS]
        found = self._trigram_matches(session, long_terms) if long_terms else None
        if found is not None and len(found) <= _DENSE_MATCHES:
            # Few matches: look them up by primary key and sort just those.
            query = query.where(col(Image.id).in_(found))
            like_terms = [t for t in terms if len(t) < MIN_TRIGRAM_CHARS]
        for term in like_terms:
            pattern = like_pattern(term)
            if self._engine.dialect.name == "sqlite":
                query = query.where(col(Image.prompt).like(pattern, escape="\\"))
            else:
                query = query.where(col(Image.prompt).ilike(pattern, escape="\\"))
        return query

    def _trigram_matches(self, session: Session, terms: list[str]) -> list[uuid.UUID] | None:
        """Up to _DENSE_MATCHES + 1 ids of images matching every term; None without an index."""
        limit = _DENSE_MATCHES + 1
        if self._has_fts:
            self._ensure_search_index(session)  # may commit, so take the connection after
            match = " AND ".join(fts_phrase(term) for term in terms)
            rows = (
                session.connection()
                .exec_driver_sql(
                    "SELECT image_id FROM search.image_fts WHERE image_fts MATCH ? LIMIT ?",
                    (match, limit),
                )
                .all()
            )
            return [uuid.UUID(hex=row[0]) for row in rows]
        connection = session.connection()
        table = self._postgres_search_table(connection)
        if table is None:
            return None
        conditions = " AND ".join(f"prompt ILIKE :p{i} ESCAPE '\\'" for i in range(len(terms)))
        params: dict = {f"p{i}": like_pattern(term) for i, term in enumerate(terms)}
        # The table name comes from the schema, never from input; the terms are bound.
        statement = f"SELECT image_id FROM {table} WHERE {conditions} LIMIT :limit"  # noqa: S608
        rows = connection.execute(sa.text(statement), {**params, "limit": limit}).all()
        return [row[0] for row in rows]

    def _postgres_search_table(self, connection: sa.Connection) -> str | None:
        """The trigram-indexed prompt table migration 0003 made, if it could (PostgreSQL)."""
        if self._engine.dialect.name != "postgresql":
            return None
        if self._pg_search_table is None:
            schema = connection.exec_driver_sql("SELECT current_schema()").scalar_one()
            search = postgres_search_schema(schema)
            exists = connection.execute(
                sa.text("SELECT to_regclass(:name)"), {"name": f'"{search}".image_prompt'}
            ).scalar()
            self._pg_search_table = f'"{search}".image_prompt' if exists else ""
        return self._pg_search_table or None

    def _ensure_search_index(self, session: Session) -> None:
        """Rebuild the derived FTS table once if it disagrees with the index (e.g. an upgrade)."""
        if self._fts_checked:
            return
        connection = session.connection()
        images = connection.exec_driver_sql("SELECT count(*) FROM main.image").scalar_one()
        indexed = connection.exec_driver_sql("SELECT count(*) FROM search.image_fts").scalar_one()
        if images != indexed:
            connection.exec_driver_sql("DELETE FROM search.image_fts")
            connection.exec_driver_sql(
                "INSERT INTO search.image_fts(prompt, image_id) SELECT prompt, id FROM main.image"
            )
            session.commit()
        self._fts_checked = True

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
