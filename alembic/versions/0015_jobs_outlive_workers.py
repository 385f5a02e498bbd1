"""Jobs outlive their worker: a retry count, the cost of lost calls, and masks any worker reads.

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-04
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = "0015"
down_revision: str | Sequence[str] | None = "0014"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("generation_job") as batch:
        batch.add_column(sa.Column("retries", sa.Integer(), nullable=False, server_default="0"))
        batch.add_column(
            sa.Column("lost_micros", sa.BigInteger(), nullable=False, server_default="0")
        )
    op.create_table(
        "job_mask",
        sa.Column("job_id", sa.Uuid(), primary_key=True),
        sa.Column("data", sa.LargeBinary(), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("job_mask")
    with op.batch_alter_table("generation_job") as batch:
        for column in ("lost_micros", "retries"):
            batch.drop_column(column)
