"""LiveTabs: the live feed's changes reach a worker's tabs, a burst in one update per tab."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections import Counter
from datetime import UTC, datetime, timedelta

from reflex.state import State

from tests.conftest import indexed_image
from tests.state.conftest import run_event, substate, visitor_tab
from visionary_app.services.gallery.live_feed import Change, ChangeKind
from visionary_app.state.gallery import GalleryState
from visionary_app.state.live import LiveTabs

START = datetime(2026, 11, 1, tzinfo=UTC)


class Worker:
    """What LiveTabs asks of Reflex's app: the tabs connected here and each tab's state.

    The states are real state trees; `hold` keeps the first update waiting, as a busy
    worker would, so the test can let more changes arrive meanwhile.
    """

    def __init__(self, tabs: dict[str, State]) -> None:
        self.tabs = tabs
        self.event_namespace = self  # LiveTabs reads sid_to_token from it
        self.sid_to_token = {f"sid-{token}": token for token in tabs}
        self.updates: Counter[str] = Counter()
        self.hold = asyncio.Event()
        self.holding = asyncio.Event()

    @contextlib.asynccontextmanager
    async def modify_state(self, token):
        if not self.hold.is_set():
            self.holding.set()
            await self.hold.wait()
        self.updates[token.ident] += 1
        yield self.tabs[token.ident]

    async def emit_update(self, update, token):  # no test here asks a tab to catch up
        raise AssertionError(f"unexpected request to {token}: {update}")


def _stored(index: int):
    return indexed_image(START + timedelta(minutes=index), f"burst {index}")


async def test_a_burst_of_changes_reaches_each_tab_in_one_update(studio):
    tabs = {"first": visitor_tab("visitor-1"), "second": visitor_tab("visitor-2")}
    for root in tabs.values():
        await run_event(substate(root, GalleryState), GalleryState.load)
    rows = [_stored(index) for index in range(5)]
    await studio.catalog.add_many(rows)
    changes = [
        Change(ChangeKind.STORED, owner=row.owner, image_id=str(row.id), visibility=row.visibility)
        for row in rows
    ]
    # Among them, one image already gone and one id that is no id: heard as gone, no harm.
    changes[2:2] = [
        Change(ChangeKind.STORED, image_id=str(uuid.uuid4())),
        Change(ChangeKind.VISIBILITY, image_id="../not-an-id"),
    ]
    worker = Worker(tabs)
    live = LiveTabs(worker)
    applying = asyncio.create_task(live.keep_applying())
    try:
        await live.apply(changes[0])
        await asyncio.wait_for(worker.holding.wait(), 5)  # the first pass is under way
        for change in changes[1:]:
            await live.apply(change)  # these arrive while it runs
        worker.hold.set()
        for _ in range(500):
            if sum(worker.updates.values()) >= 2 * len(tabs):
                break
            await asyncio.sleep(0.01)
        await asyncio.sleep(0.05)  # a third pass, if any, would land here
    finally:
        applying.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await applying

    assert worker.updates == {"first": 2, "second": 2}  # seven changes, two passes
    newest_first = [str(row.id) for row in reversed(rows)]
    for root in tabs.values():
        assert [tile.id for tile in substate(root, GalleryState).images] == newest_first
