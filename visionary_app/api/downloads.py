"""`POST /downloads/images.zip`: the page's selection as one zip, streamed as it is built.

The page posts the image ids with the ticket its state signed for exactly those ids (see
`gallery.archive`): the browser saves the answer natively, and no script ever holds a
credential. Each image is checked again as the ticket's viewer may see it.
"""

from __future__ import annotations

from collections.abc import Callable

from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response, StreamingResponse
from starlette.routing import Route

from visionary_app.services.gallery import (
    CatalogError,
    TicketInvalid,
    archive_name,
    check_ticket,
    parse_ids,
    zip_images,
)
from visionary_app.services.studio import Studio

__all__ = ["download_routes", "zip_response"]

_MAX_FORM_BYTES = 64 * 1024  # a thousand ids and a ticket


async def zip_response(studio: Studio, viewer, image_ids) -> Response:
    """The zip of the images `viewer` may see among `image_ids`, in the order asked."""
    found = {image.id: image for image in await studio.catalog.get_many(image_ids)}
    images = [found[i] for i in image_ids if i in found and viewer.may_see(found[i])]
    skipped = len(image_ids) - len(images)
    headers = {
        "Content-Disposition": f'attachment; filename="{archive_name()}"',
        "Cache-Control": "no-store",
        "X-Images-Skipped": str(skipped),  # not there, or not theirs to see
    }
    return StreamingResponse(
        zip_images(studio.store, images), media_type="application/zip", headers=headers
    )


def download_routes(get_studio: Callable[[], Studio]) -> list[Route]:
    """The zip download route; the studio is looked up per request."""

    async def download(request: Request) -> Response:
        if int(request.headers.get("content-length") or 0) > _MAX_FORM_BYTES:
            return PlainTextResponse("Too many images at once.", status_code=413)
        form = await request.form(max_files=0, max_fields=4)
        studio = get_studio()
        try:
            ids = parse_ids(str(form.get("ids", "")))
            viewer = check_ticket(
                studio.archive_key, str(form.get("ticket", "")), [i.hex for i in ids]
            )
        except ValueError as exc:
            return PlainTextResponse(f"Bad request: {exc}.", status_code=400)
        except TicketInvalid as exc:
            return PlainTextResponse(f"Forbidden: {exc}; select the images again.", status_code=403)
        if not ids:
            return PlainTextResponse("Bad request: no images selected.", status_code=400)
        try:
            return await zip_response(studio, viewer, ids)
        except CatalogError:
            return PlainTextResponse(
                "The gallery index is unavailable; try again.", status_code=503
            )

    return [Route("/downloads/images.zip", download, methods=["POST"])]
