"""Shared plumbing every room uses: database engines, process metrics and secret keys."""

from visionary_app.services.kit.database import (
    alembic_config,
    database_now,
    in_connection_now,
    in_session,
    in_session_now,
    make_engine,
    upgrade_to_head,
)
from visionary_app.services.kit.metrics import (
    GALLERY_QUERY_SECONDS,
    LIVE_UPDATE_SECONDS,
    OPEN_TABS,
    REGISTRY,
)
from visionary_app.services.kit.secret_keys import KeyFileError, load_or_create_key

__all__ = [
    "GALLERY_QUERY_SECONDS",
    "LIVE_UPDATE_SECONDS",
    "OPEN_TABS",
    "REGISTRY",
    "KeyFileError",
    "alembic_config",
    "database_now",
    "in_connection_now",
    "in_session",
    "in_session_now",
    "load_or_create_key",
    "make_engine",
    "upgrade_to_head",
]
