"""Assembles the configured providers, store, catalog and pipeline once per process."""

from __future__ import annotations

import asyncio
import logging
import os
import threading
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from visionary_app.models import Visibility
from visionary_app.services.access.api_tokens import ApiTokens, parse_configured_tokens
from visionary_app.services.access.oidc import OidcClient, OidcConfig
from visionary_app.services.access.request_limits import AddressLimiter
from visionary_app.services.access.session_store import SessionStore
from visionary_app.services.access.sessions import AccessControl
from visionary_app.services.access.sign_in_limits import SignInLimiter
from visionary_app.services.access.teams import TeamDirectory
from visionary_app.services.gallery.boards import Boards
from visionary_app.services.gallery.catalog import Catalog, make_index_engine
from visionary_app.services.gallery.live_feed import LiveFeed, LocalFeed, make_feed
from visionary_app.services.gallery.sharing import ShareLinks
from visionary_app.services.generation.job_events import RESYNC, JobEvents, JobNews
from visionary_app.services.generation.model_menu import ModelMenu
from visionary_app.services.generation.pipeline import GenerationPipeline
from visionary_app.services.generation.presets import Presets
from visionary_app.services.generation.providers import ImageProvider, OfflineProvider
from visionary_app.services.generation.providers.base import (
    PROVIDER_LABELS,
    ProviderError,
    public_host,
)
from visionary_app.services.generation.providers.capabilities import (
    COMFYUI,
    capabilities_for,
)
from visionary_app.services.generation.providers.comfyui import (
    ComfyUIClient,
    ComfyUISource,
    load_workflows,
)
from visionary_app.services.generation.queue import JobQueue
from visionary_app.services.generation.runner import JobRunner
from visionary_app.services.generation.suggestions import (
    ChatSuggester,
    OfflineSuggester,
    PromptSuggester,
)
from visionary_app.services.generation.uploads import UploadLimits, Uploads
from visionary_app.services.kit.secret_keys import load_or_create_key
from visionary_app.services.limits.budgets import Budgets, parse_team_budgets
from visionary_app.services.limits.image_limits import JobLimits
from visionary_app.services.limits.prices import Pricing, load_prices
from visionary_app.services.limits.spend import SpendLedger
from visionary_app.services.limits.usage import UsageMeter
from visionary_app.services.storage.blob_store import BlobStore
from visionary_app.services.storage.local_blob_store import LocalBlobStore
from visionary_app.services.storage.url_signing import UrlSigner
from visionary_app.services.webhooks import Webhooks
from visionary_app.settings import Settings, get_settings, parse_users

if TYPE_CHECKING:
    import openai

__all__ = ["Studio", "build_studio", "get_studio"]

logger = logging.getLogger(__name__)


@dataclass
class Studio:
    """The services one running app uses, built from one Settings object."""

    settings: Settings
    models: ModelMenu
    suggester: PromptSuggester
    store: BlobStore
    catalog: Catalog
    pipeline: GenerationPipeline
    jobs: JobQueue
    runner: JobRunner
    access: AccessControl
    suggestion_meter: UsageMeter
    sign_in_limiter: SignInLimiter
    single_sign_on: OidcClient | None
    uploads: Uploads
    api_tokens: ApiTokens
    feed: LiveFeed = field(default_factory=LocalFeed)
    # Where more models are found once the app runs (a ComfyUI server's checkpoints).
    model_sources: list[ComfyUISource] = field(default_factory=list)
    spend: SpendLedger | None = None
    teams: TeamDirectory | None = None
    webhooks: Webhooks | None = None
    boards: Boards | None = None
    share_links: ShareLinks | None = None
    share_limiter: AddressLimiter | None = None
    presets: Presets | None = None
    # Signs the tickets with which a page downloads a zip of images (gallery.archive).
    archive_key: bytes = b""
    sessions: SessionStore | None = None

    @property
    def allowed_origins(self) -> frozenset[str]:
        """Origins besides the app's own whose pages may call it (see Settings)."""
        return frozenset(self.settings.allowed_origins)

    async def aclose(self) -> None:
        """Release network clients (the Azure store's HTTP session, the feed's Redis)."""
        await self.feed.close()
        await self.runner.events.close()
        await self.store.close()
        self.catalog.dispose()

    async def discover_models(self) -> int:
        """Ask each model source for its models and offer the new ones; how many were added.

        Raises ProviderError when a source cannot be read.
        """
        added = 0
        for source in self.model_sources:
            added += len(self.models.add(await source.discover()))
        return added

    async def keep_discovering_models(self, retry_s: float = 10.0, every_s: float = 600.0):
        """`discover_models` now, again soon while a source does not answer, then now and then."""
        while self.model_sources:
            try:
                added = await self.discover_models()
            except ProviderError as exc:
                logger.warning("could not read the models of a provider: %s", exc)
                await asyncio.sleep(retry_s)
                continue
            if added:
                logger.info("offering %d more model(s) found on a provider", added)
            await asyncio.sleep(every_s)

    @property
    def is_offline(self) -> bool:
        """Whether every image comes from the built-in offline provider."""
        return all(choice.provider.name == "offline" for choice in self.models)


def _openai_client(settings: Settings) -> tuple[openai.AsyncOpenAI, str]:
    """The SDK client for the configured provider, and the provider's name for users."""
    import openai

    common = {
        "timeout": settings.provider_timeout_seconds,
        "max_retries": settings.provider_max_retries,
    }
    provider = settings.resolved_provider
    if provider == "azure-openai":
        if not settings.azure_openai_endpoint:
            msg = "the azure-openai provider needs AZURE_OPENAI_ENDPOINT"
            raise ValueError(msg)
        key = settings.azure_openai_api_key
        if settings.azure_openai_endpoint.rstrip("/").endswith("/openai/v1"):
            # Azure's v1 API: OpenAI's own paths and client, no api-version; the model
            # named in each request is the deployment.
            client = openai.AsyncOpenAI(
                base_url=settings.azure_openai_endpoint.rstrip("/") + "/",
                api_key=key.get_secret_value() if key else "",
                default_headers={"api-key": key.get_secret_value()} if key else None,
                **common,
            )
            return client, PROVIDER_LABELS[provider]
        client = openai.AsyncAzureOpenAI(
            azure_endpoint=settings.azure_openai_endpoint,
            api_key=key.get_secret_value() if key else None,
            api_version=settings.openai_api_version,
            **common,
        )
        return client, PROVIDER_LABELS[provider]
    key = settings.openai_api_key
    if provider == "openai-compatible":
        if not settings.openai_base_url:
            msg = "the openai-compatible provider needs OPENAI_BASE_URL"
            raise ValueError(msg)
        client = openai.AsyncOpenAI(
            base_url=settings.openai_base_url,
            # Many self-hosted servers need no key; the SDK insists on one.
            api_key=key.get_secret_value() if key else "not-needed",
            **common,
        )
        return client, public_host(settings.openai_base_url) or "the image server"
    if key is None:
        msg = "the openai provider needs OPENAI_API_KEY"
        raise ValueError(msg)
    client = openai.AsyncOpenAI(
        api_key=key.get_secret_value(), base_url=settings.openai_base_url, **common
    )
    return client, PROVIDER_LABELS[provider]


def build_models(
    settings: Settings, comfyui: ComfyUISource | None = None
) -> tuple[ModelMenu, PromptSuggester]:
    """Every configured provider's models, in `VISIONARY_MODELS` order, and the suggester.

    The OpenAI family (or, with none of its variables set, the offline provider) comes first,
    then Gemini. The offline provider is left out when another provider is configured, unless
    `VISIONARY_PROVIDER=offline` asks for it. `comfyui` is the ComfyUI source to offer
    (built from the settings when not given).
    """
    providers, suggester = build_openai_family(settings)
    providers += build_gemini(settings)
    providers += build_replicate(settings)
    comfyui = comfyui or build_comfyui(settings)
    if comfyui is not None:
        providers += comfyui.providers()
    if len(providers) > 1 and settings.provider == "auto":
        providers = [provider for provider in providers if provider.name != "offline"]
    return ModelMenu(providers, settings.model_order), suggester


def build_replicate(settings: Settings) -> list[ImageProvider]:
    """One provider per configured Replicate model, sharing the official client."""
    models = settings.resolved_replicate_models
    if not models:
        return []
    import httpx
    import replicate

    from visionary_app.services.generation.providers.replicate_models import ReplicateProvider

    client = replicate.Client(
        api_token=settings.replicate_api_token.get_secret_value(),
        base_url=settings.replicate_base_url,
        timeout=httpx.Timeout(settings.provider_timeout_seconds, connect=10.0),
    )
    return [
        ReplicateProvider(
            client,
            model=model,
            capabilities=capabilities_for(model, provider="replicate"),
            timeout_s=settings.provider_timeout_seconds,
        )
        for model in models
    ]


def build_comfyui(settings: Settings) -> ComfyUISource | None:
    """The ComfyUI server's workflows and known checkpoints, when one is configured."""
    if not settings.comfyui_url:
        return None
    client = ComfyUIClient(
        settings.comfyui_url,
        headers=settings.comfyui_headers,
        timeout_s=settings.provider_timeout_seconds,
    )
    checkpoints = [name.strip() for name in settings.comfyui_checkpoints.split(",")]
    return ComfyUISource(
        client,
        load_workflows(settings.comfyui_workflows_dir),
        COMFYUI,
        checkpoints=[name for name in checkpoints if name],
        steps=settings.comfyui_steps,
        negative_prompt=settings.comfyui_negative_prompt,
    )


def build_gemini(settings: Settings) -> list[ImageProvider]:
    """One provider per configured Gemini model, sharing one SDK client."""
    models = settings.resolved_gemini_models
    if not models:
        return []
    # Imported only when Gemini is configured: the SDK adds 16-19 MB to every worker.
    from google import genai
    from google.genai import types

    from visionary_app.services.generation.providers.gemini import GeminiImageProvider

    http_options = types.HttpOptions(
        timeout=int(settings.provider_timeout_seconds * 1000),
        retry_options=types.HttpRetryOptions(attempts=settings.provider_max_retries + 1),
        base_url=settings.gemini_base_url,
    )
    if settings.google_genai_use_vertexai:
        client = genai.Client(
            vertexai=True,
            project=settings.google_cloud_project,
            location=settings.google_cloud_location or "global",
            http_options=http_options,
        )
    else:
        key = settings.gemini_api_key
        client = genai.Client(
            api_key=key.get_secret_value() if key else None, http_options=http_options
        )
    return [
        GeminiImageProvider(
            client,
            model=model,
            capabilities=capabilities_for(model, provider="gemini"),
            label="Vertex AI" if settings.google_genai_use_vertexai else "Google Gemini",
            timeout_s=settings.provider_timeout_seconds,
        )
        for model in models
    ]


def build_openai_family(settings: Settings) -> tuple[list[ImageProvider], PromptSuggester]:
    """The offline provider, or OpenAI / Azure OpenAI / a compatible server: one per model."""
    provider = settings.resolved_provider
    if provider == "offline":
        offline = [
            OfflineProvider(
                model=model,
                latency_ms=settings.offline_latency_ms,
                partial_images=settings.partial_images,
            )
            for model in settings.resolved_image_models
        ]
        return offline, OfflineSuggester()
    # Imported only when configured, as the other providers' SDKs are (openai: about 30 MB).
    from visionary_app.services.generation.providers.openai_images import (
        OpenAIImageProvider,
        OutputSettings,
    )

    client, label = _openai_client(settings)
    azure = provider == "azure-openai"
    image_providers: list[ImageProvider] = [
        OpenAIImageProvider(
            client,
            name=provider,
            label=label,
            model=model,
            capabilities=capabilities_for(model, provider=provider),
            # One Azure deployment name serves the first model; others use their own names.
            deployment=settings.azure_openai_image_deployment if azure and index == 0 else None,
            output=OutputSettings(
                partial_images=settings.partial_images,
                moderation=settings.image_moderation,
                output_format=settings.output_format,
                output_compression=settings.output_compression,
            ),
        )
        for index, model in enumerate(settings.resolved_image_models)
    ]
    chat_model = (
        (settings.azure_openai_chat_deployment or settings.chat_model)
        if azure
        else settings.chat_model
    )
    suggester = ChatSuggester(
        client, model=chat_model, label=label, timeout_s=settings.provider_timeout_seconds
    )
    return image_providers, suggester


def build_store(settings: Settings) -> BlobStore:
    """Azure when a connection string or account URL is set, else the local directory."""
    if settings.azure_storage_connection_string is not None or settings.azure_storage_account_url:
        return _azure_store(settings)
    if settings.url_signing_key is not None:
        key = settings.url_signing_key.get_secret_value().encode()
    else:
        key = load_or_create_key(settings.data_dir / "url-signing.key", "URL signing key")
    return LocalBlobStore(settings.images_dir, UrlSigner(key, settings.url_ttl_seconds))


def _azure_store(settings: Settings) -> BlobStore:
    """The Azure container, by connection string (a key) or account URL (Entra ID)."""
    # Imported only when Azure is configured: its SDK adds about 20 MB to every worker.
    from visionary_app.services.storage.azure_blob_store import AzureBlobStore

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
    return AzureBlobStore.from_account_url(
        settings.azure_storage_account_url,
        settings.azure_container,
        settings.url_ttl_seconds,
        **options,
    )


def _identity_key(settings: Settings) -> bytes:
    """The key that hashes owners into the provider's safety identifier.

    A configured secret (the same on every host) keeps the identifier stable across workers;
    without one, a key made once in the data directory does on one host.
    """
    for secret in (settings.session_secret, settings.url_signing_key):
        if secret is not None:
            return b"safety identifier\x00" + secret.get_secret_value().encode()
    if settings.resolved_provider == "offline":
        return b""  # nothing leaves the machine
    return load_or_create_key(settings.data_dir / "safety-identifier.key", "safety identifier key")


def build_studio(settings: Settings) -> Studio:
    """Wire every service for `settings` (no network calls happen here)."""
    comfyui = build_comfyui(settings)
    models, suggester = build_models(settings, comfyui)
    store = build_store(settings)
    engine = make_index_engine(settings.resolved_database_url)
    feed = make_feed(settings.redis_url, settings.resolved_database_url)
    catalog = Catalog(engine, feed)
    pipeline = GenerationPipeline(
        models,
        store,
        catalog,
        max_prompt_length=settings.max_prompt_length,
        default_size=settings.image_size,
        thumbnail_size=settings.thumbnail_size,
        cleanup_timeout_s=settings.storage_timeout_seconds,
        default_visibility=Visibility(settings.default_visibility),
        identity_key=_identity_key(settings),
    )
    limits = JobLimits(
        max_concurrent=settings.max_concurrent_generations,
        max_running_per_owner=settings.max_running_jobs_per_user,
        images_per_owner_per_hour=settings.images_per_user_per_hour,
        images_per_day=settings.images_per_day,
        max_queued_per_owner=settings.max_queued_jobs_per_user,
        anonymous_images_per_hour=settings.anonymous_images_per_hour,
        anonymous_images_per_address_per_hour=settings.anonymous_images_per_address_per_hour,
    )
    budgets = build_budgets(settings)
    webhooks = Webhooks(
        engine, _webhook_key(settings), allow_private=settings.webhooks_allow_private,
        retry_after_s=tuple(float(s) for s in settings.webhook_retry_seconds.split(",")),
        timeout_s=settings.webhook_timeout_seconds,
    )  # fmt: skip
    jobs = JobQueue(engine, limits, feed=feed, budgets=budgets, on_end=webhooks.record_job_end)
    access = build_access(settings)
    suggestion_meter = UsageMeter(
        engine, "suggestion",
        per_owner_per_hour=settings.suggestions_per_user_per_hour,
        anonymous_per_hour=settings.anonymous_suggestions_per_hour,
    )  # fmt: skip
    pricing = Pricing(load_prices(settings.prices_file, settings.comfyui_usd_per_second))
    news = make_feed(
        settings.redis_url, settings.resolved_database_url,
        topic="jobs", decode=JobNews.from_json, resync=RESYNC,
    )  # fmt: skip
    boards = Boards(catalog, store)
    runner = JobRunner(
        jobs, pipeline, pricing=pricing, events=JobEvents(news),
        retry_lost=settings.retry_lost_jobs, boards=boards,
    )  # fmt: skip
    return Studio(
        settings, models, suggester, store, catalog, pipeline, jobs,
        runner, access, suggestion_meter,
        SignInLimiter(
            settings.redis_url,
            per_minute=settings.sign_in_attempts_per_minute,
            per_hour=settings.sign_in_attempts_per_hour,
            per_name_per_hour=settings.sign_in_attempts_per_name_per_hour,
        ),
        build_single_sign_on(settings, access),
        Uploads(
            pipeline,
            UsageMeter(engine, "upload", per_owner_per_hour=settings.uploads_per_user_per_hour,
                       anonymous_per_hour=settings.uploads_per_user_per_hour),
            UploadLimits(settings.upload_max_bytes, settings.upload_max_pixels),
        ),
        ApiTokens(
            engine,
            users_may_have_tokens=bool(access.users) or access.single_sign_on,
            configured=parse_configured_tokens(
                settings.api_tokens.get_secret_value() if settings.api_tokens else ""
            ),
            admins=settings.admin_names,
        ),
        feed,
        [comfyui] if comfyui is not None else [],
        spend=SpendLedger(engine, budgets, models.default.key),
        teams=TeamDirectory(engine),
        webhooks=webhooks,
        boards=boards,
        share_links=ShareLinks(
            catalog, boards, never_allowed=settings.share_links_may_never_expire
        ),
        archive_key=_archive_key(settings),
        presets=Presets(engine),
        share_limiter=AddressLimiter(
            settings.redis_url, settings.share_page_rate, namespace="visionary-share"
        ),
        sessions=SessionStore(engine, access),
    )  # fmt: skip


def build_budgets(settings: Settings) -> Budgets:
    """The money budgets the settings set (micro-dollars)."""
    teams, team_daily, team_monthly = parse_team_budgets(settings.teams, settings.team_budgets)

    def micros(dollars: float) -> int:
        return round(dollars * 1_000_000)

    return Budgets(
        user_per_day=micros(settings.budget_usd_per_user_per_day),
        user_per_month=micros(settings.budget_usd_per_user_per_month),
        app_per_day=micros(settings.budget_usd_per_day),
        app_per_month=micros(settings.budget_usd_per_month),
        visitors_per_day=micros(settings.budget_usd_visitors_per_day),
        teams=teams,
        team_per_day=team_daily,
        team_per_month=team_monthly,
    )


def _archive_key(settings: Settings) -> bytes:
    """What zip download tickets are signed with: from the session secret, else a key file."""
    if settings.session_secret is not None:
        return b"archive\x00" + settings.session_secret.get_secret_value().encode()
    return load_or_create_key(settings.data_dir / "archive.key", "archive key")


def _webhook_key(settings: Settings) -> bytes:
    """What webhook secrets are derived from: the session secret if set, else a key file."""
    if settings.session_secret is not None:
        return b"webhooks\x00" + settings.session_secret.get_secret_value().encode()
    return load_or_create_key(settings.data_dir / "webhook.key", "webhook key")


def build_access(settings: Settings) -> AccessControl:
    """Who may sign in (nobody needs to, unless a password or users are configured)."""
    if settings.session_secret is not None:
        key = settings.session_secret.get_secret_value().encode()
    elif settings.access_password or settings.access_users or settings.oidc_issuer:
        key = load_or_create_key(settings.data_dir / "session.key", "session key")
    else:
        key = b""
    users = settings.access_users
    return AccessControl(
        key=key,
        shared_password=(
            settings.access_password.get_secret_value() if settings.access_password else None
        ),
        users=parse_users(users.get_secret_value()) if users else {},
        session_seconds=settings.session_hours * 3600,
        single_sign_on=settings.oidc_issuer is not None,
    )


def build_single_sign_on(settings: Settings, access: AccessControl) -> OidcClient | None:
    """The OpenID Connect client, when an issuer is configured."""
    if settings.oidc_issuer is None:
        return None
    if not settings.oidc_client_id:
        msg = "single sign-on needs VISIONARY_OIDC_CLIENT_ID as well as VISIONARY_OIDC_ISSUER"
        raise ValueError(msg)
    secret = settings.oidc_client_secret
    config = OidcConfig(
        issuer=settings.oidc_issuer,
        client_id=settings.oidc_client_id,
        client_secret=secret.get_secret_value() if secret else None,
        scopes=settings.oidc_scopes,
        name_claims=(settings.oidc_name_claim, "email", "sub"),
        admin_claim=settings.oidc_admin_claim,
        admin_value=settings.oidc_admin_value,
        teams_claim=settings.oidc_teams_claim,
    )
    return OidcClient(config, access.key)


_studio: Studio | None = None
_studio_pid = 0
_lock = threading.Lock()


def get_studio() -> Studio:
    """The process-wide studio, built on first use from `get_settings()`.

    Built again in a forked worker: a server that imports the app before forking its
    workers must not share database connections, or a worker name, between them.
    """
    global _studio, _studio_pid
    if _studio is None or _studio_pid != os.getpid():
        with _lock:
            if _studio is None or _studio_pid != os.getpid():
                _studio = build_studio(get_settings())
                _studio_pid = os.getpid()
    return _studio
