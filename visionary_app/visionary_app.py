"""The Reflex app: pages, the media route and start-up tasks."""

from __future__ import annotations

import logging
from datetime import timedelta

import reflex as rx
from starlette.applications import Starlette

from visionary_app.api.health import health_routes
from visionary_app.api.media import media_routes
from visionary_app.api.metrics import metrics_routes
from visionary_app.api.openai_compatible import build_openai_compatible
from visionary_app.api.single_sign_on import single_sign_on_routes
from visionary_app.api.v1 import build_api, mount
from visionary_app.logs import configure_logging
from visionary_app.pages import sign_in, studio, usage
from visionary_app.services.kit import upgrade_to_head
from visionary_app.services.studio import get_studio
from visionary_app.settings import get_settings
from visionary_app.state.access import AccessGate
from visionary_app.state.live import LiveTabs

logger = logging.getLogger(__name__)


def set_up_logging() -> None:
    """JSON lines when asked (after the server has set up its own logging)."""
    configure_logging(get_settings().log_format)


def apply_migrations() -> None:
    """Bring the index to the latest schema before the backend serves anything."""
    url = get_settings().resolved_database_url
    upgrade_to_head(url)
    get_studio().catalog.prepare_search()
    logger.info("image index is at the latest migration, its search index up to date")


async def watch_jobs() -> None:
    """Fail jobs whose worker is gone (a restart, a crash): at start-up, then periodically."""
    stale_after = timedelta(seconds=get_settings().job_stale_seconds)
    studio = get_studio()
    await studio.jobs.watch(stale_after, on_running=studio.runner.clean_up_after)


async def tidy_search_index() -> None:
    """Keep SQLite's search index in one piece: every write adds one, every search reads each."""
    await get_studio().catalog.keep_search_tidy()


async def discover_models() -> None:
    """Offer the models a provider's server has (a ComfyUI server's checkpoints) as found."""
    await get_studio().keep_discovering_models()


async def push_changes() -> None:
    """Keep this worker's tabs up to date from the live feed, without polling."""
    tabs = LiveTabs(app)
    get_studio().feed.listen(tabs.apply)
    await tabs.watch_arrivals()


def _open_tabs() -> int:
    """Tabs connected to this worker (its websockets)."""
    namespace = app.event_namespace
    return len(namespace.sid_to_token) if namespace is not None else 0


# Icons, the web app manifest and the preview image are static files in assets/.
_HEAD = [
    rx.el.link(rel="icon", href="/favicon.svg", type="image/svg+xml"),
    rx.el.link(rel="apple-touch-icon", href="/apple-touch-icon.png"),
    rx.el.link(rel="manifest", href="/manifest.webmanifest"),
    rx.el.meta(name="theme-color", content="#3e63dd"),
]

app = rx.App(
    api_transformer=Starlette(
        routes=[
            *media_routes(lambda: get_studio().store),
            *single_sign_on_routes(get_studio),
            *health_routes(get_studio),
            *metrics_routes(get_studio, _open_tabs),
            mount("/api/v1", build_api(get_studio)),
            mount("/v1", build_openai_compatible(get_studio)),
        ]
    ),
    head_components=_HEAD,
    html_lang="en",
)
app.register_lifespan_task(set_up_logging)
app.register_lifespan_task(apply_migrations)
app.register_lifespan_task(watch_jobs)
app.register_lifespan_task(tidy_search_index)
app.register_lifespan_task(push_changes)
app.register_lifespan_task(discover_models)
app.add_middleware(AccessGate())


studio.register(app)
sign_in.register(app)
usage.register(app)
