"""Keeps the index a mirror of the blob store: index unlisted blobs, drop rows without blobs.

Boards come back from their own blobs, and each image's boards and stars from its metadata.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from visionary_app.models import Board, Image
from visionary_app.services.gallery.boards import Boards, board_from_blob
from visionary_app.services.gallery.catalog import Catalog, CatalogError
from visionary_app.services.storage.blob_metadata import (
    Library,
    MetadataError,
    decode_image,
    decode_library,
    has_text_blob,
)
from visionary_app.services.storage.blob_names import (
    board_id_of,
    companion_blob_names,
    is_image_blob_name,
    text_blob_name,
    thumbnail_blob_name,
)
from visionary_app.services.storage.blob_store import BlobInfo, BlobNotFoundError, BlobStore

__all__ = ["DEFAULT_GRACE", "MAX_REMOVED_SHARE", "SyncRefused", "SyncReport", "reconcile"]

logger = logging.getLogger(__name__)

# A generation uploads its blob a moment before it inserts the row; leave young blobs alone.
DEFAULT_GRACE = timedelta(minutes=2)
_BATCH = 500
# Without --force, sync removes at most this share of the rows (and never all of them from an
# empty listing): a mistyped container or data directory looks like every blob is gone.
MAX_REMOVED_SHARE = 0.25
# Removing this many rows is always allowed: a few deleted blobs are routine, even in a small
# gallery where they are a large share.
_ALWAYS_REMOVABLE = 10


class SyncRefused(Exception):
    """Sync would remove rows it should not without a person saying so; nothing changed."""


@dataclass
class SyncReport:
    """What a reconciliation found and did (or, in a dry run, would do)."""

    dry_run: bool
    blobs_seen: int = 0
    rows_seen: int = 0
    indexed: list[str] = field(default_factory=list)
    removed_rows: list[str] = field(default_factory=list)
    removed_companions: list[str] = field(default_factory=list)
    skipped: list[tuple[str, str]] = field(default_factory=list)
    in_flight: list[str] = field(default_factory=list)
    boards_restored: list[str] = field(default_factory=list)
    refused: str = ""  # set in a dry run that a real run would refuse

    def lines(self) -> list[str]:
        """Human-readable account, one action per line, then a summary."""
        verb = "would " if self.dry_run else ""
        out = [f"{verb}index {name}" for name in self.indexed]
        out += [f"{verb}remove row of {name} (blob is gone)" for name in self.removed_rows]
        out += [f"{verb}delete orphan {name}" for name in self.removed_companions]
        out += [f"skip {name}: {reason}" for name, reason in self.skipped]
        out += [f"leave {name} for now: uploaded moments ago" for name in self.in_flight]
        out += [f"{verb}restore board {name}" for name in self.boards_restored]
        out.append(
            f"sync{' (dry run, nothing changed)' if self.dry_run else ''}: "
            f"{self.blobs_seen} image blobs, {self.rows_seen} rows; "
            f"{len(self.indexed)} indexed, {len(self.removed_rows)} rows removed, "
            f"{len(self.removed_companions)} orphan thumbnails/text blobs deleted, "
            f"{len(self.skipped)} skipped, "
            f"{len(self.in_flight)} in flight, {len(self.boards_restored)} boards restored"
        )
        if self.refused:
            out.append(f"a real run would refuse: {self.refused}")
        return out


async def reconcile(
    store: BlobStore,
    catalog: Catalog,
    *,
    dry_run: bool = False,
    grace: timedelta = DEFAULT_GRACE,
    force: bool = False,
) -> SyncReport:
    """Make the index match the store. Safe while the app runs (see DEFAULT_GRACE).

    Refuses (SyncRefused, nothing changed) when the store itself is missing, and, unless
    `force`, when it would remove every row from an empty listing or more than
    MAX_REMOVED_SHARE of the rows.
    """
    if not await store.root_exists():
        msg = (
            "the blob store is missing (no such container or directory): check the storage "
            "settings; nothing was changed"
        )
        raise SyncRefused(msg)
    report = SyncReport(dry_run=dry_run)
    # Read the index before listing: any row read here had its blob uploaded earlier, so the
    # listing will include that blob unless it really is gone.
    indexed = await catalog.blob_names()
    images: dict[str, BlobInfo] = {}
    companions: dict[str, BlobInfo] = {}
    boards: list[BlobInfo] = []
    async for blob in store.list_blobs():
        if board_id_of(blob.name) is not None:
            boards.append(blob)
        else:
            (images if is_image_blob_name(blob.name) else companions)[blob.name] = blob
    report.blobs_seen, report.rows_seen = len(images), len(indexed)
    cutoff = datetime.now(UTC) - grace

    report.removed_rows = sorted(indexed - images.keys())
    refusal = "" if force else _removal_refusal(len(report.removed_rows), len(indexed), len(images))
    if refusal and not dry_run:
        raise SyncRefused(refusal)
    report.refused = refusal
    if report.removed_rows and not dry_run:
        await catalog.remove_blob_names(report.removed_rows)

    # Boards before images, so that the images can join them.
    restored = await _restore_boards(store, catalog, boards, report, dry_run=dry_run)
    report.boards_restored = [board.name for board in restored]

    new_rows: list[Image] = []
    libraries: dict = {}
    for name in sorted(images.keys() - indexed):
        blob = images[name]
        if blob.last_modified > cutoff:
            report.in_flight.append(name)
            continue
        try:
            image, library = await _decode(store, blob, companions)
        except MetadataError as exc:
            report.skipped.append((name, str(exc)))
            continue
        new_rows.append(image)
        libraries[image.id] = library
    report.indexed = [row.blob_name for row in new_rows]
    if not dry_run:
        await _insert(catalog, new_rows, libraries)

    wanted = {companion for name in images for companion in companion_blob_names(name)}
    for name, blob in sorted(companions.items()):
        if name not in wanted and blob.last_modified <= cutoff:
            report.removed_companions.append(name)
            if not dry_run:
                await store.delete(name)
    return report


def _removal_refusal(removing: int, rows: int, blobs: int) -> str:
    """Why removing `removing` of `rows` rows needs --force, or "" when it does not."""
    if removing and blobs == 0:
        return (
            f"the store lists no images, so all {rows} rows would be removed. If the images "
            "really are gone, run again with --force; nothing was changed"
        )
    if removing > _ALWAYS_REMOVABLE and removing > rows * MAX_REMOVED_SHARE:
        return (
            f"{removing} of {rows} rows would be removed (more than "
            f"{MAX_REMOVED_SHARE:.0%}). Check the storage settings; if the images "
            "really are gone, run again with --force; nothing was changed"
        )
    return ""


async def _restore_boards(
    store: BlobStore,
    catalog: Catalog,
    blobs: list[BlobInfo],
    report: SyncReport,
    *,
    dry_run: bool,
) -> list[Board]:
    """Index the boards whose blobs the index does not know; the ones that were new."""
    boards = Boards(catalog, store)
    found: list[Board] = []
    for blob in blobs:
        try:
            found.append(board_from_blob(await store.read(blob.name)))
        except BlobNotFoundError:
            continue  # deleted while we looked
        except ValueError as exc:
            report.skipped.append((blob.name, str(exc)))
    if dry_run:
        known = await boards.known_ids()
        return [board for board in found if board.id not in known]
    return await boards.restore(found)


async def _decode(
    store: BlobStore, blob: BlobInfo, companions: dict[str, BlobInfo]
) -> tuple[Image, Library]:
    text = None
    if has_text_blob(blob.metadata):
        try:
            text = await store.read(text_blob_name(blob.name))
        except BlobNotFoundError:
            text = None  # decode_image says what is missing
    image = decode_image(
        blob.name,
        blob.metadata,
        byte_size=blob.size,
        content_type=blob.content_type,
        text_blob=text,
    )
    thumbnail = companions.get(thumbnail_blob_name(blob.name))
    if thumbnail is not None:
        try:
            image.thumbnail_width = int(thumbnail.metadata["width"])
            image.thumbnail_height = int(thumbnail.metadata["height"])
            image.thumbnail_blob_name = thumbnail.name
        except (KeyError, ValueError):
            pass  # no usable size: the gallery shows the full image instead
    return image, decode_library(blob.metadata, text)


async def _insert(catalog: Catalog, rows: list[Image], libraries: dict) -> None:
    for start in range(0, len(rows), _BATCH):
        batch = rows[start : start + _BATCH]
        try:
            await catalog.add_many(batch, libraries)
        except CatalogError:
            # Someone (the app, another sync) indexed some of these meanwhile: go one by one.
            for row in batch:
                try:
                    await catalog.add_many([row], libraries)
                except CatalogError:
                    if await catalog.get(row.id) is None:
                        raise
