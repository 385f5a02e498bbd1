"""Share links: one image or board shown to anyone holding the link, until it ends.

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-05
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0019"
down_revision: str | Sequence[str] | None = "0018"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "share_link",
        sa.Column("id", sa.Uuid(), primary_key=True),
        sa.Column("digest", sa.String(64), nullable=False, unique=True),
        sa.Column("owner", sa.String(128), nullable=False),
        sa.Column("image_id", sa.Uuid(), sa.ForeignKey("image.id", ondelete="CASCADE")),
        sa.Column("board_id", sa.Uuid(), sa.ForeignKey("board.id", ondelete="CASCADE")),
        sa.Column("show_prompt", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True)),
        sa.Column("revoked_at", sa.DateTime(timezone=True)),
    )
    op.create_index("ix_share_link_owner_created_at", "share_link", ["owner", "created_at"])


def downgrade() -> None:
    op.drop_index("ix_share_link_owner_created_at", table_name="share_link")
    op.drop_table("share_link")
