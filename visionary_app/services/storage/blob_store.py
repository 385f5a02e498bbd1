"""The `BlobStore` contract every image store meets (local directory, Azure Blob Storage)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from visionary_app.services.kit.metrics import BLOB_STORE_ERRORS

__all__ = ["BlobInfo", "BlobNotFoundError", "BlobStore", "SignedUrl", "StorageError"]


class StorageError(Exception):
    """The blob store could not complete an operation (each one made is counted)."""

    def __init__(self, *args: object) -> None:
        super().__init__(*args)
        if not isinstance(self, BlobNotFoundError):  # a missing blob is an answer, not a fault
            BLOB_STORE_ERRORS.inc()


class BlobNotFoundError(StorageError):
    """The named blob does not exist."""


@dataclass(frozen=True)
class BlobInfo:
    """A stored blob as a listing reports it."""

    name: str
    size: int
    content_type: str
    metadata: dict[str, str]
    last_modified: datetime


@dataclass(frozen=True)
class SignedUrl:
    """A URL the browser may use to read one blob until `expires_at` (Unix seconds)."""

    url: str
    expires_at: int


class BlobStore(Protocol):
    """Stores image bytes under names from `make_blob_name` and hands out expiring read URLs."""

    @property
    def url_origin(self) -> str:
        """Where its signed URLs point (`scheme://host`), or "" for this app itself."""
        ...

    async def put(
        self,
        name: str,
        data: bytes,
        content_type: str,
        metadata: Mapping[str, str],
        *,
        overwrite: bool = False,
    ) -> None:
        """Store `data` under `name`, all or nothing; raise StorageError on failure.

        A blob already there is kept (StorageError) unless `overwrite`: an image is never
        replaced, a board's or a prompt's JSON blob is.
        """
        ...

    async def set_metadata(self, name: str, metadata: Mapping[str, str]) -> None:
        """Replace the blob's metadata; BlobNotFoundError if it is not there."""
        ...

    async def delete(self, name: str) -> None:
        """Remove the blob; a missing blob is not an error."""
        ...

    async def exists(self, name: str) -> bool:
        """Whether a blob with this name is stored."""
        ...

    async def read(self, name: str) -> bytes:
        """The blob's bytes; BlobNotFoundError if it is not there."""
        ...

    async def root_exists(self) -> bool:
        """Whether the store itself (the directory, the container) is there at all."""
        ...

    def list_blobs(self) -> AsyncIterator[BlobInfo]:
        """Every blob whose name we could have built, with its metadata, in no set order."""
        ...

    async def signed_url(self, name: str) -> SignedUrl:
        """A read-only URL for this one blob that expires after the configured lifetime."""
        ...

    async def download_url(self, name: str, filename: str) -> SignedUrl:
        """Like `signed_url`, but the browser saves the blob as `filename` (ASCII)."""
        ...

    async def close(self) -> None:
        """Release network resources."""
        ...
