"""Edits, variations and references from a tab: only of images its viewer may see."""

from reflex.state import State

from tests.state.conftest import run_event, said, substate, visitor_tab
from visionary_app.models import Visibility
from visionary_app.state.editor import EditorState
from visionary_app.state.gallery import GalleryState
from visionary_app.state.generation import GenerationState
from visionary_app.state.lightbox import LightboxState
from visionary_app.state.visitor import VisitorState

ALICE, BOB = "a" * 32, "b" * 32


async def _private_image_of_alice(studio):
    image = await studio.pipeline.generate("alice's secret", owner=f"visitor:{ALICE}")
    await studio.catalog.set_visibility(image.id, Visibility.PRIVATE)
    return image


async def test_crafted_events_cannot_edit_vary_or_borrow_a_private_image(studio):
    secret = await _private_image_of_alice(studio)
    bob = visitor_tab(BOB)

    out = await run_event(substate(bob, GenerationState), GenerationState.vary, str(secret.id))
    assert said(out, "could not be read")
    editor = substate(bob, EditorState)
    await run_event(editor, EditorState.add_reference, str(secret.id))
    assert editor.references == []
    lightbox = substate(bob, LightboxState)
    lightbox.image_id = str(secret.id)
    assert said(await run_event(lightbox, LightboxState.start_edit), "could not be read")
    assert not editor.is_open
    # Even with the editor's image id forced to it, the edit reads nothing.
    editor.image_id = str(secret.id)
    out = await run_event(substate(bob, GenerationState), GenerationState.edit, {"prompt": "x"})
    assert said(out, "could not be read")
    assert await studio.jobs.active(f"visitor:{BOB}") == []
    assert await studio.catalog.count() == 1


async def test_an_edit_from_the_editor_is_a_new_image_linked_to_its_source(studio):
    alice = visitor_tab(ALICE)
    source = await studio.pipeline.generate("a harbour", owner=f"visitor:{ALICE}")
    lightbox = substate(alice, LightboxState)
    await run_event(lightbox, LightboxState.open_image, str(source.id))
    await run_event(lightbox, LightboxState.start_edit)
    editor = substate(alice, EditorState)
    assert editor.is_open and not lightbox.is_open
    strokes = [{"paths": [{"x": 5, "y": 5}, {"x": 5, "y": 120}], "strokeWidth": 16,
                "strokeColor": "red", "drawMode": True}]  # fmt: skip
    await run_event(editor, EditorState.set_strokes, strokes, 128)
    assert editor.painted
    generation = substate(alice, GenerationState)
    out = await run_event(generation, GenerationState.edit, {"prompt": "add a boat"})
    assert said(out, "Edit ready in")
    (edited, _) = await studio.catalog.newest(2, viewer=lightbox_viewer(alice))
    assert edited.kind == "edited" and edited.source_id == source.id
    assert edited.prompt == "add a boat"
    assert [t.prompt for t in substate(alice, GalleryState).images] == ["add a boat"]

    await run_event(lightbox, LightboxState.open_image, str(source.id))
    assert [child.id for child in lightbox.made_from_this] == [str(edited.id)]
    await run_event(lightbox, LightboxState.go_to, str(edited.id))
    assert lightbox.parent_id == str(source.id) and lightbox.parent_label == "Edited from"


async def test_damaged_strokes_are_a_message_not_a_crash(studio):
    editor = substate(visitor_tab(ALICE), EditorState)
    out = await run_event(editor, EditorState.set_strokes, [{"paths": [{"x": "NaN"}]}], 100)
    assert said(out, "paint again") and not editor.painted


def lightbox_viewer(tab: State):
    return substate(tab, VisitorState)._viewer()
