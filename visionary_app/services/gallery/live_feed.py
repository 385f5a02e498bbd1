"""What changed in the index, told to every worker at once, so open pages need not poll.

A change names an image (stored, removed, made private or shared) or an owner whose jobs moved.
It carries ids, owners and visibility only, never a prompt: each worker asks the index for the
rows its own tabs may see. On one worker the feed is in-process; with Redis configured (which
several workers need anyway) it is a Redis pub/sub channel named after the index, so apps that
share a Redis server but not an index do not hear each other.

The same feed carries other news between workers on channels of their own (a job's progress,
see `generation/job_events.py`): `make_feed` takes the topic and how to read its messages.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import logging
from collections.abc import Awaitable, Callable
from dataclasses import asdict, dataclass
from enum import StrEnum
from typing import Any

__all__ = ["Change", "ChangeKind", "LiveFeed", "LocalFeed", "RedisFeed", "make_feed"]

logger = logging.getLogger(__name__)

Listener = Callable[[Any], Awaitable[None]]


class ChangeKind(StrEnum):
    """What happened."""

    STORED = "stored"  # a new image is in the index (and its blobs in the store)
    REMOVED = "removed"
    VISIBILITY = "visibility"  # made private or shared
    JOBS = "jobs"  # an owner's job was queued, started or ended
    RESYNC = "resync"  # changes may have been missed: every tab catches up once


@dataclass(frozen=True)
class Change:
    """One change to the index: ids and who may see it, nothing a stranger should not read."""

    kind: ChangeKind
    owner: str = ""
    image_id: str = ""
    visibility: str = ""

    def to_json(self) -> str:
        """The change as one JSON message."""
        return json.dumps(asdict(self))

    @classmethod
    def from_json(cls, text: str | bytes) -> Change:
        """A change from its JSON message; ValueError, KeyError or TypeError if malformed."""
        data = json.loads(text)
        return cls(
            kind=ChangeKind(data["kind"]),
            owner=str(data.get("owner", "")),
            image_id=str(data.get("image_id", "")),
            visibility=str(data.get("visibility", "")),
        )


class LiveFeed:
    """Publish changes; every listener of every worker hears each one once, in order."""

    def __init__(self) -> None:
        self._listeners: list[Listener] = []

    def listen(self, listener: Listener) -> None:
        """Call `listener` with every change from now on (this worker's listeners)."""
        self._listeners.append(listener)

    async def publish(self, change: Change) -> None:
        """Tell every worker; never raises (a lost change costs freshness, not data)."""
        raise NotImplementedError

    async def close(self) -> None:
        """Stop listening."""

    async def _deliver(self, change: Change) -> None:
        for listener in list(self._listeners):
            try:
                await listener(change)
            except Exception:
                logger.exception("a live-update listener failed on %r", change)


class LocalFeed(LiveFeed):
    """One worker: changes go straight to its own listeners, each in its own task."""

    def __init__(self) -> None:
        super().__init__()
        self._tasks: set[asyncio.Task] = set()

    async def publish(self, change: Change) -> None:
        """Deliver in a task of its own."""
        # The publisher (a job, an event handler) does not wait for every tab to update.
        task = asyncio.get_running_loop().create_task(self._deliver(change))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)


class RedisFeed(LiveFeed):
    """Several workers: a Redis pub/sub channel; each worker relays to its own listeners.

    After the subscription breaks and comes back, listeners get a RESYNC, since whatever was
    published meanwhile is gone.
    """

    def __init__(
        self,
        redis_url: str,
        channel: str,
        *,
        retry_s: float = 1.0,
        decode: Callable[[str | bytes], Any] = Change.from_json,
        resync: Any = Change(ChangeKind.RESYNC),
    ) -> None:
        super().__init__()
        self._decode, self._resync = decode, resync
        from redis.asyncio import Redis

        self._redis = Redis.from_url(redis_url)
        self.channel = channel
        self._retry_s = retry_s
        self._task: asyncio.Task | None = None
        self.subscribed = asyncio.Event()

    def listen(self, listener: Listener) -> None:
        """Add a listener; the first one starts the subscription."""
        super().listen(listener)
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._follow())

    async def publish(self, change: Change) -> None:
        """Publish on the channel; a Redis failure is logged, not raised."""
        try:
            await self._redis.publish(self.channel, change.to_json())
        except Exception as exc:  # redis errors have many classes; all mean "not told"
            logger.warning("could not publish a live update: %s", exc)

    async def _follow(self) -> None:
        missed = False
        while True:
            try:
                async with self._redis.pubsub() as pubsub:
                    await pubsub.subscribe(self.channel)
                    self.subscribed.set()
                    if missed:
                        await self._deliver(self._resync)
                    async for message in pubsub.listen():
                        if message.get("type") != "message":
                            continue
                        try:
                            change = self._decode(message["data"])
                        except (ValueError, KeyError, TypeError):
                            logger.warning("ignored a malformed live update")
                            continue
                        await self._deliver(change)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                logger.warning("live updates interrupted (%s); reconnecting", exc)
            self.subscribed.clear()
            missed = True
            await asyncio.sleep(self._retry_s)

    async def close(self) -> None:
        """Unsubscribe and close the connection."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._task
        with contextlib.suppress(Exception):
            await self._redis.aclose()


def make_feed(
    redis_url: str | None,
    database_url: str,
    *,
    topic: str = "changes",
    decode: Callable[[str | bytes], Any] = Change.from_json,
    resync: Any = Change(ChangeKind.RESYNC),
) -> LiveFeed:
    """Redis pub/sub when Redis is configured (several workers), else in-process.

    `topic` names the channel; `decode` reads one of its messages (anything with `to_json`)
    and `resync` is what listeners hear when messages may have been missed.
    """
    if not redis_url:
        return LocalFeed()
    index = hashlib.sha256(database_url.encode()).hexdigest()[:16]
    return RedisFeed(redis_url, f"visionary:{topic}:{index}", decode=decode, resync=resync)
