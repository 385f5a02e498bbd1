"""Thumbnails, favourites, and the options an image was made with.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-25
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | Sequence[str] | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("image") as batch:
        batch.add_column(sa.Column("thumbnail_blob_name", sa.String(length=255), nullable=True))
        batch.add_column(sa.Column("thumbnail_width", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("thumbnail_height", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("quality", sa.String(length=32), nullable=True))
        batch.add_column(sa.Column("style", sa.String(length=32), nullable=True))
        batch.add_column(
            sa.Column("favourite", sa.Boolean(), nullable=False, server_default=sa.false())
        )
    op.create_index(
        "ix_image_favourite_created_at_id", "image", ["favourite", "created_at", "id"]
    )


def downgrade() -> None:
    op.drop_index("ix_image_favourite_created_at_id", table_name="image")
    with op.batch_alter_table("image") as batch:
        for column in (
            "favourite",
            "style",
            "quality",
            "thumbnail_height",
            "thumbnail_width",
            "thumbnail_blob_name",
        ):
            batch.drop_column(column)
