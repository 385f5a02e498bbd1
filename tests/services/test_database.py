import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlmodel import SQLModel

import visionary_app.models  # noqa: F401
from visionary_app.services.database import make_engine, upgrade_to_head


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
