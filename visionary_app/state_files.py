"""Reflex's disk state manager, made cheap while tabs sit idle.

Without Redis (one worker), Reflex 0.10 keeps each tab's state in memory and in files under
`.states/`, one per tab and state class. Its write loop wakes every 2 s
(REFLEX_STATE_MANAGER_DISK_DEBOUNCE) and, on every pass, lists that whole directory and
reads each file's time to delete the expired ones (`StateManagerDisk._purge_expired_states`).
At 1,000 open tabs that is tens of thousands of files every 2 s, most of the idle worker's
CPU. Expired means older than the token expiration (an hour by default), so looking once a
minute loses nothing; the states it forgets from memory are still purged on every pass.
"""

from __future__ import annotations

import time

import reflex as rx
from reflex.istate.manager.disk import StateManagerDisk

__all__ = ["PURGE_EVERY_S", "purge_state_files_less_often"]

PURGE_EVERY_S = 60.0


class _StateFilesPurgedEveryMinute(StateManagerDisk):
    """The disk state manager, listing `.states/` at most once a minute."""

    _last_purge: float = float("-inf")

    def _purge_expired_states(self) -> None:
        now = time.monotonic()
        if now - self._last_purge < PURGE_EVERY_S:
            return
        self._last_purge = now
        super()._purge_expired_states()


def purge_state_files_less_often(app: rx.App) -> None:
    """Give `app` the cheaper disk state manager, if it uses the disk one (no Redis).

    Call it right after creating the app, before any tab connects.
    """
    current = app._state_manager  # Reflex has no setter; it builds the manager in App()
    if type(current) is StateManagerDisk:
        app._state_manager = _StateFilesPurgedEveryMinute(token_expiration=current.token_expiration)
