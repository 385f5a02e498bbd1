"""Lineage: each image's kind and source images; jobs that edit or vary, and their options.

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-28
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | Sequence[str] | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("image") as batch:
        batch.add_column(
            sa.Column("kind", sa.String(16), nullable=False, server_default="generated")
        )
        batch.add_column(sa.Column("source_id", sa.Uuid(), nullable=True))
        batch.add_column(sa.Column("reference_ids", sa.Text(), nullable=False, server_default=""))
    op.create_index("ix_image_source_id", "image", ["source_id"])
    with op.batch_alter_table("generation_job") as batch:
        batch.add_column(
            sa.Column("kind", sa.String(16), nullable=False, server_default="generated")
        )
        batch.add_column(sa.Column("source_ids", sa.Text(), nullable=False, server_default=""))
        batch.add_column(sa.Column("background", sa.String(16), nullable=True))
        batch.add_column(sa.Column("complexity", sa.String(16), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("generation_job") as batch:
        for column in ("complexity", "background", "source_ids", "kind"):
            batch.drop_column(column)
    op.drop_index("ix_image_source_id", table_name="image")
    with op.batch_alter_table("image") as batch:
        for column in ("reference_ids", "source_id", "kind"):
            batch.drop_column(column)
