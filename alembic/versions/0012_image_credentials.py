"""Images keep what their content credentials (C2PA manifest) said.

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-04
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = "0012"
down_revision: str | Sequence[str] | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("image", sa.Column("credentials", sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("image") as batch:
        batch.drop_column("credentials")
