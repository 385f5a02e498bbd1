"""Reflex configuration. Settings come from visionary_app.settings (environment / .env)."""

import reflex as rx
from reflex_base.plugins.sitemap import SitemapPlugin

from visionary_app.settings import get_settings
from visionary_app.theme import theme_plugin

settings = get_settings()
# Reflex opens the database while compiling (schema check), so its folder must exist.
settings.data_dir.mkdir(parents=True, exist_ok=True)

config = rx.Config(
    app_name="visionary_app",
    db_url=settings.resolved_database_url,
    telemetry_enabled=False,
    plugins=[theme_plugin()],
    disable_plugins=[SitemapPlugin],
    # The sticky badge sits on top of the toasts in the bottom-right corner.
    show_built_with_reflex=False,
    # Brotli first: the stylesheet and scripts every page waits for are about 20% smaller
    # than with gzip; gzip stays for clients without brotli.
    frontend_compression_formats=["brotli", "gzip"],
    # Pages of other sites may not call the app (it allowed "*", with credentials): only the
    # public URL, or the dev server. Same-origin calls need no entry.
    cors_allowed_origins=list(settings.allowed_origins),
    # Behind Caddy (1), the client's address is read from the proxy's X-Forwarded-For.
    trusted_proxy_hops=settings.trusted_proxy_hops,
)
