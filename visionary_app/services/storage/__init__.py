"""Where image bytes live: the store contract, Azure and local stores, names, signed URLs."""

from typing import Any

from visionary_app.services.storage.blob_names import is_valid_blob_name, make_blob_name
from visionary_app.services.storage.blob_store import (
    BlobInfo,
    BlobNotFoundError,
    BlobStore,
    SignedUrl,
    StorageError,
)
from visionary_app.services.storage.content_types import content_type_for_blob
from visionary_app.services.storage.local_blob_store import LocalBlobStore
from visionary_app.services.storage.url_signing import UrlSigner

__all__ = [
    "AzureBlobStore",
    "BlobInfo",
    "BlobNotFoundError",
    "BlobStore",
    "LocalBlobStore",
    "SignedUrl",
    "StorageError",
    "UrlSigner",
    "content_type_for_blob",
    "is_valid_blob_name",
    "make_blob_name",
]


def __getattr__(name: str) -> Any:
    # Azure's SDK (about 20 MB in every worker) is loaded only where an Azure store is made.
    if name == "AzureBlobStore":
        from visionary_app.services.storage.azure_blob_store import AzureBlobStore

        return AzureBlobStore
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
