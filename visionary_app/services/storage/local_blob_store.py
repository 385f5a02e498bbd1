"""The local-directory `BlobStore`: files under a root, served by the app's `/media` route."""

from __future__ import annotations

import asyncio
import json
import os
import tempfile
from collections.abc import AsyncIterator, Mapping
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import quote, urlencode

from visionary_app.services.storage.blob_names import is_valid_blob_name
from visionary_app.services.storage.blob_store import (
    BlobInfo,
    BlobNotFoundError,
    SignedUrl,
    StorageError,
)
from visionary_app.services.storage.url_cache import UrlCache
from visionary_app.services.storage.url_signing import UrlSigner

__all__ = ["LocalBlobStore"]


class LocalBlobStore:
    """Blobs as files under a root directory, served by the app's `/media` route."""

    def __init__(self, root: Path, signer: UrlSigner, url_prefix: str = "/media") -> None:
        self.root = root
        self.signer = signer
        self._urls = UrlCache(signer.ttl_seconds)
        self.url_prefix = url_prefix.rstrip("/")

    @property
    def url_origin(self) -> str:
        """Where its signed URLs point: "" (this app itself)."""
        return ""

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
        self,
        name: str,
        data: bytes,
        content_type: str,
        metadata: Mapping[str, str],
        *,
        overwrite: bool = False,
    ) -> None:
        """Write properties, then the bytes, each through a temporary file and a rename.

        (A rename replaces what was there: `overwrite` is for the contract's other stores.)
        """
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

    async def set_metadata(self, name: str, metadata: Mapping[str, str]) -> None:
        """Rewrite the properties file with new metadata (the content type stays)."""
        path = self.path_for(name)

        def rewrite() -> None:
            if not path.is_file():
                raise BlobNotFoundError(name)
            properties_path = self._properties_path(path)
            try:
                properties = json.loads(properties_path.read_text())
            except (OSError, ValueError):
                properties = {"content_type": "application/octet-stream"}
            properties["metadata"] = dict(metadata)
            self._write_atomically(properties_path, json.dumps(properties).encode())

        try:
            await asyncio.to_thread(rewrite)
        except OSError as exc:
            msg = f"local image store could not update {name}: {exc.strerror or exc}"
            raise StorageError(msg) from exc

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

    async def root_exists(self) -> bool:
        """Whether the store's directory exists (a mistyped data directory does not)."""
        return await asyncio.to_thread(self.root.is_dir)

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
        """A root-relative URL with an HMAC signature and expiry in its query string.

        Signed once per blob and window (UrlCache), so it is the same URL all window long.
        """
        return await self._urls.get(name, lambda issued_at: self._sign(name, issued_at))

    async def _sign(self, name: str, issued_at: float) -> SignedUrl:
        self.path_for(name)
        expires_at, signature = self.signer.sign(name, now=issued_at)
        query = urlencode({"expires": expires_at, "sig": signature})
        return SignedUrl(url=f"{self.url_prefix}/{quote(name)}?{query}", expires_at=expires_at)
