"""Sessions kept on the server (signing out ends every copy of the cookie); visitors' addresses.

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-04
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0017"
down_revision: str | Sequence[str] | None = "0016"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "user_session",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("principal", sa.String(128), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ended_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("client", sa.String(64), nullable=True),
    )
    op.create_index("ix_user_session_principal", "user_session", ["principal"])
    with op.batch_alter_table("generation_job") as batch:
        batch.add_column(sa.Column("client", sa.String(64), nullable=True))
    op.create_index("ix_generation_job_client_created_at", "generation_job", ["client", "created_at"])


def downgrade() -> None:
    op.drop_index("ix_generation_job_client_created_at", table_name="generation_job")
    with op.batch_alter_table("generation_job") as batch:
        batch.drop_column("client")
    op.drop_table("user_session")
