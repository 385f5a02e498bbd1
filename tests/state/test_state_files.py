"""The disk state manager lists `.states/` for expired files once a minute, not every 2 s."""

from __future__ import annotations

import os
import time
from types import SimpleNamespace

from reflex.istate.manager.disk import StateManagerDisk

from visionary_app import state_files
from visionary_app.state_files import purge_state_files_less_often


def _expired_file(directory, name: str):
    path = directory / f"{name}.pkl"
    path.write_bytes(b"state")
    old = time.time() - 2 * 3600  # past the hour a token lives
    os.utime(path, (old, old))
    return path


def test_expired_state_files_go_once_a_minute_not_on_every_pass(tmp_path, monkeypatch):
    monkeypatch.setenv("REFLEX_STATES_WORKDIR", str(tmp_path))
    app = SimpleNamespace(_state_manager=StateManagerDisk())  # what an rx.App holds
    purge_state_files_less_often(app)
    manager = app._state_manager
    assert isinstance(manager, state_files._StateFilesPurgedEveryMinute)
    first = _expired_file(tmp_path, "first")
    manager._purge_expired_states()  # the write loop's pass, 2 s after start: skipped
    assert first.exists()
    manager._last_purge -= state_files.PURGE_EVERY_S  # a minute on
    manager._purge_expired_states()
    assert not first.exists()
    fresh = tmp_path / "fresh.pkl"
    fresh.write_bytes(b"state")
    manager._last_purge -= state_files.PURGE_EVERY_S
    manager._purge_expired_states()
    assert fresh.exists()  # only expired files go
