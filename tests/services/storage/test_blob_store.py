import os
import stat
import uuid
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlsplit

import pytest

from visionary_app.services.kit.secret_keys import KeyFileError, load_or_create_key
from visionary_app.services.storage.blob_names import is_valid_blob_name, make_blob_name
from visionary_app.services.storage.blob_store import StorageError
from visionary_app.services.storage.local_blob_store import LocalBlobStore
from visionary_app.services.storage.url_signing import UrlSigner

WHEN = datetime(2026, 11, 25, 23, 30, tzinfo=UTC)


def test_blob_name_is_date_and_uuid_only():
    image_id = uuid.UUID("12345678-1234-5678-9abc-def012345678")
    name = make_blob_name(image_id, WHEN, "image/png")
    assert name == "images/2026/11/25/12345678-1234-5678-9abc-def012345678.png"
    assert is_valid_blob_name(name)


def test_blob_name_uses_utc_date():
    # 01:30 in UTC+3 is still the previous day in UTC.
    local = datetime(2026, 11, 26, 1, 30, tzinfo=timezone(timedelta(hours=3)))
    assert make_blob_name(uuid.uuid4(), local, "image/webp").startswith("images/2026/11/25/")


def test_unknown_content_type_is_refused():
    with pytest.raises(ValueError, match="unsupported"):
        make_blob_name(uuid.uuid4(), WHEN, "text/html")


@pytest.mark.parametrize(
    "name",
    [
        "../secret.png",
        "images/2026/11/25/../../../etc/passwd",
        "images/2026/11/25/not-a-uuid.png",
        f"images/2026/11/25/{uuid.uuid4()}.png/",
        f"/images/2026/11/25/{uuid.uuid4()}.png",
        f"images/2026/11/25/{uuid.uuid4()}.html",
        f"images\\2026\\11\\25\\{uuid.uuid4()}.png",
        f"images/2026/11/25/{uuid.uuid4()}.png\n",
        "",
    ],
)
def test_foreign_names_are_rejected(name, store):
    assert not is_valid_blob_name(name)
    with pytest.raises(ValueError):
        store.path_for(name)


async def test_put_exists_delete(store: LocalBlobStore):
    name = make_blob_name(uuid.uuid4(), WHEN, "image/png")
    assert not await store.exists(name)
    await store.put(name, b"\x89PNG fake", "image/png", {})
    assert await store.exists(name)
    assert store.path_for(name).read_bytes() == b"\x89PNG fake"
    await store.delete(name)
    assert not await store.exists(name)
    await store.delete(name)  # deleting twice is fine


async def test_failed_write_leaves_nothing_behind(store: LocalBlobStore):
    name = make_blob_name(uuid.uuid4(), WHEN, "image/png")
    target = store.path_for(name)
    target.mkdir(parents=True)  # a directory where the file should go makes the rename fail
    with pytest.raises(StorageError, match="could not write"):
        await store.put(name, b"data", "image/png", {})
    assert [p.name for p in target.parent.iterdir()] == [target.name]


def _query(url: str) -> tuple[str, str, str]:
    parts = urlsplit(url)
    query = parse_qs(parts.query)
    return unquote(parts.path.removeprefix("/media/")), query["expires"][0], query["sig"][0]


async def test_signed_url_verifies_until_expiry(store: LocalBlobStore, signer: UrlSigner):
    name = make_blob_name(uuid.uuid4(), WHEN, "image/png")
    signed = await store.signed_url(name)
    assert signed.url.startswith("/media/images/2026/11/25/")
    path_name, expires, sig = _query(signed.url)
    assert path_name == name
    assert int(expires) == signed.expires_at
    assert signer.verify(name, expires, sig)
    assert signer.verify(name, expires, sig, now=signed.expires_at - 1)
    assert not signer.verify(name, expires, sig, now=signed.expires_at)


async def test_tampering_breaks_the_signature(store: LocalBlobStore, signer: UrlSigner):
    name = make_blob_name(uuid.uuid4(), WHEN, "image/png")
    other = make_blob_name(uuid.uuid4(), WHEN, "image/png")
    _, expires, sig = _query((await store.signed_url(name)).url)
    assert not signer.verify(other, expires, sig)
    assert not signer.verify(name, str(int(expires) + 3600), sig)
    assert not signer.verify(name, expires, sig[:-1] + ("A" if sig[-1] != "A" else "B"))
    assert not signer.verify(name, expires, "")
    assert not signer.verify(name, "soon", sig)
    assert not UrlSigner(b"another-key-0123456789", 1800).verify(name, expires, sig)


def test_default_ttl_is_thirty_minutes(signer: UrlSigner):
    expires_at, _ = signer.sign("x", now=1000)
    assert expires_at == 1000 + 30 * 60


def test_short_keys_are_refused():
    with pytest.raises(ValueError):
        UrlSigner(b"short", 60)


def test_signing_key_is_created_once_and_private(tmp_path: Path):
    path = tmp_path / "keys" / "url-signing.key"
    first = load_or_create_key(path, "URL signing key")
    assert len(first) >= 32
    assert load_or_create_key(path, "URL signing key") == first
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600


def test_an_empty_key_file_is_named_for_what_it_holds(tmp_path: Path):
    path = tmp_path / "session.key"
    path.write_bytes(b"")
    with pytest.raises(KeyFileError, match=r"^session key file .* is empty$"):
        load_or_create_key(path, "session key")
