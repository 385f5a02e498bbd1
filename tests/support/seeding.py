"""Images stored straight into a running app's store and index, through its own pipeline."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from tests.support.environ import environ_set
from visionary_app.models import LEGACY_OWNER

__all__ = ["store_images"]


async def store_images(
    app_env: Mapping[str, str],
    prompts: Iterable[str],
    size: str | None = None,
    *,
    owner: str = LEGACY_OWNER,
) -> None:
    """Generate `prompts` offline (no latency) with the app's settings, into its store and index.

    They belong to `owner` (by default nobody who can sign in) and get the app's default
    visibility.

    The settings are read from the app's VISIONARY_/AZURE_ variables, set only while the
    studio is built, so this process's own environment is left as it was.
    """
    from visionary_app.services.studio import build_studio
    from visionary_app.settings import Settings

    settings_env = {k: v for k, v in app_env.items() if k.startswith(("VISIONARY_", "AZURE_"))}
    with environ_set(settings_env):
        overrides = {"image_size": size} if size else {}
        studio = build_studio(Settings(_env_file=None, offline_latency_ms=0, **overrides))
    try:
        for prompt in prompts:
            await studio.pipeline.generate(prompt, owner=owner)
    finally:
        await studio.aclose()
