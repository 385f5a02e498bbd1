"""The process-wide studio, rebuilt for one test from settings that point into its tmp_path."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from visionary_app.services import studio as studio_module
from visionary_app.services.kit.database import upgrade_to_head
from visionary_app.services.studio import Studio, get_studio
from visionary_app.settings import get_settings

__all__ = ["fresh_studio"]


def fresh_studio(
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    env: dict[str, str] | None = None,
    **settings: str,
) -> Studio:
    """A migrated, offline studio in `tmp_path`; `settings` become VISIONARY_* variables.

    `env` sets other variables as they are named (a provider SDK's own, like GEMINI_API_KEY).
    Every VISIONARY_/AZURE_/OPENAI_/GEMINI_/GOOGLE_/REFLEX_REDIS variable of the environment
    is removed first (monkeypatch puts them back); call `get_settings.cache_clear()` when the
    test ends.
    """
    for key in list(os.environ):
        if key.startswith(
            ("VISIONARY_", "AZURE_", "OPENAI_", "GEMINI_", "GOOGLE_", "REFLEX_REDIS")
        ):
            monkeypatch.delenv(key)
    for key, value in (env or {}).items():
        monkeypatch.setenv(key, value)
    monkeypatch.setenv("VISIONARY_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("VISIONARY_IMAGE_SIZE", "256x256")
    for key, value in settings.items():
        monkeypatch.setenv(f"VISIONARY_{key.upper()}", value)
    get_settings.cache_clear()
    upgrade_to_head(get_settings().resolved_database_url)
    monkeypatch.setattr(studio_module, "_studio", None)
    return get_studio()
