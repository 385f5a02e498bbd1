"""VisitorState and the access gate: who is acting is decided on the server, from the cookies
the websocket's upgrade request carried (HttpOnly: never a state var, never in the page)."""

import pytest
from reflex.event import Event
from reflex.state import State

from tests.state.conftest import connect_as, run_event, substate
from visionary_app.services import studio as studio_module
from visionary_app.settings import get_settings
from visionary_app.state.access import SIGN_IN_ROUTE, AccessGate, AccessState
from visionary_app.state.gallery import GalleryState
from visionary_app.state.visitor import NotSignedIn, VisitorState

VISITOR = "0123456789abcdef0123456789abcdef"


def test_an_open_app_files_each_browser_under_its_visitor_cookie(tab):
    visitor = substate(connect_as(tab, {"visionary_visitor": VISITOR}), VisitorState)
    assert visitor._owner() == f"visitor:{VISITOR}"
    other = substate(connect_as(State(_reflex_internal_init=True)), VisitorState)
    assert other._owner().startswith("visitor:tab-")  # no cookie: the tab is the visitor
    forged = substate(
        connect_as(State(_reflex_internal_init=True), {"visionary_visitor": "../../x"}),
        VisitorState,
    )
    assert forged._owner().startswith("visitor:tab-")


def test_no_identity_is_a_state_var_the_page_could_read(tab):
    names = set(VisitorState.get_fields()) | set(VisitorState.computed_vars)
    names -= {"rx_router_session"}  # Reflex's own: the tab token and address
    assert not {name for name in names if "session" in name or "visitor" in name}


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


LOAD = f"{GalleryState.get_full_name()}.load"


async def test_the_gate_refuses_events_until_signed_in(signed_in_app, tab):
    visitor = substate(connect_as(tab), VisitorState)
    with pytest.raises(NotSignedIn):
        visitor._owner()
    refused = await AccessGate().preprocess(None, tab, _event(LOAD))
    assert refused is not None and SIGN_IN_ROUTE in str(refused.events)
    # A forged cookie is not a session, nor is a well-signed token whose row does not exist.
    connect_as(tab, {"visionary_session": "x.user:alice.9999999999.forged.sig"})
    assert await AccessGate().preprocess(None, tab, _event(LOAD)) is not None
    unknown = signed_in_app.access.issue("user:alice")
    connect_as(tab, {"visionary_session": unknown})
    assert await AccessGate().preprocess(None, tab, _event(LOAD)) is not None
    show_error = f"{AccessState.get_full_name()}.show_error"
    assert await AccessGate().preprocess(None, tab, _event(show_error, SIGN_IN_ROUTE)) is None


async def test_a_named_user_is_the_same_owner_in_every_browser(signed_in_app, tab):
    token = await signed_in_app.sessions.open("user:alice")
    first = substate(connect_as(tab, {"visionary_session": token}), VisitorState)
    other = substate(
        connect_as(State(_reflex_internal_init=True), {"visionary_session": token}),
        VisitorState,
    )
    assert first._owner() == other._owner() == "user:alice"
    assert await AccessGate().preprocess(None, tab, _event(LOAD)) is None


async def test_a_session_ended_anywhere_opens_nothing_and_the_tab_forgets_it(signed_in_app, tab):
    sessions = signed_in_app.sessions
    token = await sessions.open("user:alice")
    connect_as(tab, {"visionary_session": token})
    assert await AccessGate().preprocess(None, tab, _event(LOAD)) is None
    await signed_in_app.pipeline.generate("alice's", owner="user:alice")
    gallery = substate(tab, GalleryState)
    await run_event(gallery, GalleryState.load)
    assert gallery.images

    await sessions.end(token)  # signed out in another tab: this copy of the cookie is dead
    refused = await AccessGate().preprocess(None, tab, _event(LOAD))
    assert refused is not None and SIGN_IN_ROUTE in str(refused.events)
    assert gallery.images == [] and gallery._shown_blobs == {}


async def test_signing_out_everywhere_ends_every_session_of_the_user(signed_in_app):
    sessions = signed_in_app.sessions
    tokens = [await sessions.open("user:alice") for _ in range(3)]
    assert all([await sessions.check(token) for token in tokens])
    assert await sessions.end_all("user:alice") == 3
    sessions._alive.clear()  # another worker, which read the rows before, reads them again
    assert [await sessions.check(token) for token in tokens] == [None] * 3
    assert await sessions.open_sessions("user:alice") == []


def test_a_look_from_outside_the_tab_never_gives_it_an_identity(studio):
    """The live feed reads a tab's owner; a tab that has not connected yet is nobody's."""
    tab = State(_reflex_internal_init=True)
    visitor = substate(tab, VisitorState)
    assert visitor._existing_owner() is None
    connect_as(tab, {"visionary_visitor": VISITOR})
    assert visitor._existing_owner() == visitor._owner() == f"visitor:{VISITOR}"
