"""Teams from single sign-on: each user's groups as their last sign-in's claim said.

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-04
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = "0014"
down_revision: str | Sequence[str] | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "team_member",
        sa.Column("user", sa.String(128), primary_key=True),
        sa.Column("team", sa.String(128), primary_key=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_team_member_team", "team_member", ["team"])


def downgrade() -> None:
    op.drop_index("ix_team_member_team", table_name="team_member")
    op.drop_table("team_member")
