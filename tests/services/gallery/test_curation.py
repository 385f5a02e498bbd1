"""Deleting, starring, paging and downloading stored images."""

import uuid
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from starlette.testclient import TestClient

from tests.conftest import ANYONE, indexed_image, small_pipeline
from visionary_app.api.media import media_api
from visionary_app.models import Image, Visibility
from visionary_app.services.access.ownership import Scope, Viewer
from visionary_app.services.gallery.catalog import Catalog, PageCursor, make_index_engine
from visionary_app.services.gallery.curation import (
    DeleteFailed,
    change_visibility,
    delete_image,
    download_filename,
)
from visionary_app.services.gallery.mirror import reconcile
from visionary_app.services.kit.database import upgrade_to_head
from visionary_app.services.storage.blob_names import companion_blob_names
from visionary_app.services.storage.blob_store import StorageError
from visionary_app.services.storage.local_blob_store import LocalBlobStore


async def _names(store) -> set[str]:
    return {blob.name async for blob in store.list_blobs()}


async def test_delete_removes_image_thumbnail_text_and_row_and_sync_keeps_it_gone(
    blob_store, catalog
):
    kept = await small_pipeline(blob_store, catalog).generate("kept")
    doomed = await small_pipeline(blob_store, catalog).generate("🦊" * 3000)  # has a text blob
    parts = {doomed.blob_name, *companion_blob_names(doomed.blob_name)}
    assert parts <= await _names(blob_store)

    await delete_image(blob_store, catalog, doomed)

    assert not parts & await _names(blob_store)
    assert await catalog.get(doomed.id) is None
    report = await reconcile(blob_store, catalog, grace=timedelta(0))
    assert report.indexed == [] and report.removed_rows == []
    assert [image.id for image in await catalog.newest(10, viewer=ANYONE)] == [kept.id]


async def test_delete_with_storage_down_changes_nothing(store, catalog):
    image = await small_pipeline(store, catalog).generate("stays")

    class Unavailable(LocalBlobStore):
        async def delete(self, name):
            raise StorageError("down")

    with pytest.raises(DeleteFailed, match="Nothing was changed"):
        await delete_image(Unavailable(store.root, store.signer), catalog, image)
    assert await catalog.get(image.id) is not None
    assert image.blob_name in await _names(store)


async def test_favourites_are_per_user_and_filter(catalog, store):
    alice, bob = Viewer("user:alice"), Viewer("user:bob")
    first = await small_pipeline(store, catalog).generate("one")
    second = await small_pipeline(store, catalog).generate("two")
    assert await catalog.set_favourite(alice, first.id, True)
    assert not await catalog.set_favourite(alice, uuid.uuid4(), True)
    mine = await catalog.newest(10, viewer=alice, favourites_only=True)
    assert [i.id for i in mine] == [first.id]
    assert await catalog.starred(alice, [first.id, second.id]) == {first.id}
    # Alice's star is hers: Bob has none, and his own star does not touch hers.
    assert await catalog.newest(10, viewer=bob, favourites_only=True) == []
    assert await catalog.set_favourite(bob, second.id, True)
    assert await catalog.starred(alice, [first.id, second.id]) == {first.id}
    assert await catalog.set_favourite(alice, first.id, False)
    assert await catalog.starred(alice, [first.id]) == set()


async def test_a_private_image_reaches_nobody_else(catalog, store):
    alice, bob = Viewer("user:alice"), Viewer("user:bob")
    admin = Viewer("user:root", admin=True)
    pipeline = small_pipeline(store, catalog)
    private = await pipeline.generate("alice's secret", owner=alice.owner)
    await change_visibility(store, catalog, private, Visibility.PRIVATE)
    private = await catalog.get(private.id)
    shared = await pipeline.generate("alice's shared", owner=alice.owner)
    for outsider in (bob, admin):
        assert [i.id for i in await catalog.newest(10, viewer=outsider)] == [shared.id]
        assert await catalog.newest(10, viewer=outsider, search="secret") == []
        assert await catalog.get_for(outsider, private.id) is None
        assert not await catalog.set_favourite(outsider, private.id, True)
        assert await catalog.count(outsider) == 1
    assert [i.id for i in await catalog.newest(10, viewer=alice)] == [shared.id, private.id]
    assert [i.id for i in await catalog.newest(10, viewer=bob, scope=Scope.MINE)] == []
    assert len(await catalog.newest(10, viewer=alice, scope=Scope.MINE)) == 2
    # Who may change what: the owner, and an admin on what they can see.
    assert alice.may_change(private) and not admin.may_change(private)
    assert admin.may_change(shared) and not bob.may_change(shared)


async def test_visibility_goes_into_the_blob_so_sync_restores_it(catalog, store, tmp_path):
    image = await small_pipeline(store, catalog).generate("secret", owner="user:alice")
    await change_visibility(store, catalog, image, Visibility.PRIVATE)
    url = f"sqlite:///{tmp_path / 'rebuilt.db'}"
    upgrade_to_head(url)
    rebuilt = Catalog(make_index_engine(url))
    await reconcile(store, rebuilt, grace=timedelta(0))
    restored = await rebuilt.get(image.id)
    assert (restored.owner, restored.visibility) == ("user:alice", "private")


def _row(created_at: datetime) -> Image:
    return indexed_image(created_at, str(created_at))


async def test_paging_while_new_images_arrive_never_repeats_or_skips(catalog):
    start = datetime(2026, 11, 25, tzinfo=UTC)
    original = [_row(start + timedelta(seconds=i // 3)) for i in range(40)]
    await catalog.add_many(original)
    seen, cursor, newer = [], None, 0
    for _ in range(50):  # bounded: a cursor that does not advance must fail, not hang
        page = await catalog.newest(7, before=cursor, viewer=ANYONE)
        if not page:
            break
        seen += [image.id for image in page]
        cursor = PageCursor.after(page[-1])
        newer += 1  # someone generates while the user scrolls
        await catalog.add(_row(start + timedelta(days=1, seconds=newer)))
    assert len(seen) == len(set(seen)) == 40
    assert set(seen) == {image.id for image in original}


@pytest.mark.parametrize(
    ("prompt", "expected"),
    [
        ("A Fox in the Snow!", "a-fox-in-the-snow-2026-11-25.png"),
        ("Crème brûlée ../../etc/passwd", "creme-brulee-etc-passwd-2026-11-25.png"),
        ("東京の夜景", "image-2026-11-25.png"),
        (
            "word " * 40,
            "word-word-word-word-word-word-word-word-word-word-word-word-2026-11-25.png",
        ),
    ],
)
def test_download_file_names(prompt, expected):
    image = _row(datetime(2026, 11, 25, 10, tzinfo=UTC))
    image.prompt = prompt
    assert download_filename(image) == expected


async def test_download_urls_name_the_file_and_cannot_be_renamed(blob_store, catalog):
    image = await small_pipeline(blob_store, catalog).generate("a download")
    name = download_filename(image)
    url = (await blob_store.download_url(image.blob_name, name)).url
    if url.startswith("/"):
        client = TestClient(media_api(lambda: blob_store))
        response = client.get(url)
        renamed = client.get(url.replace(name, "evil.html"))
        assert renamed.status_code == 403
    else:
        async with httpx.AsyncClient() as client:
            response = await client.get(url)
    assert response.status_code == 200
    assert response.headers["content-disposition"] == f'attachment; filename="{name}"'
    assert response.content.startswith(b"\x89PNG")
