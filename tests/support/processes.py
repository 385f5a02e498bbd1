"""Stopping helper processes (Azurite, the app under test) by their process group."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
from pathlib import Path

__all__ = ["process_tree", "stop_process_group"]


def process_tree(pid: int) -> list[int]:
    """A process and all its descendants (a backend's Granian workers, bun, ...)."""
    found, frontier = [], [pid]
    while frontier:
        current = frontier.pop()
        found.append(current)
        children = Path(f"/proc/{current}/task/{current}/children")
        with contextlib.suppress(OSError):
            frontier += [int(child) for child in children.read_text().split()]
    return found


def stop_process_group(process: subprocess.Popen, timeout_s: float = 20) -> None:
    """SIGTERM the group a process leads (resuming it first if frozen), SIGKILL if it lingers."""
    if process.poll() is not None:
        return
    try:
        os.killpg(process.pid, signal.SIGCONT)
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=timeout_s)
    except ProcessLookupError:
        return
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=10)
