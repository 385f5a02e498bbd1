"""VisitorState and the access gate: who is acting is decided on the server."""

import pytest
from reflex.event import Event

from tests.state.conftest import run_event, substate
from visionary_app.services import studio as studio_module
from visionary_app.settings import get_settings
from visionary_app.state.access import SIGN_IN_ROUTE, AccessGate, AccessState
from visionary_app.state.gallery import GalleryState
from visionary_app.state.visitor import NotSignedIn, VisitorState


def test_an_open_app_files_each_browser_under_its_own_visitor_id(tab):
    visitor = substate(tab, VisitorState)
    owner = visitor._owner()
    assert owner.startswith("visitor:") and owner == visitor._owner()
    assert len(visitor.visitor_id) == 32


@pytest.fixture
def signed_in_app(studio, monkeypatch):
    monkeypatch.setenv("VISIONARY_ACCESS_USERS", "alice:correct horse battery")
    monkeypatch.setenv("VISIONARY_SESSION_SECRET", "s" * 32)
    get_settings.cache_clear()
    monkeypatch.setattr(studio_module, "_studio", None)
    yield studio_module.get_studio()
    get_settings.cache_clear()


def _event(handler: str, path: str = "/") -> Event:
    return Event(name=handler, router_data={"pathname": path}, payload={})


async def test_the_gate_refuses_events_until_signed_in(signed_in_app, tab):
    visitor = substate(tab, VisitorState)
    with pytest.raises(NotSignedIn):
        visitor._owner()
    load = f"{GalleryState.get_full_name()}.load"
    refused = await AccessGate().preprocess(None, tab, _event(load))
    assert refused is not None and SIGN_IN_ROUTE in str(refused.events)
    # A forged cookie is not a session.
    visitor.session_token = "user:alice.9999999999.forged"
    assert await AccessGate().preprocess(None, tab, _event(load)) is not None
    sign_in = f"{AccessState.get_full_name()}.sign_in"
    assert await AccessGate().preprocess(None, tab, _event(sign_in, SIGN_IN_ROUTE)) is None


async def test_a_named_user_is_the_same_owner_in_every_browser(signed_in_app, tab):
    from reflex.state import State

    access = substate(tab, AccessState)
    await AccessState.sign_in.fn(access, {"name": "alice", "password": "correct horse battery"})
    other = substate(State(_reflex_internal_init=True), VisitorState)
    other.session_token = access.session_token
    assert access._owner() == other._owner() == "user:alice"
    load = f"{GalleryState.get_full_name()}.load"
    assert await AccessGate().preprocess(None, tab, _event(load)) is None


async def test_guessing_is_limited_per_name_across_tabs(signed_in_app):
    from reflex.state import State

    tabs = [substate(State(_reflex_internal_init=True), AccessState) for _ in range(6)]
    said_ = []
    for tab in tabs:  # six tabs, one guess each: the fifth attempt is the last allowed
        await run_event(tab, AccessState.sign_in, {"name": "Alice", "password": "guess"})
        said_.append(tab.error)
    assert said_[:5] == ["That name and password do not match."] * 5
    assert said_[5].startswith("Too many attempts. Try again in")
    # Even the right password waits now; another name does not.
    right = substate(State(_reflex_internal_init=True), AccessState)
    await run_event(
        right, AccessState.sign_in, {"name": "alice", "password": "correct horse battery"}
    )
    assert right.error.startswith("Too many attempts") and right.session_token == ""
    other = substate(State(_reflex_internal_init=True), AccessState)
    await run_event(other, AccessState.sign_in, {"name": "bob", "password": "x"})
    assert other.error == "That name and password do not match."


async def test_sign_out_clears_what_the_tab_held(signed_in_app, tab):
    access = substate(tab, AccessState)
    await run_event(
        access, AccessState.sign_in, {"name": "alice", "password": "correct horse battery"}
    )
    assert access.session_token
    await signed_in_app.pipeline.generate("alice's", owner="user:alice")
    gallery = substate(tab, GalleryState)
    await run_event(gallery, GalleryState.load)
    assert gallery.images
    await run_event(access, AccessState.sign_out)
    assert access.session_token == "" and gallery.images == [] and gallery._shown_blobs == {}


def test_a_look_from_outside_the_tab_never_gives_it_an_identity(tab):
    """The live feed reads a tab's owner; a tab whose cookie has not arrived stays unnamed."""
    visitor = substate(tab, VisitorState)
    assert visitor._existing_owner() is None
    assert visitor.visitor_id == ""  # not filed under a stranger before its cookie arrives
    owner = visitor._owner()
    assert visitor._existing_owner() == owner
