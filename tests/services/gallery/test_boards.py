"""Boards: made, filled, filtered, changed by whom they may be, and rebuilt by `sync`."""

import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from tests.conftest import small_pipeline
from visionary_app.models import Visibility
from visionary_app.services.access.ownership import Viewer
from visionary_app.services.gallery import BoardRefused, Boards, LibraryNotSaved, star
from visionary_app.services.gallery.catalog import Catalog, make_index_engine
from visionary_app.services.gallery.curation import change_visibility
from visionary_app.services.gallery.mirror import reconcile
from visionary_app.services.kit.database import upgrade_to_head
from visionary_app.services.storage.blob_metadata import (
    METADATA_BUDGET_BYTES,
    Library,
    decode_library,
    encode_image,
)
from visionary_app.services.storage.blob_names import text_blob_name
from visionary_app.services.storage.blob_store import StorageError

ALICE = Viewer(owner="user:alice")
BOB = Viewer(owner="user:bob")
ADMIN = Viewer(owner="user:root", admin=True)


def _catalog(tmp_path: Path, name: str) -> Catalog:
    url = f"sqlite:///{tmp_path / name}"
    upgrade_to_head(url)
    return Catalog(make_index_engine(url))


async def _metadata(store, image) -> dict[str, str]:
    async for blob in store.list_blobs():
        if blob.name == image.blob_name:
            return blob.metadata
    raise AssertionError(f"{image.blob_name} is not listed")


async def test_a_board_is_made_filled_and_filtered(blob_store, catalog):
    pipeline = small_pipeline(blob_store, catalog)
    boards = Boards(catalog, blob_store)
    fox = await pipeline.generate("a fox", owner=ALICE.owner)
    owl = await pipeline.generate("an owl", owner=ALICE.owner)
    await pipeline.generate("a cat", owner=ALICE.owner)
    board = await boards.create(ALICE, "  Forest\tanimals \n")
    assert board.name == "Forest animals"
    board = await boards.rename(ALICE, board.id, "Forest animals 🦊")  # its blob is replaced
    assert [b.name for b in await boards.visible_to(ALICE)] == ["Forest animals 🦊"]

    change = await boards.add(ALICE, board.id, [fox.id, owl.id, fox.id])
    assert sorted(change.done) == sorted([fox.id, owl.id]) and change.refused == 0

    shown = await catalog.newest(10, viewer=ALICE, board=board.id)
    assert [image.prompt for image in shown] == ["an owl", "a fox"]
    assert await boards.boards_holding(ALICE, fox.id) == {board.id}
    # The blob keeps it, so `sync` can bring it back.
    assert decode_library(await _metadata(blob_store, fox)).boards == (board.id,)

    await boards.remove(ALICE, board.id, [owl.id])
    assert [i.prompt for i in await catalog.newest(10, viewer=ALICE, board=board.id)] == ["a fox"]
    assert decode_library(await _metadata(blob_store, owl)).boards == ()
    assert await catalog.get(owl.id) is not None  # out of the board, still in the gallery


async def test_only_the_owner_or_an_admin_of_a_shared_board_changes_it(store, catalog):
    pipeline = small_pipeline(store, catalog)
    boards = Boards(catalog, store)
    private = await boards.create(ALICE, "mine")
    shared = await boards.create(ALICE, "ours", Visibility.SHARED)
    image = await pipeline.generate("a shared image", owner=BOB.owner)

    assert [b.name for b in await boards.visible_to(BOB)] == ["ours"]
    assert await boards.get_for(BOB, private.id) is None
    for attempt in (
        boards.rename(BOB, shared.id, "taken"),
        boards.add(BOB, shared.id, [image.id]),
        boards.delete(BOB, shared.id),
        boards.rename(BOB, private.id, "taken"),
        boards.rename(ADMIN, private.id, "admins do not see private boards"),
    ):
        with pytest.raises(BoardRefused):
            await attempt
    renamed = await boards.rename(ADMIN, shared.id, "Team picks")
    assert renamed.name == "Team picks"
    assert (await boards.add(ADMIN, shared.id, [image.id])).done == [image.id]
    with pytest.raises(BoardRefused):
        await boards.set_visibility(ADMIN, shared.id, Visibility.PRIVATE)  # owner's call only


async def test_a_selection_with_others_private_images_acts_only_on_the_rest(store, catalog):
    pipeline = small_pipeline(store, catalog)
    boards = Boards(catalog, store)
    mine = await pipeline.generate("mine", owner=ALICE.owner)
    theirs = await pipeline.generate("theirs", owner=BOB.owner)
    await change_visibility(store, catalog, theirs, Visibility.PRIVATE)
    board = await boards.create(ALICE, "picks")
    change = await boards.add(ALICE, board.id, [mine.id, theirs.id, uuid.uuid4()])
    assert change.done == [mine.id] and change.refused == 2
    assert await boards.boards_holding(BOB, theirs.id) == set()


async def test_deleting_a_board_keeps_its_images(store, catalog):
    pipeline = small_pipeline(store, catalog)
    boards = Boards(catalog, store)
    image = await pipeline.generate("kept", owner=ALICE.owner)
    board = await boards.create(ALICE, "short-lived")
    await boards.add(ALICE, board.id, [image.id])
    await boards.delete(ALICE, board.id)
    assert await boards.visible_to(ALICE) == []
    assert await catalog.get(image.id) is not None
    assert await catalog.newest(10, viewer=ALICE, board=board.id) == []


@pytest.mark.parametrize("name", ["", "   ", "\n\t", "x" * 81])
async def test_a_board_needs_a_name_of_reasonable_length(store, catalog, name):
    with pytest.raises(BoardRefused):
        await Boards(catalog, store).create(ALICE, name)


async def test_boards_and_stars_survive_a_rebuild_from_the_blobs(blob_store, tmp_path):
    original = _catalog(tmp_path, "original.db")
    pipeline = small_pipeline(blob_store, original)
    boards = Boards(original, blob_store)
    fox = await pipeline.generate("狐 a fox", owner=ALICE.owner)
    owl = await pipeline.generate("an owl", owner=BOB.owner)
    long = await pipeline.generate("狐" * 2000, owner=ALICE.owner)  # its prompt in a text blob
    board = await boards.create(ALICE, "Wald & Tiere 🌲", Visibility.SHARED)
    await boards.add(ALICE, board.id, [fox.id, owl.id, long.id])
    assert await star(blob_store, original, ALICE, fox, True)
    assert await star(blob_store, original, BOB, fox, True)
    assert await star(blob_store, original, BOB, owl, True)
    assert await star(blob_store, original, BOB, owl, False)
    # A visibility change keeps them too (it rewrites the metadata).
    await change_visibility(blob_store, original, owl, Visibility.PRIVATE)

    rebuilt = _catalog(tmp_path, "rebuilt.db")  # the index is lost
    report = await reconcile(blob_store, rebuilt, grace=timedelta(0))
    assert report.boards_restored == ["Wald & Tiere 🌲"]
    again = Boards(rebuilt, blob_store)
    (restored,) = await again.visible_to(BOB)
    assert (restored.id, restored.owner, restored.visibility) == (board.id, ALICE.owner, "shared")
    assert [i.prompt for i in await rebuilt.newest(10, viewer=BOB, board=board.id)] == [
        "狐" * 2000,
        "an owl",
        "狐 a fox",
    ]
    assert await rebuilt.starred(ALICE, [fox.id, owl.id]) == {fox.id}
    assert await rebuilt.starred(BOB, [fox.id, owl.id]) == {fox.id}
    assert (await reconcile(blob_store, rebuilt, grace=timedelta(0))).boards_restored == []


def test_a_library_too_big_for_metadata_moves_to_the_text_blob(catalog):
    from tests.conftest import indexed_image
    from visionary_app.models import Image

    image: Image = indexed_image(datetime.now(UTC))
    many = Library(starred_by=tuple(f"visitor:{uuid.uuid4()}" for _ in range(200)))
    encoded = encode_image(image, many)
    assert sum(len(k) + len(v) for k, v in encoded.metadata.items()) <= METADATA_BUDGET_BYTES
    assert encoded.text_blob is not None
    assert decode_library(encoded.metadata, encoded.text_blob) == Library(
        starred_by=tuple(sorted(many.starred_by))
    )
    few = Library(boards=(uuid.uuid4(),), starred_by=("user:a",))
    small = encode_image(image, few)
    assert small.text_blob is None and decode_library(small.metadata) == few
    assert text_blob_name(image.blob_name).endswith(".text.json")


class _FailingMetadata:
    """A store whose metadata writes fail (an outage after the row changed)."""

    def __init__(self, store) -> None:
        self._store = store

    def __getattr__(self, name):
        return getattr(self._store, name)

    async def set_metadata(self, name, metadata) -> None:
        raise StorageError("storage is down")


async def test_a_star_or_board_the_blob_cannot_keep_is_not_kept(store, catalog):
    pipeline = small_pipeline(store, catalog)
    image = await pipeline.generate("unlucky", owner=ALICE.owner)
    down = _FailingMetadata(store)
    with pytest.raises(LibraryNotSaved):
        await star(down, catalog, ALICE, image, True)
    assert await catalog.starred(ALICE, [image.id]) == set()
    boards = Boards(catalog, down)
    board = await Boards(catalog, store).create(ALICE, "b")
    change = await boards.add(ALICE, board.id, [image.id])
    assert change.done == [] and change.failed == 1
    assert await boards.boards_holding(ALICE, image.id) == set()


async def test_the_zip_benchmark_streams_with_a_flat_peak():
    from benchmarks.zip import run

    result = await run(200, 64, lambda message: None)
    small, large = result["runs"][0], result["runs"][-1]
    assert (small["images"], large["images"]) == (2, 200)
    assert large["zip_mb"] > 12  # 200 images of 64 KiB went through
    assert large["in_memory_peak_mb"] > 12  # the baseline holds the archive
    assert result["streamed_peak_flat"] and large["streamed_peak_mb"] < large["in_memory_peak_mb"]


class _Overtaken:
    """A store whose next metadata write waits while someone else changes the image first."""

    def __init__(self, store, meanwhile) -> None:
        self._store, self._meanwhile = store, meanwhile

    def __getattr__(self, name):
        return getattr(self._store, name)

    async def set_metadata(self, name, metadata) -> None:
        meanwhile, self._meanwhile = self._meanwhile, None
        if meanwhile is not None:
            await meanwhile()
        await self._store.set_metadata(name, metadata)


async def test_two_stars_at_once_both_reach_the_blob(store, catalog):
    image = await small_pipeline(store, catalog).generate("popular", owner=ALICE.owner)

    async def bob_stars() -> None:
        assert await star(store, catalog, BOB, image, True)

    # Alice read the image before Bob starred it, and her write lands after his.
    assert await star(_Overtaken(store, bob_stars), catalog, ALICE, image, True)
    kept = decode_library(await _metadata(store, image))
    assert kept.starred_by == tuple(sorted((ALICE.owner, BOB.owner)))


async def test_a_star_written_during_a_visibility_change_keeps_the_new_visibility(
    store, catalog, tmp_path
):
    image = await small_pipeline(store, catalog).generate("secret", owner=ALICE.owner)

    async def made_private() -> None:
        await change_visibility(store, catalog, image, Visibility.PRIVATE)

    # Bob starred it while it was shared; his write lands after it was made private.
    assert await star(_Overtaken(store, made_private), catalog, BOB, image, True)
    rebuilt = _catalog(tmp_path, "rebuilt.db")
    await reconcile(store, rebuilt, grace=timedelta(0))
    restored = await rebuilt.get(image.id)
    assert restored.visibility == Visibility.PRIVATE.value
    assert decode_library(await _metadata(store, image)).starred_by == (BOB.owner,)
