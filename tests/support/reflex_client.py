"""A headless client that speaks the app's real websocket protocol, as the browser does.

It connects to Reflex's Socket.IO endpoint (`/_event`) with a tab token, sends the boot event
(`hydrate_and_load`) and then named state events, and applies the state deltas the server
pushes back, so a benchmark can wait for "my image is in my gallery" exactly as a page would.
"""

from __future__ import annotations

import asyncio
import json
import re
import time
import uuid
from collections.abc import Callable
from typing import Any

import socketio

__all__ = ["ReflexClient", "event_name", "var_key"]

_ROOT = "reflex___state____state"
_ROUTER = {"pathname": "/", "query": {}, "asPath": "/"}


def event_name(state: type, handler: str) -> str:
    """The wire name of `state.handler` (e.g. GenerationState, "generate")."""
    return f"{state.get_full_name()}.{handler}"


def var_key(name: str) -> str:
    """How a state var is named inside a delta."""
    return f"{name}_rx_state_"


class ReflexClient:
    """One browser tab: a token, a socket, and the state the server has sent so far."""

    def __init__(
        self,
        base_url: str,
        cookies: dict[str, str] | None = None,
        *,
        reconnect: bool = False,
        origin: str | None = None,
    ) -> None:
        """`cookies` (name: value) go with the websocket's upgrade request, as a browser's
        HttpOnly session and visitor cookies do; `origin`, if given, is the page's origin a
        browser would send.

        With `reconnect`, a lost socket is opened again (as a browser's is), booting again;
        `connects` counts the connections made. https://127.0.0.1 is trusted as is (Caddy's
        local authority signs it in the load-balanced layout).
        """
        self.base_url = base_url.rstrip("/")
        self.cookies = dict(cookies or {})
        self.origin = origin
        self.token = str(uuid.uuid4())
        self.state: dict[str, dict[str, Any]] = {}
        self.toasts: list[tuple[str, str]] = []
        self.asked: list[str] = []  # events the server had this tab send
        local_tls = self.base_url.startswith("https://127.0.0.1:")
        self._sio = socketio.AsyncClient(
            reconnection=reconnect,
            reconnection_delay=0.5,
            reconnection_delay_max=2,
            ssl_verify=not local_tls,
        )
        self._changed = asyncio.Condition()
        self.connects = 0
        self._sio.on("event", self._on_update, namespace="/_event")
        self._sio.on("connect", self._on_connect, namespace="/_event")

    async def connect(self, timeout_s: float = 30) -> None:
        """Open the socket, hydrate, and run the page's on_load events."""
        boot = {"name": f"{_ROOT}.hydrate_and_load", "payload": {}, "router_data": _ROUTER}
        headers = {}
        if self.cookies:
            headers["Cookie"] = "; ".join(f"{name}={value}" for name, value in self.cookies.items())
        if self.origin:
            headers["Origin"] = self.origin
        await self._sio.connect(
            f"{self.base_url}?token={self.token}",
            headers=headers,
            socketio_path="/_event",
            namespaces=["/_event"],
            transports=["websocket"],
            auth={"event": boot},
            wait_timeout=timeout_s,
        )
        await self.wait_for(lambda: self.get(_ROOT, "is_hydrated") is True, timeout_s)

    async def _on_connect(self) -> None:
        self.connects += 1

    @property
    def connected(self) -> bool:
        """Whether the socket is open now."""
        return self._sio.connected

    async def close(self) -> None:
        """Disconnect."""
        await self._sio.disconnect()

    async def send(self, state: type, handler: str, **payload: Any) -> None:
        """Emit one event to a handler of `state`."""
        event = {
            "name": event_name(state, handler),
            "payload": payload,
            "router_data": _ROUTER,
        }
        await self._sio.emit("event", event, namespace="/_event")

    def get(self, state: type | str, var: str, default: Any = None) -> Any:
        """The last value the server sent for `state.var`."""
        name = state if isinstance(state, str) else state.get_full_name()
        return self.state.get(name, {}).get(var_key(var), default)

    async def wait_for(self, condition: Callable[[], bool], timeout_s: float) -> float:
        """Wait until `condition()` holds after some update; returns the seconds it took."""
        started = time.perf_counter()
        async with self._changed:
            await asyncio.wait_for(self._changed.wait_for(condition), timeout_s)
        return time.perf_counter() - started

    async def _on_update(self, update: dict[str, Any]) -> None:
        for state_name, delta in (update.get("delta") or {}).items():
            self.state.setdefault(state_name, {}).update(delta)
        for event in update.get("events") or []:
            toast = _toast_of(event)
            if toast is not None:
                self.toasts.append(toast)
            elif str(event.get("name", "")).startswith(f"{_ROOT}."):
                # The server asks the tab to send one of its events (a pushed catch-up):
                # a page queues it like its own, and so does this client.
                self.asked.append(event["name"])
                await self._sio.emit(
                    "event",
                    {"name": event["name"], "payload": event.get("payload") or {},
                     "router_data": _ROUTER},
                    namespace="/_event",
                )  # fmt: skip
        async with self._changed:
            self._changed.notify_all()


_TOAST_CALL = re.compile(r"""refs\['__toast'\]\?\.\["(\w+)"\]\(("(?:[^"\\]|\\.)*")""")


def _toast_of(event: dict[str, Any]) -> tuple[str, str] | None:
    """(kind, message) if the server asked the page to show a toast."""
    if event.get("name") != "_call_function":
        return None
    match = _TOAST_CALL.search(str((event.get("payload") or {}).get("function", "")))
    if match is None:
        return None
    return match.group(1), json.loads(match.group(2))
