"""Many images as one zip, streamed as it is built: originals byte for byte, and a manifest.

The zip is never whole in memory or on disk: stream-zip writes each member as its bytes come,
one image at a time (stored, not recompressed: images are compressed already, and their
embedded provenance stays as it was). A page asks for a zip with a short-lived ticket that
binds who asks to exactly the images asked for (`sign_ticket`), so the download needs no
cookie the page's script could read.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import logging
import time
import uuid
from collections.abc import AsyncIterator, Iterable
from datetime import UTC, datetime

from stream_zip import NO_COMPRESSION_64, ZIP_64, async_stream_zip

from visionary_app.models import Image
from visionary_app.services.access.ownership import Viewer
from visionary_app.services.gallery.curation import download_filename
from visionary_app.services.storage.blob_store import BlobNotFoundError, BlobStore

__all__ = [
    "MAX_ZIP_IMAGES",
    "TICKET_SECONDS",
    "TicketInvalid",
    "archive_name",
    "check_ticket",
    "parse_ids",
    "sign_ticket",
    "zip_images",
]

logger = logging.getLogger(__name__)

MAX_ZIP_IMAGES = 1000
TICKET_SECONDS = 3600
_MODE = 0o600


def archive_name(now: datetime | None = None) -> str:
    """What the browser saves the zip as."""
    return f"visionary-images-{(now or datetime.now(UTC)):%Y-%m-%d-%H%M}.zip"


def _unique_names(images: list[Image]) -> list[str]:
    """Readable file names from the prompts, each once (`-2`, `-3` where they repeat)."""
    seen: dict[str, int] = {}
    names = []
    for image in images:
        name = download_filename(image)
        count = seen.get(name, 0) + 1
        seen[name] = count
        if count > 1:
            stem, extension = name.rsplit(".", 1)
            name = f"{stem}-{count}.{extension}"
        names.append(name)
    return names


def _manifest(images: list[Image], names: list[str], missing: list[str]) -> bytes:
    rows = [
        {
            "file": name,
            "id": str(image.id),
            "prompt": image.prompt,
            "revised_prompt": image.revised_prompt,
            "provider": image.provider,
            "model": image.model,
            "size": f"{image.width}x{image.height}",
            "created_at": image.created_at.astimezone(UTC).isoformat(),
            "kind": image.kind,
        }
        for image, name in zip(images, names, strict=True)
    ]
    body = {"images": rows, "missing": missing}
    return json.dumps(body, ensure_ascii=False, indent=1).encode("utf-8")


async def zip_images(store: BlobStore, images: list[Image]) -> AsyncIterator[bytes]:
    """The zip of `images` (already checked as the asker's to see), a chunk at a time.

    An image whose blob went missing meanwhile is left out and said so in the manifest's
    `missing` list.
    """
    names = _unique_names(images)
    missing: list[str] = []

    async def members():
        kept_images, kept_names = [], []
        for image, name in zip(images, names, strict=True):
            try:
                data = await store.read(image.blob_name)
            except BlobNotFoundError:
                missing.append(str(image.id))
                continue

            async def content(data: bytes = data) -> AsyncIterator[bytes]:
                yield data

            kept_images.append(image)
            kept_names.append(name)
            yield name, image.created_at, _MODE, NO_COMPRESSION_64, content()
        manifest = _manifest(kept_images, kept_names, missing)

        async def manifest_content() -> AsyncIterator[bytes]:
            yield manifest

        yield "manifest.json", datetime.now(UTC), _MODE, ZIP_64, manifest_content()

    async for chunk in async_stream_zip(members()):
        yield chunk


class TicketInvalid(Exception):
    """The download ticket is forged, expired, or for other images."""


def _digest(image_ids: Iterable[str]) -> bytes:
    return hashlib.sha256(" ".join(sorted(image_ids)).encode()).digest()


def sign_ticket(key: bytes, viewer: Viewer, image_ids: Iterable[str], now: float | None = None):
    """A ticket saying `viewer` may download exactly these images for TICKET_SECONDS."""
    expires = int((now or time.time()) + TICKET_SECONDS)
    owner = base64.urlsafe_b64encode(viewer.owner.encode()).decode()
    payload = f"{expires}.{owner}.{int(viewer.admin)}"
    mac = hmac.new(key, payload.encode() + _digest(image_ids), hashlib.sha256).hexdigest()
    return f"{payload}.{mac}"


def check_ticket(
    key: bytes, ticket: str, image_ids: Iterable[str], now: float | None = None
) -> Viewer:
    """The viewer a valid ticket for these images names; TicketInvalid otherwise."""
    try:
        expires, owner, admin, mac = ticket.split(".")
        payload = f"{expires}.{owner}.{admin}"
        expected = hmac.new(key, payload.encode() + _digest(image_ids), hashlib.sha256)
        if not hmac.compare_digest(expected.hexdigest(), mac):
            raise TicketInvalid("the ticket does not match")
        if int(expires) < (now or time.time()):
            raise TicketInvalid("the ticket has expired")
        return Viewer(owner=base64.urlsafe_b64decode(owner).decode(), admin=admin == "1")
    except (ValueError, binascii.Error, UnicodeError) as exc:
        raise TicketInvalid("the ticket is malformed") from exc


def parse_ids(text: str) -> list[uuid.UUID]:
    """Image ids from a space- or comma-separated list (at most MAX_ZIP_IMAGES); ValueError."""
    parts = text.replace(",", " ").split()
    if len(parts) > MAX_ZIP_IMAGES:
        msg = f"at most {MAX_ZIP_IMAGES} images at once"
        raise ValueError(msg)
    return list(dict.fromkeys(uuid.UUID(part) for part in parts))
