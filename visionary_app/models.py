"""SQLModel tables of the image index and their indexes."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

__all__ = ["Image", "UTCDateTime"]


class UTCDateTime(sa.TypeDecorator):
    """A timezone-aware UTC datetime on every database (SQLite hands back naive values)."""

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect) -> datetime | None:
        """Refuse naive values; store UTC."""
        if value is not None and value.tzinfo is None:
            msg = "naive datetimes are ambiguous; store UTC-aware values"
            raise ValueError(msg)
        return value.astimezone(UTC) if value is not None else None

    def process_result_value(self, value: datetime | None, dialect) -> datetime | None:
        """Mark values read back as UTC."""
        if value is not None and value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value


class Image(SQLModel, table=True):
    """One stored image: where its blob is and what produced it."""

    __tablename__ = "image"
    # Serves "newest first" keyset pagination: ORDER BY created_at DESC, id DESC.
    __table_args__ = (
        sa.Index("ix_image_created_at_id", "created_at", "id"),
        # Serves the favourites filter with the same keyset order.
        sa.Index("ix_image_favourite_created_at_id", "favourite", "created_at", "id"),
    )

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    blob_name: str = Field(sa_column=sa.Column(sa.String(255), nullable=False, unique=True))
    prompt: str = Field(sa_column=sa.Column(sa.Text, nullable=False))
    created_at: datetime = Field(sa_column=sa.Column(UTCDateTime(), nullable=False))
    provider: str = Field(sa_column=sa.Column(sa.String(64), nullable=False))
    model: str = Field(sa_column=sa.Column(sa.String(128), nullable=False))
    width: int
    height: int
    content_type: str = Field(sa_column=sa.Column(sa.String(64), nullable=False))
    byte_size: int
    revised_prompt: str | None = Field(default=None, sa_column=sa.Column(sa.Text, nullable=True))
    thumbnail_blob_name: str | None = Field(
        default=None, sa_column=sa.Column(sa.String(255), nullable=True)
    )
    thumbnail_width: int | None = None
    thumbnail_height: int | None = None
    quality: str | None = Field(default=None, sa_column=sa.Column(sa.String(32), nullable=True))
    style: str | None = Field(default=None, sa_column=sa.Column(sa.String(32), nullable=True))
    favourite: bool = Field(
        default=False,
        sa_column=sa.Column(sa.Boolean, nullable=False, server_default=sa.false()),
    )
