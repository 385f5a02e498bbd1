"""States driven directly, without a browser: a real studio in tmp_path and one tab's state tree."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import TypeVar

import pytest
from reflex.state import BaseState, State

from tests.support.states import run_handler
from tests.support.studios import fresh_studio
from visionary_app.services.studio import Studio
from visionary_app.settings import get_settings

PAGE_SIZE = 5
T = TypeVar("T", bound=BaseState)


@pytest.fixture
async def studio(tmp_path, monkeypatch) -> AsyncIterator[Studio]:
    """The process-wide studio, built from settings that point into tmp_path (offline)."""
    built = fresh_studio(monkeypatch, tmp_path, gallery_page_size=str(PAGE_SIZE))
    yield built
    await built.aclose()
    get_settings.cache_clear()


@pytest.fixture
def tab(studio) -> State:
    """The state tree of one browser tab, connected without cookies (the tab is the visitor)."""
    return connect_as(State(_reflex_internal_init=True))


def visitor_tab(visitor_id: str) -> State:
    """The state tree of a tab whose browser has this visitor id (its HttpOnly cookie)."""
    return connect_as(State(_reflex_internal_init=True), {"visionary_visitor": visitor_id})


def substate(root: State, cls: type[T]) -> T:
    """One feature's state in a tab's tree."""
    return root.get_substate(cls.get_full_name().split("."))


async def run_event(state: BaseState, handler, *args) -> list[str]:
    """Run an event handler to its end as Reflex would; what it yielded or returned, as text.

    Toasts and chained events come back as their compiled form, so a test can look for the
    message a user would read.
    """
    return [str(item) for item in await run_handler(state, handler, *args)]


def said(outputs: list[str], text: str) -> bool:
    """Whether any output carries `text` (keep it ASCII: compiled toasts escape the rest)."""
    return any(text in out for out in outputs)


def connect_as(root: BaseState, cookies: dict[str, str] | None = None, *, client_ip="10.0.0.1"):
    """Give a tab's tree the router data of a websocket that connected with these cookies."""
    from reflex.istate.data import RouterData
    from reflex_base import constants

    cookie = "; ".join(f"{name}={value}" for name, value in (cookies or {}).items())
    router = RouterData.from_router_data(
        {
            constants.RouteVar.HEADERS: {"cookie": cookie} if cookie else {},
            constants.RouteVar.CLIENT_TOKEN: f"tab-{id(root)}",
            constants.RouteVar.CLIENT_IP: client_ip,
            constants.RouteVar.PATH: "/",
        }
    )
    state = root
    while state.parent_state is not None:
        state = state.parent_state
    for each in [state, *_all_substates(state)]:
        each.router = router
    return root


def _all_substates(state: BaseState) -> list[BaseState]:
    found = []
    for sub in state.substates.values():
        found += [sub, *_all_substates(sub)]
    return found
