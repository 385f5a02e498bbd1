"""Where image bytes live: the `BlobStore` contract, blob naming, and the local-directory store."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import os
import re
import tempfile
import time
import uuid
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Protocol
from urllib.parse import quote, urlencode

__all__ = [
    "BlobInfo",
    "BlobNotFoundError",
    "BlobStore",
    "LocalBlobStore",
    "SignedUrl",
    "StorageError",
    "UrlSigner",
    "companion_blob_names",
    "extension_for",
    "is_image_blob_name",
    "is_valid_blob_name",
    "make_blob_name",
    "text_blob_name",
    "thumbnail_blob_name",
]

_EXTENSIONS = {"image/png": "png", "image/jpeg": "jpg", "image/webp": "webp"}
_TEXT_SUFFIX = "text.json"
_THUMBNAIL_SUFFIX = "thumb.webp"
# The only shapes a blob name may have; built below, checked before any file or URL use.
_STEM = r"^images/\d{4}/\d{2}/\d{2}/[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"
_IMAGE_NAME = re.compile(_STEM + r"\.(png|jpg|webp)$")
_ANY_NAME = re.compile(_STEM + r"\.(png|jpg|webp|text\.json|thumb\.webp)$")


class StorageError(Exception):
    """The blob store could not complete an operation."""


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

    async def put(
        self, name: str, data: bytes, content_type: str, metadata: Mapping[str, str]
    ) -> None:
        """Store `data` under `name`, all or nothing; raise StorageError on failure."""
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


def extension_for(content_type: str) -> str:
    """File extension for an image content type; raises ValueError for anything else."""
    try:
        return _EXTENSIONS[content_type]
    except KeyError:
        msg = f"unsupported image content type {content_type!r}"
        raise ValueError(msg) from None


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


def is_valid_blob_name(name: str) -> bool:
    """Whether `name` is an image or text blob name we could have built."""
    return bool(_ANY_NAME.fullmatch(name))


class UrlSigner:
    """HMAC-SHA256 signatures over a blob name and an expiry time."""

    def __init__(self, key: bytes, ttl_seconds: int) -> None:
        if len(key) < 16:
            msg = "URL signing key must be at least 16 bytes"
            raise ValueError(msg)
        self._key = key
        self.ttl_seconds = ttl_seconds

    def _signature(self, name: str, expires_at: int, download_as: str) -> str:
        message = f"{name}\n{expires_at}\n{download_as}".encode()
        digest = hmac.new(self._key, message, hashlib.sha256).digest()
        return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()

    def sign(self, name: str, now: float | None = None, download_as: str = "") -> tuple[int, str]:
        """Return (expires_at, signature) for a URL to `name` issued at `now`.

        `download_as`, when given, is a file name the URL serves the blob as an attachment under;
        it is covered by the signature so nobody can change it.
        """
        expires_at = int(now if now is not None else time.time()) + self.ttl_seconds
        return expires_at, self._signature(name, expires_at, download_as)

    def verify(
        self,
        name: str,
        expires_at: str,
        signature: str,
        now: float | None = None,
        download_as: str = "",
    ) -> bool:
        """Whether the signature is genuine and not yet expired (constant-time compare)."""
        try:
            expiry = int(expires_at)
        except (TypeError, ValueError):
            return False
        expected = self._signature(name, expiry, download_as)
        if not hmac.compare_digest(expected.encode(), (signature or "").encode()):
            return False
        return (now if now is not None else time.time()) < expiry


def load_or_create_key(path: Path) -> bytes:
    """Read the signing key at `path`, creating a random one once (safe across workers)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        pass
    else:
        with os.fdopen(fd, "wb") as handle:
            handle.write(os.urandom(32).hex().encode())
    for _ in range(50):  # another worker may be between creating and writing the file
        key = path.read_bytes().strip()
        if key:
            return key
        time.sleep(0.02)
    msg = f"URL signing key file {path} is empty"
    raise StorageError(msg)


class LocalBlobStore:
    """Blobs as files under a root directory, served by the app's `/media` route."""

    def __init__(self, root: Path, signer: UrlSigner, url_prefix: str = "/media") -> None:
        self.root = root
        self.signer = signer
        self.url_prefix = url_prefix.rstrip("/")

    def path_for(self, name: str) -> Path:
        """The file for a blob name; rejects anything that is not a name we built."""
        if not is_valid_blob_name(name):
            msg = f"invalid blob name {name!r}"
            raise ValueError(msg)
        return self.root / name

    @staticmethod
    def _properties_path(path: Path) -> Path:
        # Content type and metadata, as Azure keeps them with the blob.
        return path.with_name(path.name + ".props.json")

    async def put(
        self, name: str, data: bytes, content_type: str, metadata: Mapping[str, str]
    ) -> None:
        """Write properties, then the bytes, each through a temporary file and a rename."""
        path = self.path_for(name)
        properties = json.dumps({"content_type": content_type, "metadata": dict(metadata)})
        try:
            await asyncio.to_thread(self._write_blob, path, data, properties.encode())
        except OSError as exc:
            msg = f"local image store could not write {name}: {exc.strerror or exc}"
            raise StorageError(msg) from exc

    def _write_blob(self, path: Path, data: bytes, properties: bytes) -> None:
        self._write_atomically(self._properties_path(path), properties)
        try:
            self._write_atomically(path, data)
        except BaseException:
            self._properties_path(path).unlink(missing_ok=True)
            raise

    @staticmethod
    def _write_atomically(path: Path, data: bytes) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp_name = tempfile.mkstemp(dir=path.parent, prefix=".upload-", suffix=".tmp")
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(data)
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(tmp_name, path)
        except BaseException:
            Path(tmp_name).unlink(missing_ok=True)
            raise

    async def delete(self, name: str) -> None:
        """Remove the file (and its properties) if it is there."""
        path = self.path_for(name)

        def unlink_both() -> None:
            path.unlink(missing_ok=True)
            self._properties_path(path).unlink(missing_ok=True)

        try:
            await asyncio.to_thread(unlink_both)
        except OSError as exc:
            msg = f"local image store could not delete {name}: {exc.strerror or exc}"
            raise StorageError(msg) from exc

    async def exists(self, name: str) -> bool:
        """Whether the file exists."""
        return await asyncio.to_thread(self.path_for(name).is_file)

    async def read(self, name: str) -> bytes:
        """The file's bytes."""
        path = self.path_for(name)
        try:
            return await asyncio.to_thread(path.read_bytes)
        except FileNotFoundError:
            raise BlobNotFoundError(name) from None
        except OSError as exc:
            msg = f"local image store could not read {name}: {exc.strerror or exc}"
            raise StorageError(msg) from exc

    async def list_blobs(self) -> AsyncIterator[BlobInfo]:
        """Walk the images folder; files that are not blobs we built are ignored."""
        for info in await asyncio.to_thread(self._scan):
            yield info

    def _scan(self) -> list[BlobInfo]:
        found: list[BlobInfo] = []
        top = self.root / "images"
        for folder, _dirs, files in os.walk(top):
            for file_name in files:
                path = Path(folder) / file_name
                name = path.relative_to(self.root).as_posix()
                if not is_valid_blob_name(name):
                    continue
                try:
                    stat = path.stat()
                    properties = json.loads(self._properties_path(path).read_text())
                except (OSError, ValueError):
                    properties = {"content_type": "application/octet-stream", "metadata": {}}
                    try:
                        stat = path.stat()
                    except OSError:
                        continue  # deleted while we looked
                found.append(
                    BlobInfo(
                        name=name,
                        size=stat.st_size,
                        content_type=properties.get("content_type", "application/octet-stream"),
                        metadata=properties.get("metadata", {}),
                        last_modified=datetime.fromtimestamp(stat.st_mtime, UTC),
                    )
                )
        return found

    async def close(self) -> None:
        """Nothing to release."""

    async def download_url(self, name: str, filename: str) -> SignedUrl:
        """A signed URL that makes the media route answer with an attachment."""
        self.path_for(name)
        expires_at, signature = self.signer.sign(name, download_as=filename)
        query = urlencode({"expires": expires_at, "sig": signature, "download": filename})
        return SignedUrl(url=f"{self.url_prefix}/{quote(name)}?{query}", expires_at=expires_at)

    async def signed_url(self, name: str) -> SignedUrl:
        """A root-relative URL with an HMAC signature and expiry in its query string."""
        self.path_for(name)
        expires_at, signature = self.signer.sign(name)
        query = urlencode({"expires": expires_at, "sig": signature})
        return SignedUrl(url=f"{self.url_prefix}/{quote(name)}?{query}", expires_at=expires_at)
