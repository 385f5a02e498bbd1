"""Keyless Azure (user delegation keys), against Azurite serving HTTPS and accepting tokens.

Azurite checks bearer tokens' claims, not their signature, so a token made here signs the app
in the way Entra ID would; the SDK then fetches real user delegation keys from the emulator.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs, urlsplit

import pytest
from azure.core.credentials import AccessToken
from azure.storage.blob.aio import BlobServiceClient

from tests.support.azurite import Azurite
from tests.support.entra import entra_access_token
from visionary_app.services.storage.azure_blob_store import (
    MAX_DELEGATION_KEY_LIFETIME,
    AzureBlobStore,
    needs_new_delegation_key,
)


class EmulatorToken:
    """An Entra-shaped access token for Azurite (which reads the claims, not a signature)."""

    async def get_token(self, *scopes, **kwargs) -> AccessToken:
        return AccessToken(*entra_access_token())

    async def close(self) -> None:
        pass


class CountingService(BlobServiceClient):
    """The SDK's client, counting the delegation keys it fetches."""

    keys_fetched = 0

    async def get_user_delegation_key(self, *args, **kwargs):
        self.keys_fetched += 1
        return await super().get_user_delegation_key(*args, **kwargs)


@pytest.fixture(scope="module")
def azurite_https(tmp_path_factory):
    with Azurite(tmp_path_factory.mktemp("azurite-oauth"), oauth=True) as emulator:
        yield emulator


NAME = "images/2026/11/28/00000000-0000-0000-0000-000000000001.png"


async def _keyless_store(emulator: Azurite, ttl_seconds: int) -> AzureBlobStore:
    service = CountingService(
        emulator.blob_endpoint, credential=EmulatorToken(), connection_verify=False
    )
    store = AzureBlobStore(service, f"keyless-{ttl_seconds}", ttl_seconds)
    await store.put(NAME, b"png", "image/png", {})
    return store


@pytest.mark.parametrize("ttl_hours", [0.5, 24, 7 * 24])
async def test_links_never_outlive_their_key_and_keys_are_reused(azurite_https, ttl_hours):
    store = await _keyless_store(azurite_https, int(ttl_hours * 3600))
    try:
        links = [await store.signed_url(NAME) for _ in range(5)]
        assert store._service.keys_fetched == 1  # one key for many links, whatever the TTL
        key_expiry = store._delegation_key_expiry
        for link in links:
            assert link.expires_at <= key_expiry.timestamp()
            query = parse_qs(urlsplit(link.url).query)
            assert datetime.fromisoformat(query["se"][0].replace("Z", "+00:00")) <= key_expiry
            assert query["spr"] == ["https"]  # real Azure (https): never over plain HTTP
            assert query["sp"] == ["r"]  # read only
        wanted = min(ttl_hours * 3600, MAX_DELEGATION_KEY_LIFETIME.total_seconds())
        # Issued as of the start of the current window (half the TTL): at least half is left.
        assert links[0].expires_at >= time.time() + wanted / 2 - 120
        assert len({link.url for link in links}) == 1  # one URL all window long
    finally:
        await store.close()


def test_a_key_is_renewed_only_when_a_new_link_would_outlive_it():
    now = datetime(2026, 11, 28, tzinfo=UTC)
    half_hour, week = timedelta(minutes=30), timedelta(days=7)
    assert needs_new_delegation_key(None, now, half_hour)
    assert not needs_new_delegation_key(now + timedelta(hours=12), now, half_hour)
    assert needs_new_delegation_key(now + timedelta(minutes=20), now, half_hour)
    # With week-long links the key cannot cover a whole link: reuse it for 12 h anyway.
    fresh = now + MAX_DELEGATION_KEY_LIFETIME
    assert not needs_new_delegation_key(fresh, now + timedelta(hours=11), week)
    assert needs_new_delegation_key(fresh, now + timedelta(hours=13), week)


async def test_links_over_plain_http_are_allowed_only_on_http_endpoints(azurite):
    # Azurite (http) cannot serve an https-only SAS; a connection-string store on http omits it.
    store = AzureBlobStore.from_connection_string(
        azurite.connection_string, "plain-http", 1800, timeout_s=5, retries=0
    )
    try:
        link = await store.signed_url(NAME)
    finally:
        await store.close()
    assert "spr=" not in link.url


async def test_an_image_is_read_through_its_delegation_sas_until_the_link_expires(azurite_https):
    import httpx

    store = await _keyless_store(azurite_https, 1801)  # a container of its own
    try:
        link = await store.signed_url(NAME)
        async with httpx.AsyncClient(verify=False) as client:
            fetched = await client.get(link.url)
            assert fetched.status_code == 200 and fetched.content == b"png"
            # A link issued two lifetimes ago expired an hour ago: the store refuses it.
            stale = await store._sign(NAME, time.time() - 2 * 1801)
            assert stale.expires_at < time.time()
            refused = await client.get(stale.url)
            assert refused.status_code == 403
    finally:
        await store.close()
