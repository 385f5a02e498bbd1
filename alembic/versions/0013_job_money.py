"""Jobs carry money: the estimate reserved when submitted, and the cost settled at the end.

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-04
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = "0013"
down_revision: str | Sequence[str] | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("generation_job") as batch:
        batch.add_column(
            sa.Column("estimated_micros", sa.BigInteger(), nullable=False, server_default="0")
        )
        batch.add_column(sa.Column("cost_micros", sa.BigInteger(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("generation_job") as batch:
        for column in ("cost_micros", "estimated_micros"):
            batch.drop_column(column)
