"""Signed read URLs, made once per blob and time window and shared by every tab of a worker.

A URL is issued as of the start of the current window (half its lifetime long), so within a
window every request for a blob gets the same URL: the worker signs it once, and browsers
reuse the image they already have. A URL handed out has at least half its lifetime left,
and the gallery renews URLs when a quarter is left (always in a later window).
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable

from visionary_app.services.storage.blob_store import SignedUrl

__all__ = ["UrlCache"]


class UrlCache:
    """The current window's signed URLs, bounded in number."""

    def __init__(
        self,
        ttl_seconds: float,
        *,
        max_entries: int = 200_000,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.window_seconds = max(ttl_seconds / 2, 0.001)
        self.max_entries = max_entries
        self._clock = clock
        self._window = -1
        self._urls: dict[str, SignedUrl] = {}

    def _current_window(self) -> int:
        window = int(self._clock() // self.window_seconds)
        if window != self._window:
            self._window, self._urls = window, {}  # the last window's URLs are not handed out
        return window

    async def get(self, name: str, sign: Callable[[float], Awaitable[SignedUrl]]) -> SignedUrl:
        """The window's URL for `name`; `sign(issued_at)` makes it on the first request."""
        window = self._current_window()
        cached = self._urls.get(name)
        if cached is not None:
            return cached
        signed = await sign(window * self.window_seconds)
        if len(self._urls) >= self.max_entries:
            self._urls.clear()  # rare: more blobs shown in one window than the bound
        self._urls[name] = signed
        return signed
