"""Boards: named collections of images, and the board a job's images join.

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-04
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0018"
down_revision: str | Sequence[str] | None = "0017"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "board",
        sa.Column("id", sa.Uuid(), primary_key=True),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("owner", sa.String(128), nullable=False),
        sa.Column("visibility", sa.String(16), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_board_owner", "board", ["owner"])
    op.create_index("ix_board_visibility", "board", ["visibility"])
    op.create_table(
        "board_image",
        sa.Column(
            "board_id", sa.Uuid(), sa.ForeignKey("board.id", ondelete="CASCADE"), primary_key=True
        ),
        sa.Column(
            "image_id", sa.Uuid(), sa.ForeignKey("image.id", ondelete="CASCADE"), primary_key=True
        ),
        sa.Column("added_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_board_image_image_id", "board_image", ["image_id"])
    with op.batch_alter_table("generation_job") as batch:
        batch.add_column(sa.Column("board_id", sa.Uuid(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("generation_job") as batch:
        batch.drop_column("board_id")
    op.drop_index("ix_board_image_image_id", table_name="board_image")
    op.drop_table("board_image")
    op.drop_index("ix_board_visibility", table_name="board")
    op.drop_index("ix_board_owner", table_name="board")
    op.drop_table("board")
