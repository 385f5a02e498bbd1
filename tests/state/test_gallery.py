"""GalleryState: a bounded window that slides both ways, and a live gallery that recovers."""

import pickle
from datetime import UTC, datetime, timedelta

from tests.conftest import ANYONE, indexed_image
from tests.state.conftest import PAGE_SIZE, run_event, said, substate
from visionary_app.models import Image, Visibility
from visionary_app.services.gallery.catalog import Catalog, CatalogError
from visionary_app.services.gallery.live_feed import Change, ChangeKind
from visionary_app.state.gallery import WINDOW_PAGES, GalleryState, sign_tile
from visionary_app.state.visitor import viewer_of

START = datetime(2026, 11, 1, tzinfo=UTC)


def _row(index: int, prompt: str | None = None) -> Image:
    return indexed_image(START + timedelta(minutes=index), prompt or f"image {index:04d}")


async def _seed(studio, count: int) -> list[str]:
    """`count` rows, returned newest first as the gallery orders them."""
    rows = [_row(index) for index in range(count)]
    await studio.catalog.add_many(rows)
    return [str(row.id) for row in reversed(rows)]


def _ids(gallery: GalleryState) -> list[str]:
    return [tile.id for tile in gallery.images]


async def test_scrolling_down_and_back_up_keeps_a_bounded_window_in_order(tab, studio):
    expected = await _seed(studio, 13 * PAGE_SIZE + 2)
    gallery = substate(tab, GalleryState)
    await run_event(gallery, GalleryState.load)
    seen = list(_ids(gallery))
    limit = WINDOW_PAGES * PAGE_SIZE
    while gallery.has_more:
        before = _ids(gallery)
        await run_event(gallery, GalleryState.load_more)
        after = _ids(gallery)
        assert len(after) <= limit and len(gallery._shown_blobs) == len(after)
        new = [image_id for image_id in after if image_id not in before]
        assert after[-len(new) :] == new  # the new page is appended below
        seen.extend(new)
        assert len(seen) <= len(expected)  # a stuck cursor would loop forever
    assert seen == expected  # every image once, in order: no repeats, no gaps
    assert gallery.has_newer and _ids(gallery) == expected[-limit:]

    while gallery.has_newer:
        await run_event(gallery, GalleryState.load_newer)
        after = _ids(gallery)
        assert len(after) <= limit
        assert after == expected[expected.index(after[0]) : expected.index(after[0]) + len(after)]
    assert _ids(gallery) == expected[:limit] and gallery.has_more


async def test_the_tab_state_stays_flat_after_a_thousand_images(tab, studio):
    await _seed(studio, 1000)
    gallery = substate(tab, GalleryState)
    await run_event(gallery, GalleryState.load)
    sizes = []
    while gallery.has_more:
        await run_event(gallery, GalleryState.load_more)
        sizes.append(len(pickle.dumps(gallery)))
    assert max(sizes) < 100_000
    assert max(sizes[WINDOW_PAGES:]) <= min(sizes[WINDOW_PAGES:]) * 1.05  # flat once full


async def test_new_images_arrive_at_the_top_and_the_window_stays_bounded(tab, studio):
    await _seed(studio, WINDOW_PAGES * PAGE_SIZE)
    gallery = substate(tab, GalleryState)
    await run_event(gallery, GalleryState.load)
    while gallery.has_more:
        await run_event(gallery, GalleryState.load_more)
    assert len(gallery.images) == WINDOW_PAGES * PAGE_SIZE
    newest = _row(10_000, "arrived later")
    await studio.catalog.add(newest)
    await run_event(gallery, GalleryState.check_new)
    assert gallery.images[0].id == str(newest.id)
    assert len(gallery.images) == WINDOW_PAGES * PAGE_SIZE and gallery.has_more


class SwitchableCatalog(Catalog):
    """The real catalog; while `down`, reads fail as they would with the database gone."""

    down = False

    async def newest(self, *args, **kwargs):
        if self.down:
            raise CatalogError("the image index could not be read: connection refused")
        return await super().newest(*args, **kwargs)


async def test_the_live_gallery_recovers_when_the_index_comes_back(tab, studio):
    await _seed(studio, 3)
    catalog = SwitchableCatalog(studio.catalog._engine)
    studio.catalog = catalog
    gallery = substate(tab, GalleryState)
    catalog.down = True
    out = await run_event(gallery, GalleryState.load)
    assert said(out, "could not be loaded") and gallery.load_error
    await run_event(gallery, GalleryState.check_new)  # still down: no crash, still waiting
    assert gallery.load_error and gallery.images == []
    catalog.down = False
    out = await run_event(gallery, GalleryState.check_new)
    assert gallery.load_error == "" and len(gallery.images) == 3
    assert said(out, "The gallery is back")


async def test_long_prompts_are_clipped_on_tiles(tab, studio):
    await studio.catalog.add(_row(1, "fox " * 1000))
    gallery = substate(tab, GalleryState)
    await run_event(gallery, GalleryState.load)
    (tile,) = gallery.images
    assert len(tile.prompt) <= 300 and tile.prompt.endswith("…")


async def test_an_image_stored_before_a_newer_one_was_shown_still_arrives(tab, studio):
    gallery = substate(tab, GalleryState)
    await run_event(gallery, GalleryState.load)  # an empty gallery: nothing below the window
    earlier, later = _row(1, "made on another worker"), _row(2, "made in this tab")
    await studio.catalog.add_many([earlier, later])
    gallery._show_new([await sign_tile(later)])  # this tab's own job ended first
    await run_event(gallery, GalleryState.check_new)
    assert _ids(gallery) == [str(later.id), str(earlier.id)]


async def test_a_huge_search_is_cut_to_the_cap_with_a_message(tab, studio):
    await studio.catalog.add_many([_row(1, "a fox in snow"), _row(2, "a crow")])
    gallery = substate(tab, GalleryState)
    out = await run_event(gallery, GalleryState.set_search, "fox " + "x" * 200_000)
    assert len(gallery.search) == 200
    assert said(out, "limited to 200 characters")
    await run_event(gallery, GalleryState.load)
    assert gallery.load_error == "" and gallery.images == []  # searched, found nothing
    out = await run_event(gallery, GalleryState.set_search, "fox")
    assert not said(out, "limited")
    await run_event(gallery, GalleryState.load)
    assert [tile.prompt for tile in gallery.images] == ["a fox in snow"]


async def test_a_search_with_a_lone_surrogate_gets_an_answer(tab, studio):
    await studio.catalog.add_many([_row(1, "a fox in snow"), _row(2, "a crow")])
    gallery = substate(tab, GalleryState)
    await run_event(gallery, GalleryState.set_search, "fox\ud800")
    await run_event(gallery, GalleryState.load)
    await run_event(gallery, GalleryState.check_new)  # the timer: no error on any poll
    assert gallery.load_error == ""
    assert [tile.prompt for tile in gallery.images] == ["a fox in snow"]


async def test_the_catalog_answers_any_string(studio):
    await studio.catalog.add_many([_row(1, "a fox in snow")])
    for query in ("\ud800", "fox\udfff", "x" * 100_000, "\x00", "🦊" * 300):
        await studio.catalog.newest(5, search=query, viewer=ANYONE)  # an answer, not an exception


async def _hear(gallery: GalleryState, image: Image, kind=ChangeKind.STORED) -> bool:
    change = Change(kind, owner=image.owner, image_id=str(image.id), visibility=image.visibility)
    return await gallery.hear(change, image, await sign_tile(image))


async def test_pushed_images_reach_only_the_tabs_whose_viewer_may_and_wants_to_see_them(
    tab, studio
):
    await _seed(studio, 3)
    gallery = substate(tab, GalleryState)
    await run_event(gallery, GalleryState.load)
    me = (await viewer_of(gallery)).owner
    others_private = _row(100, "someone else's secret")
    others_private.owner, others_private.visibility = "user:mallory", Visibility.PRIVATE.value
    my_private = _row(101, "my own secret")
    my_private.owner, my_private.visibility = me, Visibility.PRIVATE.value
    shared = _row(102, "a shared harbour")
    shared.owner = "user:mallory"
    await studio.catalog.add_many([others_private, my_private, shared])

    assert await _hear(gallery, others_private) is False
    assert str(others_private.id) not in _ids(gallery)
    await _hear(gallery, my_private)
    await _hear(gallery, shared)
    assert _ids(gallery)[:2] == [str(shared.id), str(my_private.id)]

    # Filters decide too: a search, "Mine", favourites.
    gallery.search = "lighthouse"
    late = _row(103, "a shared harbour, later")
    await _hear(gallery, late)
    assert str(late.id) not in _ids(gallery)
    gallery.search, gallery.scope = "", "mine"
    await _hear(gallery, late)
    assert str(late.id) not in _ids(gallery)  # not mine
    gallery.scope, gallery.favourites_only = "everyone", True
    await _hear(gallery, late)
    assert str(late.id) not in _ids(gallery)  # nothing new is starred yet

    # Made private by its owner (or deleted): gone from this tab; a resync asks the index.
    gallery.favourites_only = False
    hidden = Change(ChangeKind.VISIBILITY, owner="user:mallory", image_id=str(shared.id))
    shared.visibility = Visibility.PRIVATE.value
    assert await gallery.hear(hidden, shared, None) is False
    assert str(shared.id) not in _ids(gallery)
    removed = Change(ChangeKind.REMOVED, image_id=str(my_private.id))
    await gallery.hear(removed, None, None)
    assert str(my_private.id) not in _ids(gallery)
    assert await gallery.hear(Change(ChangeKind.RESYNC), None, None) is True
