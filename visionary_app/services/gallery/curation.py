"""Acting on stored images: delete, change who sees, star; keep each blob's boards and stars."""

from __future__ import annotations

import logging
import re
import unicodedata
import uuid

from visionary_app.models import Image, Visibility
from visionary_app.services.access.ownership import Viewer
from visionary_app.services.gallery.catalog import Catalog, CatalogError
from visionary_app.services.storage.blob_metadata import EncodedImage, encode_image
from visionary_app.services.storage.blob_names import companion_blob_names, text_blob_name
from visionary_app.services.storage.blob_store import BlobStore, StorageError
from visionary_app.services.storage.content_types import TEXT_CONTENT_TYPE

__all__ = [
    "DeleteFailed",
    "LibraryNotSaved",
    "VisibilityNotChanged",
    "change_visibility",
    "delete_image",
    "download_filename",
    "keep_library",
    "star",
]


logger = logging.getLogger(__name__)

# Writes of one image's metadata before giving way to whoever keeps changing it.
_SETTLE_ATTEMPTS = 5


class DeleteFailed(Exception):
    """The image could not be deleted; the message is for the user. Nothing was lost."""


async def delete_image(store: BlobStore, catalog: Catalog, image: Image) -> None:
    """Delete the image blob, then its row, then its thumbnail and text blob.

    The image blob goes first: it is what `sync` indexes from, so once it is gone nothing can
    bring the image back. If that fails, the row stays and the image is untouched. A companion
    that cannot be deleted is an orphan that `sync` removes later.
    """
    try:
        await store.delete(image.blob_name)
    except StorageError as exc:
        logger.error("deleting %s failed: %s", image.blob_name, exc)
        raise DeleteFailed(
            "The image could not be deleted: image storage is unavailable. Nothing was changed."
        ) from exc
    try:
        await catalog.remove(image.id)
    except CatalogError as exc:
        raise DeleteFailed(
            "The image file was deleted, but the gallery index could not be updated; "
            "the next sync removes the leftover entry."
        ) from exc
    for name in companion_blob_names(image.blob_name):
        try:
            await store.delete(name)
        except StorageError:
            logger.warning("left orphan %s for sync to remove", name)


class VisibilityNotChanged(Exception):
    """Who can see the image stayed as it was; the message is for the user."""


async def change_visibility(
    store: BlobStore, catalog: Catalog, image: Image, visibility: Visibility
) -> None:
    """Make the image private or shared: the blob's metadata first, then the row.

    The blob carries it so that `sync` restores it; if the row cannot follow, the blob is put
    back, and in either failure the image is left as it was.
    """
    changed = image.model_copy(update={"visibility": visibility.value})
    try:
        library = await catalog.library_of(image.id)
    except CatalogError as exc:
        raise VisibilityNotChanged(
            "Who can see the image was not changed: the gallery index is unavailable."
        ) from exc
    encoded = encode_image(changed, library)
    try:
        await _write_encoded(store, changed, encoded)
    except StorageError as exc:
        logger.error("changing the metadata of %s failed: %s", image.blob_name, exc)
        raise VisibilityNotChanged(
            "Who can see the image was not changed: image storage is unavailable."
        ) from exc
    try:
        await catalog.set_visibility(image.id, visibility)
    except CatalogError as exc:
        try:
            await _write_encoded(store, image, encode_image(image, library))
        except StorageError:
            logger.error("%s: blob and index disagree on visibility until sync", image.id)
        raise VisibilityNotChanged(
            "Who can see the image was not changed: the gallery index is unavailable."
        ) from exc
    try:  # a star written meanwhile may have carried the old visibility
        await _settle(store, catalog, image.id, encoded.metadata)
    except (StorageError, CatalogError) as exc:
        logger.warning("%s: its blob may disagree until its next change: %s", image.id, exc)


async def _write_encoded(store: BlobStore, image: Image, encoded: EncodedImage) -> None:
    """The image blob's metadata (and its text blob where the encoding needs one)."""
    if encoded.text_blob is not None:
        await store.put(
            text_blob_name(image.blob_name),
            encoded.text_blob,
            TEXT_CONTENT_TYPE,
            {"image_id": str(image.id)},
            overwrite=True,
        )
    await store.set_metadata(image.blob_name, encoded.metadata)


class LibraryNotSaved(Exception):
    """The image's blob could not take its boards and stars; the message is for the user."""


async def keep_library(store: BlobStore, catalog: Catalog, image: Image) -> None:
    """Write the image's row, boards and stars, as the index has them now, to its blob.

    Called after the index changed, so that `sync` rebuilds what people did with it.
    """
    try:
        await _settle(store, catalog, image.id)
    except (StorageError, CatalogError) as exc:
        logger.error("keeping the boards and stars of %s failed: %s", image.blob_name, exc)
        raise LibraryNotSaved("Image storage is unavailable; nothing was changed.") from exc


async def _settle(
    store: BlobStore, catalog: Catalog, image_id: uuid.UUID, written: dict[str, str] | None = None
) -> None:
    """Write what the index holds of an image to its blob, until the index holds still.

    Two people changing one image at once each write what they read, and the one who read
    first may write last; so the index is read again after each write (and after `written`,
    the metadata a caller just wrote), and written again while it moved. If it keeps moving,
    each of those changes writes again itself.
    """
    for _ in range(_SETTLE_ATTEMPTS):
        image = await catalog.get(image_id)
        if image is None:
            return  # deleted meanwhile: its blob is gone or going
        encoded = encode_image(image, await catalog.library_of(image_id))
        if encoded.metadata == written:
            return
        await _write_encoded(store, image, encoded)
        written = encoded.metadata
    logger.warning("%s changed on every look; its next change writes it again", image_id)


async def star(
    store: BlobStore, catalog: Catalog, viewer: Viewer, image: Image, favourite: bool
) -> bool:
    """Star or unstar an image `viewer` may see, index and blob both; False if they may not.

    LibraryNotSaved (and the star left as it was) if the blob cannot follow.
    """
    try:
        if not await catalog.set_favourite(viewer, image.id, favourite):
            return False
    except CatalogError as exc:
        raise LibraryNotSaved("The gallery index is unavailable; nothing was changed.") from exc
    try:
        await keep_library(store, catalog, image)
    except LibraryNotSaved:
        try:
            await catalog.set_favourite(viewer, image.id, not favourite)
        except CatalogError:
            logger.error("%s: blob and index disagree on a star until sync", image.id)
        raise
    return True


def download_filename(image: Image, max_words_chars: int = 60) -> str:
    """`<slug of the prompt>-<YYYY-MM-DD>.<ext>`, ASCII only.

    A prompt with no Latin letters gives `image-<date>.<ext>`.
    """
    ascii_text = unicodedata.normalize("NFKD", image.prompt).encode("ascii", "ignore").decode()
    slug = re.sub(r"[^a-z0-9]+", "-", ascii_text.lower()).strip("-")
    slug = slug[:max_words_chars].rsplit("-", 1)[0] if len(slug) > max_words_chars else slug
    extension = image.blob_name.rsplit(".", 1)[1]
    return f"{slug or 'image'}-{image.created_at:%Y-%m-%d}.{extension}"
