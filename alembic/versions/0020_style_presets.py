"""Style presets: users' own, and the preset each job and image was made with.

Revision ID: 0020
Revises: 0019
Create Date: 2026-12-05
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0020"
down_revision: str | Sequence[str] | None = "0019"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "style_preset",
        sa.Column("id", sa.Uuid(), primary_key=True),
        sa.Column("owner", sa.String(128), nullable=False),
        sa.Column("name", sa.String(80), nullable=False),
        sa.Column("words", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.UniqueConstraint("owner", "name", name="uq_style_preset_owner_name"),
    )
    with op.batch_alter_table("generation_job") as batch:
        batch.add_column(sa.Column("preset", sa.String(80), nullable=True))
        batch.add_column(sa.Column("preset_words", sa.Text(), nullable=True))
    # A plain ADD COLUMN: rebuilding `image` would drop the SQLite search index's triggers.
    op.add_column("image", sa.Column("preset", sa.String(80), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("image") as batch:
        batch.drop_column("preset")
    with op.batch_alter_table("generation_job") as batch:
        batch.drop_column("preset_words")
        batch.drop_column("preset")
    op.drop_table("style_preset")
