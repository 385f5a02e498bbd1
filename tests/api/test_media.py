import time
import uuid
from datetime import UTC, datetime

import pytest
from starlette.testclient import TestClient

from visionary_app.api.media import media_api
from visionary_app.services.storage.blob_names import make_blob_name
from visionary_app.services.storage.local_blob_store import LocalBlobStore

PNG = b"\x89PNG\r\n\x1a\nnot really"


@pytest.fixture
def client(store: LocalBlobStore) -> TestClient:
    return TestClient(media_api(lambda: store))


@pytest.fixture
async def blob(store: LocalBlobStore) -> str:
    name = make_blob_name(uuid.uuid4(), datetime.now(UTC), "image/png")
    await store.put(name, PNG, "image/png", {})
    return name


async def test_signed_url_serves_the_image(client, store, blob):
    response = client.get((await store.signed_url(blob)).url)
    assert response.status_code == 200
    assert response.content == PNG
    assert response.headers["content-type"] == "image/png"
    assert response.headers["x-content-type-options"] == "nosniff"
    assert "private" in response.headers["cache-control"]


def test_unsigned_url_is_forbidden(client, blob):
    assert client.get(f"/media/{blob}").status_code == 403


async def test_tampered_url_is_forbidden(client, store, blob):
    url = (await store.signed_url(blob)).url
    later = url.replace("expires=", "expires=9")
    assert client.get(later).status_code == 403
    other = make_blob_name(uuid.uuid4(), datetime.now(UTC), "image/png")
    assert client.get(url.replace(blob, other)).status_code == 403


def test_expired_url_is_forbidden(client, store, blob):
    expires, sig = store.signer.sign(blob, now=time.time() - store.signer.ttl_seconds - 1)
    response = client.get(f"/media/{blob}?expires={expires}&sig={sig}")
    assert response.status_code == 403


def test_path_tricks_are_not_found(client):
    assert client.get("/media/../../etc/passwd?expires=1&sig=x").status_code == 404
    assert client.get("/media/%2e%2e/%2e%2e/etc/passwd").status_code == 404


async def test_deleted_blob_with_valid_signature_is_not_found(client, store, blob):
    url = (await store.signed_url(blob)).url
    await store.delete(blob)
    assert client.get(url).status_code == 404
