"""One contract, both backends: the local directory and Azure Blob Storage on Azurite."""

import asyncio
import uuid
from datetime import UTC, datetime

import httpx
import pytest

from tests.conftest import fetch
from visionary_app.services.storage.blob_names import make_blob_name, text_blob_name
from visionary_app.services.storage.blob_store import BlobNotFoundError
from visionary_app.services.storage.local_blob_store import LocalBlobStore


def _name() -> str:
    return make_blob_name(uuid.uuid4(), datetime.now(UTC), "image/png")


async def test_put_read_exists_delete(blob_store):
    name = _name()
    assert not await blob_store.exists(name)
    await blob_store.put(name, b"\x89PNG one", "image/png", {"image_id": "1"})
    assert await blob_store.exists(name)
    assert await blob_store.read(name) == b"\x89PNG one"
    await blob_store.delete(name)
    assert not await blob_store.exists(name)
    await blob_store.delete(name)
    with pytest.raises(BlobNotFoundError):
        await blob_store.read(name)


async def test_listing_carries_content_type_and_metadata(blob_store):
    image, text = _name(), None
    text = text_blob_name(image)
    await blob_store.put(image, b"img", "image/png", {"image_id": "abc", "prompt_b64": "aGk="})
    await blob_store.put(text, b"{}", "application/json", {"image_id": "abc"})
    listed = {blob.name: blob async for blob in blob_store.list_blobs()}
    assert set(listed) == {image, text}
    assert listed[image].content_type == "image/png"
    assert listed[image].size == 3
    assert listed[image].metadata == {"image_id": "abc", "prompt_b64": "aGk="}
    assert listed[image].last_modified.tzinfo is not None


async def test_names_we_did_not_build_are_refused(blob_store):
    for bad in ["../x.png", "images/a.png", "images/2026/11/25/x.png"]:
        with pytest.raises(ValueError):
            await blob_store.put(bad, b"x", "image/png", {})
        with pytest.raises(ValueError):
            await blob_store.signed_url(bad)


async def test_signed_url_reads_only_its_own_blob(blob_store):
    mine, other = _name(), _name()
    await blob_store.put(mine, b"mine", "image/png", {})
    await blob_store.put(other, b"other", "image/png", {})
    url = (await blob_store.signed_url(mine)).url
    assert await fetch(blob_store, url) == (200, b"mine")
    status, body = await fetch(blob_store, url.replace(mine, other))
    assert status == 403 and body != b"other"


async def test_signed_url_cannot_write(blob_store):
    name = _name()
    await blob_store.put(name, b"original", "image/png", {})
    url = (await blob_store.signed_url(name)).url
    headers = {"x-ms-blob-type": "BlockBlob"}
    if url.startswith("/"):
        from starlette.testclient import TestClient

        from visionary_app.api.media import media_api

        response = TestClient(media_api(lambda: blob_store)).put(url, content=b"evil")
    else:
        async with httpx.AsyncClient() as client:
            response = await client.put(url, content=b"evil", headers=headers)
    assert response.status_code in (403, 405)
    assert await blob_store.read(name) == b"original"


async def test_signed_url_expires(make_blob_store):
    store = make_blob_store(ttl_seconds=1)
    name = _name()
    await store.put(name, b"soon gone", "image/png", {})
    signed = await store.signed_url(name)
    assert await fetch(store, signed.url) == (200, b"soon gone")
    await asyncio.sleep(max(0.0, signed.expires_at - datetime.now(UTC).timestamp()) + 1.5)
    status, _ = await fetch(store, signed.url)
    assert status == 403


async def test_put_leaves_only_the_blob_in_listings(blob_store):
    name = _name()
    await blob_store.put(name, b"first", "image/png", {})
    if isinstance(blob_store, LocalBlobStore):
        leftovers = [p for p in blob_store.root.rglob(".upload-*")]
        assert leftovers == []
    names = [blob.name async for blob in blob_store.list_blobs()]
    assert names == [name]


async def test_azure_container_is_private(azurite):
    from visionary_app.services.storage.azure_blob_store import AzureBlobStore

    store = AzureBlobStore.from_connection_string(
        azurite.connection_string, f"p-{uuid.uuid4().hex[:12]}", 1800, timeout_s=5, retries=0
    )
    name = _name()
    await store.put(name, b"private", "image/png", {})
    container = f"{azurite.blob_endpoint}/{store.container_name}"
    async with httpx.AsyncClient() as client:
        listing = await client.get(f"{container}?restype=container&comp=list")
        read = await client.get(f"{container}/{name}")
    await store.close()
    assert listing.status_code in (401, 403, 404) and name not in listing.text
    assert read.status_code in (401, 403, 404) and read.content != b"private"
