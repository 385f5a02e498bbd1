"""The one table of the file types the app stores, serves and reads from providers."""

from __future__ import annotations

__all__ = [
    "IMAGE_EXTENSIONS",
    "TEXT_CONTENT_TYPE",
    "THUMBNAIL_CONTENT_TYPE",
    "content_type_for_blob",
    "content_type_for_pillow",
    "extension_for",
]

# Image types a stored image may have, with the extension its blob name ends in.
IMAGE_EXTENSIONS = {"image/png": "png", "image/jpeg": "jpg", "image/webp": "webp"}
# Pillow's format names for the same types.
_PILLOW_FORMATS = {"PNG": "image/png", "JPEG": "image/jpeg", "WEBP": "image/webp"}
# Gallery thumbnails are always WebP; long prompts sit beside the image as JSON.
THUMBNAIL_CONTENT_TYPE = "image/webp"
TEXT_CONTENT_TYPE = "application/json"
_BY_EXTENSION = {
    **{extension: content_type for content_type, extension in IMAGE_EXTENSIONS.items()},
    "json": TEXT_CONTENT_TYPE,
}


def extension_for(content_type: str) -> str:
    """File extension for an image content type; raises ValueError for anything else."""
    try:
        return IMAGE_EXTENSIONS[content_type]
    except KeyError:
        msg = f"unsupported image content type {content_type!r}"
        raise ValueError(msg) from None


def content_type_for_blob(name: str) -> str:
    """The content type a blob of ours is served with, from its name's last extension."""
    return _BY_EXTENSION[name.rsplit(".", 1)[1]]


def content_type_for_pillow(pillow_format: str | None) -> str | None:
    """The content type of an image Pillow opened, or None if the app cannot store it."""
    return _PILLOW_FORMATS.get(pillow_format or "")
