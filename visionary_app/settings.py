"""Typed application settings, read from the environment and `.env` once, on first use."""

from __future__ import annotations

import re
from functools import lru_cache
from pathlib import Path

from pydantic import AliasChoices, Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

_SIZE_PATTERN = re.compile(r"^(\d{2,5})x(\d{2,5})$")


class Settings(BaseSettings):
    """Every knob of the app. Each field is documented in `.env.example`."""

    model_config = SettingsConfigDict(
        env_prefix="VISIONARY_",
        env_file=".env",
        env_file_encoding="utf-8",
        extra="ignore",
    )

    data_dir: Path = Field(
        default=Path("data"),
        description="Where the local image store, the SQLite index and the URL key live.",
    )
    database_url: str | None = Field(
        default=None,
        description="SQLAlchemy URL of the index; defaults to SQLite in data_dir.",
    )
    provider: str = Field(default="offline", description="Image provider to use.")
    image_model: str = Field(
        default="offline-preview", description="Model name sent to the provider."
    )
    image_size: str = Field(default="1024x1024", description="WIDTHxHEIGHT in pixels.")
    offline_latency_ms: int = Field(
        default=0, ge=0, le=600_000, description="Artificial delay of the offline provider."
    )
    max_prompt_length: int = Field(default=4000, ge=1, le=100_000)
    url_ttl_seconds: int = Field(
        default=1800, ge=10, le=7 * 24 * 3600, description="Lifetime of signed image URLs."
    )
    url_signing_key: SecretStr | None = Field(
        default=None,
        description="Key for signing local image URLs; generated into data_dir if unset.",
    )
    gallery_page_size: int = Field(default=50, ge=1, le=500)

    # Azure Blob Storage; the variable names are the ones Azure's own tools use.
    azure_storage_connection_string: SecretStr | None = Field(
        default=None,
        validation_alias=AliasChoices("AZURE_STORAGE_CONNECTION_STRING"),
        description="Account-key connection string (Azurite or Azure); selects the Azure store.",
    )
    azure_storage_account_url: str | None = Field(
        default=None,
        validation_alias=AliasChoices("AZURE_STORAGE_ACCOUNT_URL"),
        description="https://<account>.blob.core.windows.net, used with DefaultAzureCredential.",
    )
    azure_container: str = Field(
        default="images",
        pattern=r"^[a-z0-9][a-z0-9-]{1,61}[a-z0-9]$",
        description="Blob container for images; created private if missing.",
    )
    storage_timeout_seconds: float = Field(
        default=5.0, gt=0, le=300, description="Connect and read timeout of each storage call."
    )
    storage_retries: int = Field(default=1, ge=0, le=10)

    @field_validator("image_size")
    @classmethod
    def _check_size(cls, value: str) -> str:
        if not _SIZE_PATTERN.match(value):
            msg = f"image_size must look like 1024x1024, got {value!r}"
            raise ValueError(msg)
        return value

    @property
    def image_dimensions(self) -> tuple[int, int]:
        """The configured image size as (width, height)."""
        match = _SIZE_PATTERN.match(self.image_size)
        assert match is not None  # guaranteed by the validator
        return int(match.group(1)), int(match.group(2))

    @property
    def resolved_database_url(self) -> str:
        """The database URL, defaulting to a SQLite file inside the data directory."""
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.data_dir / 'visionary.db').resolve()}"

    @property
    def uses_azure(self) -> bool:
        """Whether images live in Azure Blob Storage rather than the local directory."""
        return bool(self.azure_storage_connection_string or self.azure_storage_account_url)

    @property
    def images_dir(self) -> Path:
        """Root directory of the local-directory blob store."""
        return self.data_dir / "blobs"


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings, validated on first call."""
    return Settings()
