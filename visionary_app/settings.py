"""Typed application settings, read from the environment and `.env` once, on first use."""

from __future__ import annotations

import re
from datetime import date
from functools import lru_cache
from pathlib import Path
from typing import Literal
from urllib.parse import urlsplit

from pydantic import AliasChoices, Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

_SIZE_PATTERN = re.compile(r"^(\d{2,5})x(\d{2,5})$")
# A key anyone could guess signs sessions anyone could forge: keys are at least this long.
MIN_KEY_BYTES = 32


def parse_users(text: str) -> dict[str, str]:
    """`name:password` pairs separated by commas or new lines; names are case-insensitive.

    A password may be an argon2 hash (`$argon2id$v=19$m=65536,t=3,p=4$...`), commas and all.
    """
    entries: list[str] = []
    for piece in text.replace("\n", ",").split(","):
        if entries and ":" not in piece and entries[-1].partition(":")[2].startswith("$argon2"):
            entries[-1] += "," + piece  # the commas inside a hash's parameters
        else:
            entries.append(piece)
    users: dict[str, str] = {}
    for entry in entries:
        if not entry.strip():
            continue
        name, separator, password = entry.strip().partition(":")
        if not separator or not name.strip() or not password:
            msg = "access users must look like name:password, separated by commas"
            raise ValueError(msg)
        users[name.strip().lower()] = password
    return users


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
    provider: Literal["auto", "offline", "openai", "openai-compatible", "azure-openai"] = Field(
        default="auto",
        description="Image provider; 'auto' picks from the OpenAI/Azure variables that are set.",
    )
    image_model: str | None = Field(
        default=None,
        description="Image model, or several separated by commas; default gpt-image-2 "
        "(offline-preview for the offline provider).",
    )
    models: str | None = Field(
        default=None,
        description="Which configured models the picker offers, in order (provider/model or "
        "a model name, separated by commas); the first is the default. Unset: all of them.",
    )
    # Google Gemini, through the google-genai SDK's own variables.
    gemini_api_key: SecretStr | None = Field(
        default=None, validation_alias=AliasChoices("GEMINI_API_KEY", "GOOGLE_API_KEY")
    )
    google_genai_use_vertexai: bool = Field(
        default=False, validation_alias=AliasChoices("GOOGLE_GENAI_USE_VERTEXAI")
    )
    google_cloud_project: str | None = Field(
        default=None, validation_alias=AliasChoices("GOOGLE_CLOUD_PROJECT")
    )
    google_cloud_location: str | None = Field(
        default=None, validation_alias=AliasChoices("GOOGLE_CLOUD_LOCATION")
    )
    gemini_base_url: str | None = Field(
        default=None, description="Another endpoint for the Gemini SDK (tests, proxies)."
    )
    comfyui_url: str | None = Field(
        default=None, description="A ComfyUI server (http://host:8188); setting it turns it on."
    )
    comfyui_auth_header: SecretStr | None = Field(
        default=None,
        description="A header every ComfyUI request carries, as 'Name: value' "
        "(e.g. 'Authorization: Bearer ...' for a server behind a proxy).",
    )
    comfyui_workflows_dir: Path | None = Field(
        default=None, description="A folder of API-format workflows to offer besides the built-in."
    )
    comfyui_checkpoints: str = Field(
        default="",
        description="Checkpoints to offer at once, separated by commas (more are found on "
        "the server).",
    )
    comfyui_steps: int = Field(default=20, ge=1, le=200)
    comfyui_usd_per_second: float = Field(
        default=0.0, ge=0, description="What a second of your own GPU costs (0: free)."
    )
    budget_usd_per_user_per_day: float = Field(default=0.0, ge=0, description="0: none.")
    budget_usd_per_user_per_month: float = Field(default=0.0, ge=0, description="0: none.")
    budget_usd_per_day: float = Field(default=0.0, ge=0, description="The whole studio; 0: none.")
    budget_usd_per_month: float = Field(default=0.0, ge=0, description="0: none.")
    budget_usd_visitors_per_day: float = Field(
        default=0.0, ge=0, description="All visitors without an account together; 0: none."
    )
    teams: str = Field(default="", description="Teams: design:alice,bob;ops:carol")
    team_budgets: str = Field(
        default="", description="Team budgets in dollars: design:20/day,200/month;ops:5/day"
    )
    prices_file: Path | None = Field(
        default=None,
        description="A JSON file of prices laid over the built-in table (dollars per million "
        "tokens, per image or per second).",
    )
    comfyui_negative_prompt: str = Field(default="blurry, low quality, watermark")
    replicate_api_token: SecretStr | None = Field(
        default=None, validation_alias=AliasChoices("REPLICATE_API_TOKEN")
    )
    replicate_models: str = Field(
        default="black-forest-labs/flux-schnell",
        description="Replicate models (owner/name) to offer, separated by commas.",
    )
    replicate_base_url: str | None = Field(
        default=None, description="Another endpoint for the Replicate client (tests, proxies)."
    )
    gemini_models: str = Field(
        default="gemini-2.5-flash-image",
        description="Gemini image models to offer, separated by commas.",
    )
    chat_model: str = Field(
        default="gpt-5.4-mini", description="Chat model that writes prompt suggestions."
    )
    provider_timeout_seconds: float = Field(default=120.0, gt=0, le=1800)
    provider_max_retries: int = Field(default=2, ge=0, le=10)
    azure_openai_image_deployment: str | None = Field(
        default=None, description="Azure deployment of the image model (default: its name)."
    )
    azure_openai_chat_deployment: str | None = Field(
        default=None, description="Azure deployment of the chat model (default: its name)."
    )

    # The openai SDK's own variable names.
    openai_api_key: SecretStr | None = Field(
        default=None, validation_alias=AliasChoices("OPENAI_API_KEY")
    )
    openai_base_url: str | None = Field(
        default=None, validation_alias=AliasChoices("OPENAI_BASE_URL")
    )
    azure_openai_endpoint: str | None = Field(
        default=None, validation_alias=AliasChoices("AZURE_OPENAI_ENDPOINT")
    )
    azure_openai_api_key: SecretStr | None = Field(
        default=None, validation_alias=AliasChoices("AZURE_OPENAI_API_KEY")
    )
    openai_api_version: str = Field(
        default="2025-04-01-preview", validation_alias=AliasChoices("OPENAI_API_VERSION")
    )
    image_size: str = Field(
        default="1024x1024",
        description="Size selected by default (WIDTHxHEIGHT), if the model offers it.",
    )
    offline_latency_ms: int = Field(
        default=0, ge=0, le=600_000, description="Artificial delay of the offline provider."
    )
    max_prompt_length: int = Field(default=4000, ge=1, le=100_000)
    partial_images: int = Field(
        default=2,
        ge=0,
        le=3,
        description="Previews streamed while an image forms (0: none), where the model streams.",
    )
    image_moderation: Literal["auto", "low"] = Field(
        default="auto", description="The provider's content-moderation level (GPT image models)."
    )
    output_format: Literal["png", "webp", "jpeg"] = Field(
        default="png", description="Format the provider returns, where the model offers several."
    )
    output_compression: int | None = Field(
        default=None, ge=0, le=100, description="Compression (0-100) of webp or jpeg output."
    )
    upload_max_bytes: int = Field(
        default=20 * 1024 * 1024, ge=1024, le=200 * 1024 * 1024, description="Largest upload."
    )
    upload_max_pixels: int = Field(
        default=8_294_400 * 2, ge=4096, le=100_000_000, description="Most pixels in an upload."
    )
    uploads_per_user_per_hour: int = Field(
        default=60, ge=0, description="Images one user may upload in an hour (0: no limit)."
    )
    url_ttl_seconds: int = Field(
        default=1800, ge=10, le=7 * 24 * 3600, description="Lifetime of signed image URLs."
    )
    url_signing_key: SecretStr | None = Field(
        default=None,
        description="Key for signing local image URLs; generated into data_dir if unset.",
    )
    gallery_page_size: int = Field(default=24, ge=1, le=500)
    thumbnail_size: int = Field(
        default=512, ge=64, le=2048, description="Longest side of gallery thumbnails, in pixels."
    )

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

    # Jobs, caps and cost limits (0 = no limit for the two cost limits).
    max_concurrent_generations: int = Field(
        default=4, ge=1, le=1000, description="Provider calls in flight at once, app-wide."
    )
    max_running_jobs_per_user: int = Field(
        default=2, ge=1, le=1000, description="Jobs one user may have running; more wait."
    )
    images_per_user_per_hour: int = Field(
        default=60, ge=0, description="Images one user may request in any hour (0: no limit)."
    )
    images_per_day: int = Field(
        default=1000, ge=0, description="Images the whole app may make in any 24 h (0: no limit)."
    )
    anonymous_images_per_hour: int = Field(
        default=200,
        ge=0,
        description="Images all visitors without an account may make together in any hour.",
    )
    anonymous_images_per_address_per_hour: int = Field(
        default=60,
        ge=0,
        description="Images visitors without an account may make from one address in any hour "
        "(a new cookie is a new visitor, not a new address; 0: no limit).",
    )
    max_queued_jobs_per_user: int = Field(
        default=10, ge=0, le=10_000, description="Jobs one user may have waiting or running."
    )
    suggestions_per_user_per_hour: int = Field(
        default=30, ge=0, description="Prompt suggestions (a paid chat call) per user per hour."
    )
    anonymous_suggestions_per_hour: int = Field(
        default=100, ge=0, description="Suggestions all visitors without an account may ask for."
    )
    # Optional access control: with either set, the app asks people to sign in.
    access_password: SecretStr | None = Field(
        default=None, description="One shared password for everyone (each browser a user)."
    )
    access_users: SecretStr | None = Field(
        default=None, description="name:password pairs, comma-separated; limits are per name."
    )
    session_secret: SecretStr | None = Field(
        default=None,
        description="Signs sign-in sessions; generated into data_dir if unset (set it when "
        "workers run on several hosts).",
    )
    session_hours: int = Field(default=12, ge=1, le=24 * 90, description="Sign-in lifetime.")
    # Single sign-on with OpenID Connect (Microsoft Entra ID or any OIDC provider).
    oidc_issuer: str | None = Field(
        default=None, description="The provider's issuer URL; setting it turns single sign-on on."
    )
    oidc_client_id: str | None = None
    oidc_client_secret: SecretStr | None = None
    oidc_scopes: str = "openid profile email"
    oidc_name_claim: str = Field(
        default="preferred_username", description="The claim that names the user (then email)."
    )
    oidc_admin_claim: str | None = Field(
        default=None, description="A claim (e.g. roles or groups) that makes admins..."
    )
    oidc_teams_claim: str | None = Field(
        default=None, description="The ID token claim that lists a user's teams (e.g. groups)."
    )
    oidc_admin_value: str = Field(default="admin", description="...when it holds this value.")
    oidc_label: str = Field(default="single sign-on", description="Named on the sign-in button.")
    sign_in_attempts_per_minute: int = Field(
        default=5,
        ge=1,
        le=10_000,
        description="Sign-in attempts at one name from one address in a minute.",
    )
    sign_in_attempts_per_hour: int = Field(
        default=20,
        ge=1,
        le=100_000,
        description="Sign-in attempts at one name from one address in an hour.",
    )
    sign_in_attempts_per_name_per_hour: int = Field(
        default=100,
        ge=1,
        le=1_000_000,
        description="Attempts at one name from everywhere in an hour before they are slowed "
        "(never refused: the owner still signs in).",
    )
    trusted_proxy_hops: int = Field(
        default=0,
        ge=0,
        le=10,
        description="Reverse proxies in front of the app whose X-Forwarded-For is trusted (1 "
        "behind Caddy); 0: the connecting address is the client's.",
    )
    serve_pages: bool = Field(
        default=False,
        description="A backend-only process (behind Caddy) answers the compiled pages as well, "
        "with its security headers and visitor cookie (the build in .web/build/client).",
    )
    public_url: str | None = Field(
        default=None,
        description="Where people open the app (https://studio.example.com): the one other "
        "origin whose pages may call it; same-origin requests are always allowed.",
    )
    # Reflex's own variable: with it, several workers share state, and sign-in attempts.
    redis_url: str | None = Field(default=None, validation_alias=AliasChoices("REFLEX_REDIS_URL"))
    # Owners and privacy.
    default_visibility: Literal["private", "shared"] = Field(
        default="shared",
        description="Who sees a new image: its owner only (private) or everyone (shared).",
    )
    admins: str = Field(
        default="",
        description="User names (comma-separated) who may delete or hide anyone's shared image.",
    )
    api_tokens: SecretStr | None = Field(
        default=None,
        description="name=token pairs that may use the HTTP API (needed when sign-in is off).",
    )
    metrics_token: SecretStr | None = Field(
        default=None, description="Bearer token a Prometheus scraper sends to /metrics (off unset)."
    )
    log_format: Literal["text", "json"] = Field(
        default="text", description="json: one JSON object per line, with job id and owner."
    )
    job_stale_seconds: int = Field(
        default=60, ge=10, le=3600, description="A job silent this long has lost its worker."
    )
    drain_seconds: int = Field(
        default=60,
        ge=0,
        le=3600,
        description="On SIGTERM, how long running jobs may finish before going back to the queue.",
    )
    retry_lost_jobs: bool = Field(
        default=True,
        description="Run a job once more when its worker vanished mid-call (counted as a call).",
    )
    share_links_may_never_expire: bool = Field(
        default=False,
        description="Offer share links that never expire (an admin's choice); otherwise they "
        "last an hour, a day or a week.",
    )
    share_page_rate: str = Field(
        default="120/minute",
        description="How often one address may open share pages and their images.",
    )
    webhooks_allow_private: bool = Field(
        default=False,
        description="Let webhooks reach private, loopback and link-local addresses (an admin's "
        "choice, for a receiver inside the network).",
    )
    webhook_retry_seconds: str = Field(
        default="10,60,300,1800,7200",
        pattern=r"^\s*\d+(\.\d+)?(\s*,\s*\d+(\.\d+)?)*\s*$",
        description="The waits before each further attempt at a webhook delivery.",
    )
    webhook_timeout_seconds: float = Field(
        default=10.0, gt=0, le=60, description="How long a webhook receiver has to answer."
    )

    @field_validator("access_users")
    @classmethod
    def _check_users(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None:
            parse_users(value.get_secret_value())
        return value

    @field_validator("api_tokens")
    @classmethod
    def _check_api_tokens(cls, value: SecretStr | None) -> SecretStr | None:
        from visionary_app.services.access.api_tokens import parse_configured_tokens

        if value is not None:
            parse_configured_tokens(value.get_secret_value())
        return value

    @field_validator(
        "session_secret", "url_signing_key", "oidc_issuer", "oidc_client_id", "oidc_admin_claim",
        "api_tokens", "metrics_token", mode="before",
    )  # fmt: skip
    @classmethod
    def _blank_is_unset(cls, value: object) -> object:
        # An uncommented `VISIONARY_SESSION_SECRET=` line means "not set", not "sign with ''".
        if isinstance(value, str) and not value.strip():
            return None
        return value

    @field_validator("session_secret", "url_signing_key")
    @classmethod
    def _check_key_length(cls, value: SecretStr | None, info) -> SecretStr | None:
        if value is not None and len(value.get_secret_value().encode()) < MIN_KEY_BYTES:
            name = f"VISIONARY_{info.field_name.upper()}"
            msg = (
                f"{name} is shorter than {MIN_KEY_BYTES} bytes, so sessions or links signed "
                "with it could be forged. Use a random value, e.g. the output of "
                "`python -c 'import secrets; print(secrets.token_hex(32))'`, or leave it "
                "empty to have one generated into the data directory."
            )
            raise ValueError(msg)
        return value

    @field_validator("image_size")
    @classmethod
    def _check_size(cls, value: str) -> str:
        if not _SIZE_PATTERN.match(value):
            msg = f"image_size must look like 1024x1024, got {value!r}"
            raise ValueError(msg)
        return value

    @model_validator(mode="after")
    def _model_not_shut_down(self) -> Settings:
        # Refused here, when the app starts, with the replacement named (not on first use).
        from visionary_app.services.generation.providers.capabilities import retirement_notice

        for model in self.resolved_image_models:
            retirement_notice(model, provider=self.resolved_provider, today=date.today())
        return self

    @property
    def resolved_database_url(self) -> str:
        """The database URL, defaulting to a SQLite file inside the data directory."""
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.data_dir / 'visionary.db').resolve()}"

    @property
    def resolved_provider(self) -> str:
        """The provider in use: the explicit setting, or what the set variables point to."""
        if self.provider != "auto":
            return self.provider
        if self.azure_openai_endpoint:
            return "azure-openai"
        if self.openai_base_url:
            return "openai-compatible"
        if self.openai_api_key:
            return "openai"
        return "offline"

    @property
    def resolved_image_models(self) -> list[str]:
        """The OpenAI-family (or offline) image models, defaulting by provider."""
        names = [name.strip() for name in (self.image_model or "").split(",") if name.strip()]
        if names:
            return list(dict.fromkeys(names))
        return ["offline-preview" if self.resolved_provider == "offline" else "gpt-image-2"]

    @property
    def resolved_image_model(self) -> str:
        """The first of `resolved_image_models`."""
        return self.resolved_image_models[0]

    @property
    def gemini_enabled(self) -> bool:
        """Whether Gemini is configured: a key, or Vertex AI with a project."""
        if self.google_genai_use_vertexai:
            return bool(self.google_cloud_project)
        return self.gemini_api_key is not None

    @property
    def resolved_gemini_models(self) -> list[str]:
        """The Gemini image models to offer (none unless Gemini is configured)."""
        if not self.gemini_enabled:
            return []
        names = [name.strip() for name in self.gemini_models.split(",") if name.strip()]
        return list(dict.fromkeys(names))

    @property
    def comfyui_headers(self) -> dict[str, str]:
        """The auth header as a dict ({} when none is set)."""
        if self.comfyui_auth_header is None:
            return {}
        name, _, value = self.comfyui_auth_header.get_secret_value().partition(":")
        if not name.strip() or not value.strip():
            msg = "VISIONARY_COMFYUI_AUTH_HEADER must look like 'Name: value'"
            raise ValueError(msg)
        return {name.strip(): value.strip()}

    @property
    def resolved_replicate_models(self) -> list[str]:
        """The Replicate models to offer (none without a token)."""
        if self.replicate_api_token is None:
            return []
        names = [name.strip() for name in self.replicate_models.split(",") if name.strip()]
        return list(dict.fromkeys(names))

    @property
    def model_order(self) -> list[str]:
        """`VISIONARY_MODELS` as a list (empty: every configured model, as built)."""
        return [name.strip() for name in (self.models or "").split(",") if name.strip()]

    @property
    def allowed_origins(self) -> tuple[str, ...]:
        """Origins besides the app's own whose pages may call it (Reflex's CORS list).

        The public URL when set; otherwise the dev server's (`reflex run` serves the pages on
        port 3000 and answers events on 8000). Same-origin calls need no entry.
        """
        if self.public_url:
            parts = urlsplit(self.public_url.strip())
            return (f"{parts.scheme.lower()}://{parts.netloc.lower()}",)
        return ("http://localhost:3000", "http://127.0.0.1:3000")

    @property
    def admin_names(self) -> frozenset[str]:
        """The admins' user names, lower case (names are case-insensitive)."""
        names = self.admins.replace("\n", ",").split(",")
        return frozenset(name.strip().lower() for name in names if name.strip())

    @property
    def images_dir(self) -> Path:
        """Root directory of the local-directory blob store."""
        return self.data_dir / "blobs"


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings, validated on first call."""
    return Settings()
