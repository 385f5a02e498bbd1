"""The image index: inserts and newest-first keyset queries over the `image` table."""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime

import sqlalchemy as sa
from sqlmodel import Session, col, select

from visionary_app.models import Image

__all__ = ["Catalog", "CatalogError", "PageCursor"]


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


def _as_utc(moment: datetime) -> datetime:
    # SQLite hands back naive datetimes; everything we store is UTC.
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment


class Catalog:
    """Async facade over the index; database work runs in worker threads."""

    def __init__(self, engine: sa.Engine) -> None:
        self._engine = engine

    async def add(self, image: Image) -> Image:
        """Insert one row; raises CatalogError if the database refuses it."""
        return await asyncio.to_thread(self._add, image)

    def _add(self, image: Image) -> Image:
        try:
            with Session(self._engine, expire_on_commit=False) as session:
                session.add(image)
                session.commit()
        except sa.exc.SQLAlchemyError as exc:
            msg = f"the image index refused the new row: {exc.__class__.__name__}"
            raise CatalogError(msg) from exc
        return image

    async def newest(self, limit: int, before: PageCursor | None = None) -> list[Image]:
        """Up to `limit` images, newest first, strictly older than `before` when given."""
        return await asyncio.to_thread(self._newest, limit, before)

    def _newest(self, limit: int, before: PageCursor | None) -> list[Image]:
        query = select(Image)
        if before is not None:
            created = col(Image.created_at)
            query = query.where(
                sa.or_(
                    created < before.created_at,
                    sa.and_(created == before.created_at, col(Image.id) < before.image_id),
                )
            )
        query = query.order_by(col(Image.created_at).desc(), col(Image.id).desc()).limit(limit)
        try:
            with Session(self._engine, expire_on_commit=False) as session:
                rows = list(session.exec(query))
        except sa.exc.SQLAlchemyError as exc:
            msg = f"the image index could not be read: {exc.__class__.__name__}"
            raise CatalogError(msg) from exc
        for row in rows:
            row.created_at = _as_utc(row.created_at)
        return rows

    async def get(self, image_id: uuid.UUID) -> Image | None:
        """One image by id, or None."""
        return await asyncio.to_thread(self._get, image_id)

    def _get(self, image_id: uuid.UUID) -> Image | None:
        with Session(self._engine, expire_on_commit=False) as session:
            row = session.get(Image, image_id)
        if row is not None:
            row.created_at = _as_utc(row.created_at)
        return row

    async def count(self) -> int:
        """How many images are indexed."""
        return await asyncio.to_thread(self._count)

    def _count(self) -> int:
        with Session(self._engine) as session:
            return session.exec(select(sa.func.count()).select_from(Image)).one()
