"""Receiving one picture from the browser, chunk by chunk, into the gallery as an upload.

Shared by the upload button and the editor's "add a reference picture". The file streams in
(Reflex's chunked upload), so a file over the size limit is refused as soon as it passes it,
without being held whole in memory or spooled to disk.
"""

from __future__ import annotations

import logging

import reflex as rx

from visionary_app.models import Image
from visionary_app.services.generation import GenerationFailed, UploadRefused
from visionary_app.services.limits import LimitReached, QueueUnavailable
from visionary_app.services.studio import get_studio

logger = logging.getLogger(__name__)


async def receive_upload(owner: str, chunks: rx.UploadChunkIterator) -> Image | str:
    """The stored upload of the first file sent, or why not (a message for the user)."""
    uploads = get_studio().uploads
    limit = uploads.limits.max_bytes
    filename: str | None = None
    data = bytearray()
    async for chunk in chunks:
        if filename is None:
            filename = chunk.filename
        if chunk.filename != filename:
            continue  # one picture at a time
        data += chunk.data
        if len(data) > limit:
            return f"The file is larger than {limit / (1024 * 1024):.1f} MB; nothing was stored."
    if filename is None:
        return "No file arrived; choose a picture and try again."
    try:
        return await uploads.accept(owner, filename, bytes(data))
    except (UploadRefused, GenerationFailed) as exc:
        return f"{exc} Nothing was stored." if isinstance(exc, UploadRefused) else str(exc)
    except LimitReached as exc:
        return f"Not uploaded: {exc}"
    except QueueUnavailable as exc:
        logger.error("could not count an upload: %s", exc)
        return "The upload could not be counted (the database did not answer); try again."
