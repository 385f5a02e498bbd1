from concurrent.futures import ThreadPoolExecutor

import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlmodel import SQLModel

import visionary_app.models  # noqa: F401
from alembic import command
from visionary_app.services.database import alembic_config, make_engine, upgrade_to_head


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
    engine = make_engine(postgres_url)
    try:
        assert _schema_diff(engine) == []
    finally:
        engine.dispose()


def test_workers_starting_together_migrate_once(tmp_path):
    url = f"sqlite:///{tmp_path / 'fresh.db'}"
    with ThreadPoolExecutor(max_workers=4) as pool:
        list(pool.map(lambda _: upgrade_to_head(url), range(4)))
    engine = make_engine(url)
    try:
        assert _schema_diff(engine) == []
    finally:
        engine.dispose()


def test_workers_starting_together_migrate_once_on_postgres(postgres_url):
    # The fixture migrated its schema; take it back to nothing and race four upgrades.
    engine = make_engine(postgres_url)
    try:
        command.downgrade(alembic_config(postgres_url), "base")
        with ThreadPoolExecutor(max_workers=4) as pool:
            list(pool.map(lambda _: upgrade_to_head(postgres_url), range(4)))
        assert _schema_diff(engine) == []
    finally:
        engine.dispose()
