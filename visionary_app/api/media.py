"""`GET /media/<blob name>`: serves local-store images to holders of a valid signed URL."""

from __future__ import annotations

import time
from collections.abc import Callable

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import FileResponse, PlainTextResponse, Response
from starlette.routing import Route

from visionary_app.services.storage import (
    BlobStore,
    LocalBlobStore,
    content_type_for_blob,
    is_valid_blob_name,
)

__all__ = ["media_api", "media_routes"]


def media_api(get_store: Callable[[], BlobStore]) -> Starlette:
    """A Starlette app with the media route alone (tests mount it on its own)."""
    return Starlette(routes=media_routes(get_store))


def media_routes(get_store: Callable[[], BlobStore]) -> list[Route]:
    """The media route; the store is looked up per request, not at import."""

    async def serve(request: Request) -> Response:
        name = request.path_params["name"]
        store = get_store()
        if not isinstance(store, LocalBlobStore) or not is_valid_blob_name(name):
            return PlainTextResponse("Not found", status_code=404)
        expires = request.query_params.get("expires", "")
        signature = request.query_params.get("sig", "")
        download_as = request.query_params.get("download", "")
        if not store.signer.verify(name, expires, signature, download_as=download_as):
            return PlainTextResponse("Forbidden: missing, invalid or expired signature", 403)
        path = store.path_for(name)
        if not path.is_file():
            return PlainTextResponse("Not found", status_code=404)
        max_age = max(0, int(expires) - int(time.time()))
        headers = {
            "Cache-Control": f"private, max-age={max_age}, immutable",
            "X-Content-Type-Options": "nosniff",
        }
        if download_as:
            headers["Content-Disposition"] = f'attachment; filename="{download_as}"'
        return FileResponse(path, media_type=content_type_for_blob(name), headers=headers)

    return [Route("/media/{name:path}", serve, methods=["GET", "HEAD"])]
