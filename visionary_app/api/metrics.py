"""`/metrics`: this worker's Prometheus metrics, for a scraper that has the metrics token.

Off (404) unless `VISIONARY_METRICS_TOKEN` is set; the scraper sends it as a bearer token
(Prometheus: `authorization: {credentials: …}`). The figures carry no prompt, owner or secret.
"""

from __future__ import annotations

import hmac
from collections.abc import Callable

from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route

from visionary_app.services.kit import OPEN_TABS, REGISTRY
from visionary_app.services.studio import Studio

__all__ = ["metrics_routes"]


def metrics_routes(get_studio: Callable[[], Studio], open_tabs: Callable[[], int]) -> list[Route]:
    """The route; `open_tabs` counts the tabs connected to this worker at scrape time."""

    async def metrics(request: Request) -> Response:
        token = get_studio().settings.metrics_token
        if token is None:
            return PlainTextResponse("Metrics are off (set VISIONARY_METRICS_TOKEN).", 404)
        sent = request.headers.get("authorization", "").removeprefix("Bearer ").strip()
        if not hmac.compare_digest(sent.encode(), token.get_secret_value().encode()):
            return PlainTextResponse(
                "A metrics token is required.", 401, headers={"WWW-Authenticate": "Bearer"}
            )
        OPEN_TABS.set(open_tabs())
        return Response(generate_latest(REGISTRY), media_type=CONTENT_TYPE_LATEST)

    return [Route("/metrics", metrics, methods=["GET"])]
