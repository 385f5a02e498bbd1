"""Owners and privacy: every image has an owner and a visibility; favourites are per user.

Existing images get the owner of the job that made them where a job row names them, and
LEGACY_OWNER ("legacy") otherwise; they stay shared, as every image was before. The stars
of the old global `favourite` column become the favourites of each image's owner.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-28
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | Sequence[str] | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

LEGACY_OWNER = "legacy"


def upgrade() -> None:
    with op.batch_alter_table("image") as batch:
        batch.add_column(
            sa.Column("owner", sa.String(length=128), nullable=False, server_default=LEGACY_OWNER)
        )
        batch.add_column(
            sa.Column("visibility", sa.String(length=16), nullable=False, server_default="shared")
        )
    connection = op.get_bind()
    image = sa.table(
        "image",
        sa.column("id", sa.Uuid()),
        sa.column("owner", sa.String()),
        sa.column("favourite", sa.Boolean()),
    )
    job = sa.table("generation_job", sa.column("owner", sa.String()), sa.column("image_ids"))
    for owner, image_ids in connection.execute(
        sa.select(job.c.owner, job.c.image_ids).where(job.c.image_ids != "")
    ):
        ids = [uuid.UUID(text) for text in image_ids.split()]
        connection.execute(sa.update(image).where(image.c.id.in_(ids)).values(owner=owner))

    op.create_table(
        "favourite",
        sa.Column("owner", sa.String(length=128), nullable=False),
        sa.Column("image_id", sa.Uuid(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["image_id"], ["image.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("owner", "image_id"),
    )
    favourite = sa.table(
        "favourite",
        sa.column("owner", sa.String()),
        sa.column("image_id", sa.Uuid()),
        sa.column("created_at", sa.DateTime(timezone=True)),
    )
    starred = connection.execute(
        sa.select(image.c.owner, image.c.id).where(image.c.favourite.is_(True))
    ).all()
    if starred:
        now = datetime.now(UTC)
        connection.execute(
            sa.insert(favourite),
            [{"owner": owner, "image_id": image_id, "created_at": now} for owner, image_id in starred],
        )

    op.drop_index("ix_image_favourite_created_at_id", table_name="image")
    with op.batch_alter_table("image") as batch:
        batch.drop_column("favourite")
        batch.alter_column("owner", server_default=None)
        batch.alter_column("visibility", server_default=None)
    op.create_index(
        "ix_image_owner_visibility_created_at_id",
        "image",
        ["owner", "visibility", "created_at", "id"],
    )
    op.create_index(
        "ix_image_visibility_created_at_id", "image", ["visibility", "created_at", "id"]
    )


def downgrade() -> None:
    op.drop_index("ix_image_visibility_created_at_id", table_name="image")
    op.drop_index("ix_image_owner_visibility_created_at_id", table_name="image")
    with op.batch_alter_table("image") as batch:
        batch.add_column(
            sa.Column("favourite", sa.Boolean(), nullable=False, server_default=sa.false())
        )
    connection = op.get_bind()
    connection.execute(
        sa.text("UPDATE image SET favourite = :yes WHERE id IN (SELECT image_id FROM favourite)"),
        {"yes": True},
    )
    op.drop_table("favourite")
    op.create_index(
        "ix_image_favourite_created_at_id", "image", ["favourite", "created_at", "id"]
    )
    with op.batch_alter_table("image") as batch:
        batch.drop_column("visibility")
        batch.drop_column("owner")
