"""Assembles the configured provider, store, catalog and pipeline once per process."""

from __future__ import annotations

import threading
from dataclasses import dataclass

from visionary_app.services.azure_blob_store import AzureBlobStore
from visionary_app.services.blob_store import (
    BlobStore,
    LocalBlobStore,
    UrlSigner,
    load_or_create_key,
)
from visionary_app.services.catalog import Catalog
from visionary_app.services.database import make_engine
from visionary_app.services.generation import GenerationPipeline
from visionary_app.services.providers import ImageProvider, OfflineProvider
from visionary_app.settings import Settings, get_settings

__all__ = ["Studio", "build_studio", "get_studio"]


@dataclass
class Studio:
    """The services one running app uses, built from one Settings object."""

    settings: Settings
    provider: ImageProvider
    store: BlobStore
    catalog: Catalog
    pipeline: GenerationPipeline

    async def aclose(self) -> None:
        """Release network clients (the Azure store's HTTP session)."""
        close = getattr(self.store, "close", None)
        if close is not None:
            await close()
        self.catalog.dispose()

    @property
    def is_offline(self) -> bool:
        """Whether images come from the built-in offline provider."""
        return self.provider.name == "offline"


def build_provider(settings: Settings) -> ImageProvider:
    """The image provider named by the settings."""
    if settings.provider == "offline":
        return OfflineProvider(model=settings.image_model, latency_ms=settings.offline_latency_ms)
    msg = f"unknown image provider {settings.provider!r}; supported: offline"
    raise ValueError(msg)


def build_store(settings: Settings) -> BlobStore:
    """Azure when a connection string or account URL is set, else the local directory."""
    options = {
        "timeout_s": settings.storage_timeout_seconds,
        "retries": settings.storage_retries,
    }
    if settings.azure_storage_connection_string is not None:
        return AzureBlobStore.from_connection_string(
            settings.azure_storage_connection_string.get_secret_value(),
            settings.azure_container,
            settings.url_ttl_seconds,
            **options,
        )
    if settings.azure_storage_account_url:
        return AzureBlobStore.from_account_url(
            settings.azure_storage_account_url,
            settings.azure_container,
            settings.url_ttl_seconds,
            **options,
        )
    if settings.url_signing_key is not None:
        key = settings.url_signing_key.get_secret_value().encode()
    else:
        key = load_or_create_key(settings.data_dir / "url-signing.key")
    return LocalBlobStore(settings.images_dir, UrlSigner(key, settings.url_ttl_seconds))


def build_studio(settings: Settings) -> Studio:
    """Wire every service for `settings` (no network calls happen here)."""
    provider = build_provider(settings)
    store = build_store(settings)
    catalog = Catalog(make_engine(settings.resolved_database_url))
    width, height = settings.image_dimensions
    pipeline = GenerationPipeline(
        provider,
        store,
        catalog,
        width=width,
        height=height,
        max_prompt_length=settings.max_prompt_length,
        cleanup_timeout_s=settings.storage_timeout_seconds,
    )
    return Studio(settings, provider, store, catalog, pipeline)


_studio: Studio | None = None
_lock = threading.Lock()


def get_studio() -> Studio:
    """The process-wide studio, built on first use from `get_settings()`."""
    global _studio
    if _studio is None:
        with _lock:
            if _studio is None:
                _studio = build_studio(get_settings())
    return _studio
