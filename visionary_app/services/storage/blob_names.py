"""The one place blob names are built and checked: date folders and ids, never user text."""

from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime

from visionary_app.services.storage.content_types import extension_for

__all__ = [
    "board_blob_name",
    "board_id_of",
    "companion_blob_names",
    "is_image_blob_name",
    "is_valid_blob_name",
    "make_blob_name",
    "text_blob_name",
    "thumbnail_blob_name",
]

_TEXT_SUFFIX = "text.json"
_THUMBNAIL_SUFFIX = "thumb.webp"
# The only shapes a blob name may have; built below, checked before any file or URL use.
_STEM = r"^images/\d{4}/\d{2}/\d{2}/[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"
_IMAGE_NAME = re.compile(_STEM + r"\.(png|jpg|webp)$")
_COMPANION_NAME = re.compile(_STEM + r"\.(png|jpg|webp|text\.json|thumb\.webp)$")
# A board's own blob (its name, owner and rule), so that `sync` brings boards back too.
_BOARD_NAME = re.compile(r"^images/boards/([0-9a-f]{32})\.json$")


def make_blob_name(image_id: uuid.UUID, created_at: datetime, content_type: str) -> str:
    """The one place blob names are built: date folders and the image id, never user text."""
    day = created_at.astimezone(UTC)
    return f"images/{day:%Y/%m/%d}/{image_id}.{extension_for(content_type)}"


def text_blob_name(image_blob_name: str) -> str:
    """Name of the JSON blob that holds an image's prompt when it is too long for metadata."""
    if not is_image_blob_name(image_blob_name):
        msg = f"not an image blob name: {image_blob_name!r}"
        raise ValueError(msg)
    return f"{image_blob_name.rsplit('.', 1)[0]}.{_TEXT_SUFFIX}"


def thumbnail_blob_name(image_blob_name: str) -> str:
    """Name of the WebP thumbnail stored beside an image."""
    if not is_image_blob_name(image_blob_name):
        msg = f"not an image blob name: {image_blob_name!r}"
        raise ValueError(msg)
    return f"{image_blob_name.rsplit('.', 1)[0]}.{_THUMBNAIL_SUFFIX}"


def companion_blob_names(image_blob_name: str) -> tuple[str, str]:
    """The blobs that belong to an image: its text blob and its thumbnail."""
    return text_blob_name(image_blob_name), thumbnail_blob_name(image_blob_name)


def is_image_blob_name(name: str) -> bool:
    """Whether `name` has exactly the shape `make_blob_name` produces."""
    return bool(_IMAGE_NAME.fullmatch(name))


def board_blob_name(board_id: uuid.UUID) -> str:
    """Name of the JSON blob that keeps a board."""
    return f"images/boards/{board_id.hex}.json"


def board_id_of(name: str) -> uuid.UUID | None:
    """The board a board blob keeps, or None if `name` is not a board blob's."""
    match = _BOARD_NAME.fullmatch(name)
    return uuid.UUID(hex=match.group(1)) if match else None


def is_valid_blob_name(name: str) -> bool:
    """Whether `name` is an image, companion or board blob name we could have built."""
    return bool(_COMPANION_NAME.fullmatch(name) or _BOARD_NAME.fullmatch(name))
