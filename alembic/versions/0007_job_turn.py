"""Fair start order: each job's turn among its owner's jobs, and the queue index by it.

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-28
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | Sequence[str] | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("generation_job") as batch:
        batch.add_column(sa.Column("turn", sa.Integer(), nullable=False, server_default="0"))
    op.drop_index("ix_generation_job_status_created_at", table_name="generation_job")
    op.create_index(
        "ix_generation_job_status_turn_created_at",
        "generation_job",
        ["status", "turn", "created_at"],
    )


def downgrade() -> None:
    op.drop_index("ix_generation_job_status_turn_created_at", table_name="generation_job")
    op.create_index(
        "ix_generation_job_status_created_at", "generation_job", ["status", "created_at"]
    )
    with op.batch_alter_table("generation_job") as batch:
        batch.drop_column("turn")
