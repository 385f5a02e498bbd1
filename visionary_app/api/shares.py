"""`/s/<token>`: the public page of a share link, with Open Graph tags, and its image bytes.

Plain HTML made here (no script), so chat apps read the preview tags and the page shows
without the app's bundle. Nothing about the owner is shown. An expired, revoked or unknown
link says so and serves no bytes; every request counts against the address's rate.
"""

from __future__ import annotations

import html
import uuid
from collections.abc import Callable

from starlette.requests import Request
from starlette.responses import HTMLResponse, PlainTextResponse, Response
from starlette.routing import Route

from visionary_app.services.access import client_address
from visionary_app.services.gallery import CatalogError, LinkGone, Shared
from visionary_app.services.storage import StorageError
from visionary_app.services.studio import Studio

__all__ = ["share_routes"]

_STYLE = """
:root{color-scheme:light dark;font-family:system-ui,sans-serif;background:#fdfcfe;color:#211f26}
@media (prefers-color-scheme:dark){:root{background:#18161b;color:#ece9ef}}
main{max-width:72rem;margin:0 auto;padding:1rem}
img{max-width:100%;height:auto;border-radius:12px;display:block;margin:0 auto}
.grid{display:grid;grid-template-columns:repeat(auto-fill,minmax(12rem,1fr));gap:.75rem}
.grid img{aspect-ratio:1;object-fit:cover;width:100%}
p{line-height:1.5;overflow-wrap:anywhere;white-space:pre-wrap}
.note{opacity:.85;font-size:.9rem}
h1{font-size:1.25rem}
"""


def _page(title: str, body: str, *, head: str = "", status: int = 200) -> HTMLResponse:
    text = (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width,initial-scale=1">'
        '<meta name="robots" content="noindex">'
        f"<title>{html.escape(title)}</title>{head}<style>{_STYLE}</style></head>"
        f"<body><main>{body}</main></body></html>"
    )
    headers = {"Cache-Control": "no-store"}
    return HTMLResponse(text, status_code=status, headers=headers)


def _gone(message: str) -> HTMLResponse:
    status = 404 if message.startswith("There is no such") else 410
    body = f'<h1>Link unavailable</h1><p id="share-gone">{html.escape(message)}</p>'
    return _page("Link unavailable · VisionaryAI", body, status=status)


def share_routes(get_studio: Callable[[], Studio]) -> list[Route]:
    """The share page and image routes; the studio is looked up per request."""

    def origin(request: Request, studio: Studio) -> str:
        return studio.settings.public_url or str(request.base_url).rstrip("/")

    async def opened(request: Request) -> Shared | Response:
        studio = get_studio()
        if studio.share_links is None:
            return PlainTextResponse("Not found", status_code=404)
        if studio.share_limiter is not None:
            peer = request.client.host if request.client else None
            address = client_address(
                peer, request.headers.get("x-forwarded-for", ""), studio.settings.trusted_proxy_hops
            )
            wait = await studio.share_limiter.wait(address)
            if wait is not None:
                return PlainTextResponse(
                    "Too many requests; try again shortly.",
                    status_code=429,
                    headers={"Retry-After": str(wait)},
                )
        try:
            return await studio.share_links.open(request.path_params["token"])
        except LinkGone as exc:
            return _gone(str(exc))
        except CatalogError:
            return PlainTextResponse("Unavailable; try again shortly.", status_code=503)

    async def page(request: Request) -> Response:
        shared = await opened(request)
        if isinstance(shared, Response):
            return shared
        token = html.escape(request.path_params["token"], quote=True)
        base = f"/s/{token}/image"
        first = shared.images[0] if shared.images else None
        title = shared.title or "An image made with VisionaryAI"
        head = (
            '<meta property="og:type" content="website">'
            f'<meta property="og:title" content="{html.escape(title[:200], quote=True)}">'
            '<meta property="og:site_name" content="VisionaryAI">'
            '<meta name="twitter:card" content="summary_large_image">'
        )
        if first is not None:
            image_url = f"{origin(request, get_studio())}{base}/{first.id}"
            head += (
                f'<meta property="og:image" content="{html.escape(image_url, quote=True)}">'
                f'<meta property="og:image:width" content="{first.width}">'
                f'<meta property="og:image:height" content="{first.height}">'
            )
        if shared.link.image_id is not None and first is not None:
            alt = html.escape(shared.title[:300] or "A shared image", quote=True)
            body = (
                "<h1>A shared image</h1>"
                f'<img id="shared-image" src="{base}/{first.id}" alt="{alt}" '
                f'width="{first.width}" height="{first.height}">'
            )
            if shared.title:
                body += f'<p id="shared-prompt">{html.escape(shared.title)}</p>'
        else:
            tiles = "".join(
                f'<img class="shared-board-image" src="{base}/{image.id}" loading="lazy" '
                f'alt="{html.escape(image.prompt[:300], quote=True)}" '
                f'width="{image.width}" height="{image.height}">'
                for image in shared.images
            )
            body = (
                f'<h1 id="shared-board">{html.escape(shared.title)}</h1>'
                f'<div class="grid">{tiles}</div>'
            )
        ends = shared.link.expires_at
        note = f"until {ends:%Y-%m-%d %H:%M} UTC" if ends else "until its maker revokes it"
        body += f'<p class="note">Shared from VisionaryAI; this link works {note}.</p>'
        return _page(f"{title[:80]} · VisionaryAI", body, head=head)

    async def image(request: Request) -> Response:
        shared = await opened(request)
        if isinstance(shared, Response):
            return PlainTextResponse("Gone", status_code=shared.status_code)
        try:
            wanted = uuid.UUID(request.path_params["image_id"])
        except ValueError:
            return PlainTextResponse("Not found", status_code=404)
        found = next((i for i in shared.images if i.id == wanted), None)
        if found is None:
            return PlainTextResponse("Not found", status_code=404)
        try:
            data = await get_studio().store.read(found.blob_name)
        except StorageError:
            return PlainTextResponse("Unavailable; try again shortly.", status_code=503)
        # Kept briefly and privately: a revoked link stops serving within a minute.
        headers = {"Cache-Control": "private, max-age=60"}
        return Response(data, media_type=found.content_type, headers=headers)

    return [
        Route("/s/{token}", page, methods=["GET"]),
        Route("/s/{token}/image/{image_id}", image, methods=["GET"]),
    ]
