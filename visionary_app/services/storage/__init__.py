"""Where image bytes live: the store contract, Azure and local stores, names, signed URLs."""

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
