"""Images in Azure Blob Storage (or Azurite): private container, read-only per-blob SAS URLs."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import quote, urlsplit

from azure.core.exceptions import AzureError, ResourceExistsError, ResourceNotFoundError
from azure.storage.blob import (
    BlobSasPermissions,
    ContentSettings,
    UserDelegationKey,
    generate_blob_sas,
)
from azure.storage.blob.aio import BlobServiceClient, LinearRetry

from visionary_app.services.storage.blob_names import is_valid_blob_name
from visionary_app.services.storage.blob_store import (
    BlobInfo,
    BlobNotFoundError,
    SignedUrl,
    StorageError,
)
from visionary_app.services.storage.url_cache import UrlCache

__all__ = ["AzureBlobStore"]

# Clocks disagree a little; a SAS valid from slightly in the past works everywhere at once.
SAS_START_SKEW = timedelta(minutes=5)
# Blobs never change after upload (new images get new names), so browsers may keep them.
CACHE_CONTROL = "private, max-age=31536000, immutable"
# A user delegation key is fetched for at least this long and reused until it would run out.
_DELEGATION_KEY_REUSE = timedelta(hours=12)
# Azure issues user delegation keys for at most seven days.
MAX_DELEGATION_KEY_LIFETIME = timedelta(days=7) - timedelta(minutes=1)


def delegation_key_lifetime(ttl: timedelta) -> timedelta:
    """How long to ask a new user delegation key to last: every link's life, and reuse."""
    return min(MAX_DELEGATION_KEY_LIFETIME, ttl + _DELEGATION_KEY_REUSE)


def needs_new_delegation_key(key_expiry: datetime | None, now: datetime, ttl: timedelta) -> bool:
    """Whether the key in hand is missing or too close to its end for a link made now.

    A link lasts `ttl`, but no longer than the key that signs it; a key at the longest
    lifetime Azure allows is still reused for _DELEGATION_KEY_REUSE, not fetched per link.
    """
    if key_expiry is None:
        return True
    lifetime = delegation_key_lifetime(ttl)
    return key_expiry < now + min(ttl, lifetime - _DELEGATION_KEY_REUSE)


def _client_options(timeout_s: float, retries: int) -> dict[str, Any]:
    # The SDK's default policy waits ~84 s on a dead endpoint; users get an answer in bounds.
    return {
        "retry_policy": LinearRetry(backoff=0.5, random_jitter_range=0, retry_total=retries),
        "connection_timeout": timeout_s,
        "read_timeout": timeout_s,
    }


class AzureBlobStore:
    """The `BlobStore` contract on `azure.storage.blob.aio`."""

    def __init__(
        self,
        service: BlobServiceClient,
        container: str,
        ttl_seconds: int,
        *,
        account_key: str | None = None,
    ) -> None:
        self._service = service
        self._container = service.get_container_client(container)
        self.container_name = container
        self.ttl_seconds = ttl_seconds
        self._urls = UrlCache(ttl_seconds)
        self._account_key = account_key
        self._delegation_key: UserDelegationKey | None = None
        self._delegation_key_expiry = datetime.min.replace(tzinfo=UTC)
        self._delegation_lock = asyncio.Lock()
        self._container_ready = False

    @property
    def url_origin(self) -> str:
        """Where its signed URLs point: the storage account (pages load images from there)."""
        parts = urlsplit(self._container.url)
        return f"{parts.scheme}://{parts.netloc}"

    @classmethod
    def from_connection_string(
        cls,
        connection_string: str,
        container: str,
        ttl_seconds: int,
        *,
        timeout_s: float,
        retries: int,
    ) -> AzureBlobStore:
        """A store authenticated with the account key in a connection string (Azurite, Azure)."""
        service = BlobServiceClient.from_connection_string(
            connection_string, **_client_options(timeout_s, retries)
        )
        return cls(service, container, ttl_seconds, account_key=service.credential.account_key)

    @classmethod
    def from_account_url(
        cls, account_url: str, container: str, ttl_seconds: int, *, timeout_s: float, retries: int
    ) -> AzureBlobStore:
        """A store using DefaultAzureCredential; URLs then carry user-delegation SAS tokens."""
        from azure.identity.aio import DefaultAzureCredential

        service = BlobServiceClient(
            account_url, credential=DefaultAzureCredential(), **_client_options(timeout_s, retries)
        )
        return cls(service, container, ttl_seconds)

    async def close(self) -> None:
        """Release the HTTP session."""
        await self._service.close()

    async def ensure_container(self) -> None:
        """Create the container if it is missing, without public access."""
        if self._container_ready:
            return
        try:
            await self._container.create_container()
        except ResourceExistsError:
            pass
        except AzureError as exc:
            raise StorageError(f"blob storage is unavailable: {_describe(exc)}") from exc
        self._container_ready = True

    async def put(
        self,
        name: str,
        data: bytes,
        content_type: str,
        metadata: Mapping[str, str],
        *,
        overwrite: bool = False,
    ) -> None:
        """One Put Blob request: the blob appears whole or not at all."""
        _check(name)
        await self.ensure_container()
        try:
            await self._container.upload_blob(
                name,
                data,
                overwrite=overwrite,
                metadata=dict(metadata),
                content_settings=ContentSettings(
                    content_type=content_type, cache_control=CACHE_CONTROL
                ),
            )
        except AzureError as exc:
            raise StorageError(f"blob storage could not store {name}: {_describe(exc)}") from exc

    async def set_metadata(self, name: str, metadata: Mapping[str, str]) -> None:
        """One Set Blob Metadata request (it replaces all of the blob's metadata)."""
        _check(name)
        try:
            await self._container.get_blob_client(name).set_blob_metadata(dict(metadata))
        except ResourceNotFoundError:
            raise BlobNotFoundError(name) from None
        except AzureError as exc:
            msg = f"blob storage could not update {name}: {_describe(exc)}"
            raise StorageError(msg) from exc

    async def delete(self, name: str) -> None:
        """Delete the blob and its snapshots; a missing blob is fine."""
        _check(name)
        try:
            await self._container.delete_blob(name, delete_snapshots="include")
        except ResourceNotFoundError:
            return
        except AzureError as exc:
            raise StorageError(f"blob storage could not delete {name}: {_describe(exc)}") from exc

    async def exists(self, name: str) -> bool:
        """Whether the blob exists."""
        _check(name)
        try:
            return await self._container.get_blob_client(name).exists()
        except AzureError as exc:
            raise StorageError(f"blob storage is unavailable: {_describe(exc)}") from exc

    async def read(self, name: str) -> bytes:
        """Download the whole blob."""
        _check(name)
        try:
            downloader = await self._container.download_blob(name)
            return await downloader.readall()
        except ResourceNotFoundError:
            raise BlobNotFoundError(name) from None
        except AzureError as exc:
            raise StorageError(f"blob storage could not read {name}: {_describe(exc)}") from exc

    async def root_exists(self) -> bool:
        """Whether the container exists (a mistyped name does not)."""
        try:
            return await self._container.exists()
        except AzureError as exc:
            raise StorageError(f"blob storage is unavailable: {_describe(exc)}") from exc

    async def list_blobs(self) -> AsyncIterator[BlobInfo]:
        """List the images folder with metadata; names we could not have built are skipped."""
        try:
            async for blob in self._container.list_blobs(
                name_starts_with="images/", include=["metadata"]
            ):
                if not is_valid_blob_name(blob.name):
                    continue
                yield BlobInfo(
                    name=blob.name,
                    size=blob.size,
                    content_type=blob.content_settings.content_type or "application/octet-stream",
                    metadata=dict(blob.metadata or {}),
                    last_modified=blob.last_modified,
                )
        except ResourceNotFoundError:
            return  # no container yet: nothing stored
        except AzureError as exc:
            raise StorageError(f"blob storage could not be listed: {_describe(exc)}") from exc

    async def download_url(self, name: str, filename: str) -> SignedUrl:
        """A read-only SAS URL whose response is an attachment named `filename`."""
        return await self._sign(name, datetime.now(UTC).timestamp(), download_as=filename)

    async def signed_url(self, name: str) -> SignedUrl:
        """A read-only SAS URL for this one blob, the same all window long (UrlCache)."""
        return await self._urls.get(name, lambda issued_at: self._sign(name, issued_at))

    async def _sign(self, name: str, issued_at: float, download_as: str | None = None) -> SignedUrl:
        """A read-only SAS valid from a little before `issued_at` for the TTL.

        With a user delegation key, the link ends no later than the key. On real Azure
        (https) the SAS is only good over HTTPS.
        """
        _check(name)
        now = datetime.fromtimestamp(issued_at, UTC)
        expiry = now + timedelta(seconds=self.ttl_seconds)
        credential: dict[str, Any]
        if self._account_key is not None:
            credential = {"account_key": self._account_key}
        else:
            key, key_expiry = await self._user_delegation_key(datetime.now(UTC))
            credential = {"user_delegation_key": key}
            expiry = min(expiry, key_expiry)
        token = generate_blob_sas(
            account_name=self._service.account_name,
            container_name=self.container_name,
            blob_name=name,
            permission=BlobSasPermissions(read=True),
            start=now - SAS_START_SKEW,
            expiry=expiry,
            protocol="https" if self._container.url.startswith("https://") else None,
            content_disposition=(
                f'attachment; filename="{download_as}"' if download_as is not None else None
            ),
            **credential,
        )
        url = f"{self._container.url}/{quote(name)}?{token}"
        return SignedUrl(url=url, expires_at=int(expiry.timestamp()))

    async def _user_delegation_key(self, now: datetime) -> tuple[UserDelegationKey, datetime]:
        ttl = timedelta(seconds=self.ttl_seconds)
        async with self._delegation_lock:
            if self._delegation_key is None or needs_new_delegation_key(
                self._delegation_key_expiry, now, ttl
            ):
                start = now - SAS_START_SKEW
                expiry = now + delegation_key_lifetime(ttl)
                try:
                    self._delegation_key = await self._service.get_user_delegation_key(
                        start, expiry
                    )
                except AzureError as exc:
                    msg = f"blob storage refused a user delegation key: {_describe(exc)}"
                    raise StorageError(msg) from exc
                self._delegation_key_expiry = expiry
            return self._delegation_key, self._delegation_key_expiry


def _check(name: str) -> None:
    if not is_valid_blob_name(name):
        msg = f"invalid blob name {name!r}"
        raise ValueError(msg)


def _describe(exc: AzureError) -> str:
    # First line only: SDK messages can carry request details we do not want in logs or toasts.
    text = (exc.message or exc.__class__.__name__).splitlines()[0]
    return f"{exc.__class__.__name__}: {text[:200]}"
