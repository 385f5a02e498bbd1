"""SelectionState: bulk actions check every image on the server, and say what they left alone."""

import uuid

from tests.state.conftest import run_event, said, substate, visitor_tab
from visionary_app.services.gallery.archive import check_ticket
from visionary_app.state.boards import BoardsState
from visionary_app.state.gallery import GalleryState
from visionary_app.state.selection import SelectionState

ALICE, BOB = "a" * 32, "b" * 32


async def _tab_with_gallery(visitor: str):
    tab = visitor_tab(visitor)
    await run_event(substate(tab, GalleryState), GalleryState.load)
    return tab


async def test_shift_click_selects_a_range_and_the_ticket_names_exactly_those(studio):
    made = [await studio.pipeline.generate(f"p{i}", owner=f"visitor:{ALICE}") for i in range(4)]
    tab = await _tab_with_gallery(ALICE)
    selection = substate(tab, SelectionState)
    newest_first = [str(image.id) for image in reversed(made)]
    await run_event(selection, SelectionState.toggle, newest_first[0], {"shift_key": False})
    await run_event(selection, SelectionState.toggle, newest_first[2], {"shift_key": True})
    assert selection.selected == newest_first[:3]
    viewer = check_ticket(
        studio.archive_key, selection.ticket, [uuid.UUID(i).hex for i in selection.selected]
    )
    assert viewer.owner == f"visitor:{ALICE}"
    await run_event(selection, SelectionState.toggle, newest_first[1], {"shift_key": False})
    assert selection.selected == [newest_first[0], newest_first[2]]
    # An id the tab does not show (crafted) selects nothing.
    await run_event(selection, SelectionState.toggle, str(uuid.uuid4()), {})
    assert len(selection.selected) == 2
    await run_event(selection, SelectionState.select_all)
    assert selection.selected == newest_first
    await run_event(selection, SelectionState.clear)
    assert selection.selected == [] and selection.ticket == ""


async def test_a_selection_with_someone_elses_image_acts_only_on_ones_own(studio):
    mine = await studio.pipeline.generate("mine", owner=f"visitor:{ALICE}")
    theirs = await studio.pipeline.generate("theirs", owner=f"visitor:{BOB}")
    tab = await _tab_with_gallery(ALICE)
    selection = substate(tab, SelectionState)
    await run_event(selection, SelectionState.select_all)
    assert set(selection.selected) == {str(mine.id), str(theirs.id)}

    out = await run_event(selection, SelectionState.share_selected, False)
    assert said(out, "1 made private") and said(out, "1 is not yours to change")
    assert (await studio.catalog.get(theirs.id)).visibility == "shared"
    assert (await studio.catalog.get(mine.id)).visibility == "private"

    await run_event(selection, SelectionState.select_all)
    out = await run_event(selection, SelectionState.star_selected)
    assert said(out, "2 starred")  # starring is one's own business, on any image one sees

    await run_event(selection, SelectionState.select_all)
    out = await run_event(selection, SelectionState.delete_selected)
    assert said(out, "1 deleted") and said(out, "1 is not yours to change")
    assert await studio.catalog.get(mine.id) is None
    assert await studio.catalog.get(theirs.id) is not None
    assert selection.selected == []


async def test_adding_a_selection_to_a_board(studio):
    images = [await studio.pipeline.generate(f"b{i}", owner=f"visitor:{ALICE}") for i in range(2)]
    tab = await _tab_with_gallery(ALICE)
    boards = substate(tab, BoardsState)
    out = await run_event(boards, BoardsState.save, {"name": "Picks"})
    (board,) = boards.boards
    gallery = substate(tab, GalleryState)
    assert gallery.board == board.id and said(out, "load")  # the new board shows
    await run_event(gallery, GalleryState.load)
    assert gallery.images == []
    await run_event(boards, BoardsState.choose, "all")
    await run_event(gallery, GalleryState.load)
    selection = substate(tab, SelectionState)
    await run_event(selection, SelectionState.select_all)
    out = await run_event(selection, SelectionState.add_selected_to, board.id)
    assert said(out, "2 added to the board")
    await run_event(boards, BoardsState.choose, board.id)
    await run_event(gallery, GalleryState.load)
    assert {tile.id for tile in gallery.images} == {str(image.id) for image in images}
    # Someone else cannot fill it, whatever the browser sends.
    other = substate(await _tab_with_gallery(BOB), SelectionState)
    await run_event(other, SelectionState.select_all)
    out = await run_event(other, SelectionState.add_selected_to, board.id)
    assert said(out, "no such board")
