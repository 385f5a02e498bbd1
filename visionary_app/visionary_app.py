"""The Reflex app: pages, the media route and start-up tasks."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from datetime import timedelta

import reflex as rx
from starlette.applications import Starlette

from visionary_app.api.downloads import download_routes
from visionary_app.api.health import health_routes
from visionary_app.api.media import media_routes
from visionary_app.api.metrics import metrics_routes
from visionary_app.api.openai_compatible import build_openai_compatible
from visionary_app.api.page_guard import PageGuard
from visionary_app.api.sessions import session_routes
from visionary_app.api.shares import share_routes
from visionary_app.api.v1 import build_api, mount
from visionary_app.logs import configure_logging
from visionary_app.pages import sign_in, studio, usage
from visionary_app.services.access import origin_allowed
from visionary_app.services.kit import upgrade_to_head
from visionary_app.services.studio import get_studio
from visionary_app.settings import get_settings
from visionary_app.state.access import AccessGate
from visionary_app.state.live import LiveTabs
from visionary_app.state_files import purge_state_files_less_often

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


@contextlib.asynccontextmanager
async def run_jobs():
    """Run waiting jobs here and recover lost ones; when the server stops (SIGTERM), drain.

    Draining takes no new job, lets running ones finish for up to VISIONARY_DRAIN_SECONDS
    and hands the rest back to the queue, where another worker takes them.
    """
    settings, runner = get_settings(), get_studio().runner
    stale_after = timedelta(seconds=settings.job_stale_seconds)
    runner.serve()
    watcher = asyncio.create_task(runner.watch(stale_after))

    async def drain() -> None:
        watcher.cancel()
        handed_back = await runner.drain(settings.drain_seconds, stale_after)
        logger.info("drained the job runner (%d job(s) handed back)", handed_back)

    _drain_before_the_server_stops(drain)
    try:
        yield
    finally:
        await drain()


def _drain_before_the_server_stops(drain) -> None:
    """On SIGTERM, drain first, then let the server stop as it would have.

    Granian (the production server) stops serving on SIGTERM before the app's shutdown runs,
    and in its multi-threaded runtime it can panic while closing open websockets (granian
    #799, #884), so a worker with tabs open could die before draining. Where the server
    handles SIGTERM on this event loop, its handler is kept and called once the jobs here
    have finished or been handed back; elsewhere (the dev server) the shutdown drains.
    """
    loop = asyncio.get_running_loop()
    # asyncio keeps the loop's signal handlers here; it has no public way to read one.
    server_handler = getattr(loop, "_signal_handlers", {}).get(signal.SIGTERM)
    if server_handler is None or not hasattr(server_handler, "_run"):
        return
    draining: set[asyncio.Task] = set()

    async def drain_then_stop() -> None:
        try:
            await drain()
        finally:
            server_handler._run()  # the server's own SIGTERM handler, as it registered it

    def on_sigterm() -> None:
        if not draining:
            task = loop.create_task(drain_then_stop())
            draining.add(task)

    loop.add_signal_handler(signal.SIGTERM, on_sigterm)


async def deliver_webhooks() -> None:
    """Send job ends to the webhooks their owners registered, retrying as they fail."""
    webhooks = get_studio().webhooks
    if webhooks is not None:
        await webhooks.run()


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
    await asyncio.gather(tabs.keep_applying(), tabs.watch_arrivals())


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


def _guarded(asgi_app):
    """Everything the app answers, behind the origin check and the security headers."""
    return PageGuard(
        asgi_app,
        allowed_origins=lambda: get_studio().allowed_origins,
        image_origin=lambda: get_studio().store.url_origin,
        trusted_proxy_hops=lambda: get_settings().trusted_proxy_hops,
    )


def _serve_pages(asgi_app):
    """With VISIONARY_SERVE_PAGES (a backend behind Caddy), answer the compiled pages too.

    Reflex mounts them only when one process serves both; a backend-only process would leave
    the pages to Caddy, without the app's headers and visitor cookie. They are mounted as
    Reflex mounts them: last, after every route of the backend (the Reflex app, mounted last).
    """
    if get_settings().serve_pages:
        from reflex.utils.exec import get_frontend_mount

        asgi_app.routes[-1].app.routes.append(get_frontend_mount(router=app.router))
    return asgi_app


def _event_origin_allowed(origin: str | None, environ: dict) -> bool:
    """Socket.IO's own origin check, the same rule as PageGuard's (same site, or allowed)."""
    return origin_allowed(origin, environ.get("HTTP_HOST", ""), get_studio().allowed_origins)


app = rx.App(
    api_transformer=[
        Starlette(
            routes=[
                *media_routes(lambda: get_studio().store),
                *session_routes(get_studio),
                *download_routes(get_studio),
                *share_routes(get_studio),
                *health_routes(get_studio),
                *metrics_routes(get_studio, _open_tabs),
                mount("/api/v1", build_api(get_studio)),
                mount("/v1", build_openai_compatible(get_studio)),
            ]
        ),
        _serve_pages,
        _guarded,
    ],
    head_components=_HEAD,
    html_lang="en",
    # Sonner's rich colours put green on pale green (4.2:1, under WCAG's 4.5): plain toasts
    # with coloured icons read in light and dark. At the top, clear of the lightbox's and
    # the prompt's buttons at the bottom of a phone's screen.
    toaster=rx.toast.provider(rich_colors=False, position="top-center", close_button=True),
)
# Reflex gives Socket.IO the CORS list, which cannot say "this site, whatever its port" (a
# test or a second deployment); the same rule as every other request decides instead.
if app.sio is not None:
    app.sio.eio.cors_allowed_origins = _event_origin_allowed
purge_state_files_less_often(app)
app.register_lifespan_task(set_up_logging)
app.register_lifespan_task(apply_migrations)
app.register_lifespan_task(run_jobs)
app.register_lifespan_task(tidy_search_index)
app.register_lifespan_task(push_changes)
app.register_lifespan_task(discover_models)
app.register_lifespan_task(deliver_webhooks)
app.add_middleware(AccessGate())


studio.register(app)
sign_in.register(app)
usage.register(app)
