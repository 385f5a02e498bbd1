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
    """The state tree of one browser tab."""
    return State(_reflex_internal_init=True)


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
