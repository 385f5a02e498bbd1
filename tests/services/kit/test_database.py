import uuid
from concurrent.futures import ThreadPoolExecutor

import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlmodel import SQLModel

import visionary_app.models  # noqa: F401
from alembic import command
from visionary_app.services.gallery.catalog import make_index_engine
from visionary_app.services.kit.database import alembic_config, upgrade_to_head


def _schema_diff(engine: sa.Engine) -> list:
    with engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        return compare_metadata(context, SQLModel.metadata)


def test_migrations_match_the_models_on_sqlite(engine):
    assert _schema_diff(engine) == []
    indexes = {index["name"]: index for index in sa.inspect(engine).get_indexes("image")}
    assert indexes["ix_image_created_at_id"]["column_names"] == ["created_at", "id"]


def test_upgrade_is_idempotent(database_url):
    upgrade_to_head(database_url)
    upgrade_to_head(database_url)


def test_migrations_match_the_models_on_postgres(postgres_url):
    engine = make_index_engine(postgres_url)
    try:
        assert _schema_diff(engine) == []
    finally:
        engine.dispose()


def test_workers_starting_together_migrate_once(tmp_path):
    url = f"sqlite:///{tmp_path / 'fresh.db'}"
    with ThreadPoolExecutor(max_workers=4) as pool:
        list(pool.map(lambda _: upgrade_to_head(url), range(4)))
    engine = make_index_engine(url)
    try:
        assert _schema_diff(engine) == []
    finally:
        engine.dispose()


def test_workers_starting_together_migrate_once_on_postgres(postgres_url):
    # The fixture migrated its schema; take it back to nothing and race four upgrades.
    engine = make_index_engine(postgres_url)
    try:
        command.downgrade(alembic_config(postgres_url), "base")
        with ThreadPoolExecutor(max_workers=4) as pool:
            list(pool.map(lambda _: upgrade_to_head(postgres_url), range(4)))
        assert _schema_diff(engine) == []
    finally:
        engine.dispose()


def test_owners_come_from_the_jobs_that_made_them_and_stars_stay_with_them(tmp_path):
    """0005 on an index with images, jobs and (global) favourites from before owners."""
    url = f"sqlite:///{tmp_path / 'old.db'}"
    command.upgrade(alembic_config(url), "0004")
    engine = make_index_engine(url)
    made, orphan = uuid.uuid4(), uuid.uuid4()
    with engine.begin() as connection:
        for image_id, favourite in ((made, True), (orphan, True)):
            connection.execute(
                sa.text(
                    "INSERT INTO image (id, blob_name, prompt, created_at, provider, model, "
                    "width, height, content_type, byte_size, favourite) VALUES (:id, :blob, 'p', "
                    "'2026-11-01 00:00:00', 'offline', 'm', 1, 1, 'image/png', 1, :fav)"
                ),
                {"id": image_id.hex, "blob": f"images/2026/11/01/{image_id}.png", "fav": favourite},
            )
        connection.execute(
            sa.text(
                "INSERT INTO generation_job (id, owner, prompt, size, n, status, images, "
                "image_ids, created_at, seen) VALUES (:id, 'user:alice', 'p', '1x1', 1, "
                "'succeeded', 1, :ids, '2026-11-01 00:00:00', 1)"
            ),
            {"id": uuid.uuid4().hex, "ids": str(made)},
        )
    engine.dispose()
    upgrade_to_head(url)
    engine = make_index_engine(url)
    try:
        with engine.connect() as connection:
            owners = dict(connection.execute(sa.text("SELECT id, owner FROM image")).all())
            stars = set(connection.execute(sa.text("SELECT owner, image_id FROM favourite")).all())
            shown = {v for (v,) in connection.execute(sa.text("SELECT visibility FROM image"))}
            kinds = set(connection.execute(sa.text("SELECT kind, source_id FROM image")).all())
        assert owners == {made.hex: "user:alice", orphan.hex: "legacy"}
        assert stars == {("user:alice", made.hex), ("legacy", orphan.hex)}
        assert shown == {"shared"}  # as every image was before
        assert kinds == {("generated", None)}  # 0008: every image before lineage was generated
        assert _schema_diff(engine) == []
    finally:
        engine.dispose()
