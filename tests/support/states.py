"""Reflex event handlers run directly on a state, as the framework would run them."""

from __future__ import annotations

import inspect

from reflex.state import BaseState

__all__ = ["run_handler"]


async def run_handler(state: BaseState, handler, *args) -> list:
    """Run `handler` (an `rx.event`) on `state` to its end; what it yielded or returned.

    Lists are flattened and Nones (plain state updates) dropped, leaving toasts and chained
    events.
    """
    result = handler.fn(state, *args)
    said: list = []
    if hasattr(result, "__anext__"):
        said.extend([item async for item in result])
    elif inspect.isawaitable(result):
        said.append(await result)
    else:  # a plain (not async) handler has already run
        said.append(result)
    flat: list = []
    for item in said:
        flat.extend(item if isinstance(item, list) else [item])
    return [item for item in flat if item is not None]
