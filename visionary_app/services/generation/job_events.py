"""A job's progress, told to whoever follows it, on whichever worker they are.

The worker that runs a job publishes what happens (it started, the provider's steps, partial
images, it ended) on a feed every worker hears (`gallery.live_feed`: in-process on one worker,
Redis pub/sub on several). A follower (a tab's background event, an API stream) subscribes by
job id on its own worker. The end is in the job's row: the news of it only says "look".
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import logging
import uuid
from dataclasses import asdict, dataclass
from enum import StrEnum

from visionary_app.services.gallery.live_feed import LiveFeed, LocalFeed

__all__ = ["RESYNC", "JobEvents", "JobNews", "NewsKind"]

logger = logging.getLogger(__name__)


class NewsKind(StrEnum):
    """What happened to a job."""

    STARTED = "started"  # a worker claimed it and called the provider
    STEPS = "steps"  # the provider's steps so far (done of total)
    PARTIAL = "partial"  # a partial image while it forms
    ENDED = "ended"  # the row holds its outcome (a failure's reason comes with the news)
    RESYNC = "resync"  # news may have been missed: followers read the row
    PLACE = "place"  # where a waiting job stands (told by a follower's own worker, never sent)


@dataclass(frozen=True)
class JobNews:
    """One piece of news about a job; nothing its owner may not see, never a secret."""

    kind: NewsKind
    job_id: str = ""
    done: int = 0
    total: int = 0
    index: int = 0
    content_type: str = ""
    data: str = ""  # a partial image, base64
    ahead: int = 0  # PLACE: jobs that start before it
    reason: str = ""  # ENDED: why it failed, for the owner (empty: read the row)

    @classmethod
    def partial(cls, job_id: uuid.UUID, index: int, data: bytes, content_type: str) -> JobNews:
        """The news of a partial image."""
        encoded = base64.b64encode(data).decode()
        return cls(
            NewsKind.PARTIAL, job_id.hex, index=index, content_type=content_type, data=encoded
        )

    def image(self) -> bytes:
        """A partial image's bytes."""
        return base64.b64decode(self.data)

    def to_json(self) -> str:
        """The news as one JSON message."""
        return json.dumps(asdict(self))

    @classmethod
    def from_json(cls, text: str | bytes) -> JobNews:
        """News from its JSON message; ValueError, KeyError or TypeError if malformed."""
        data = json.loads(text)
        return cls(
            kind=NewsKind(data["kind"]), job_id=str(data.get("job_id", "")),
            done=int(data.get("done", 0)), total=int(data.get("total", 0)),
            index=int(data.get("index", 0)), content_type=str(data.get("content_type", "")),
            data=str(data.get("data", "")), ahead=int(data.get("ahead", 0)),
            reason=str(data.get("reason", "")),
        )  # fmt: skip


RESYNC = JobNews(NewsKind.RESYNC)


class JobEvents:
    """Publish a job's news to every worker; follow one job's news on this worker."""

    def __init__(self, feed: LiveFeed | None = None) -> None:
        self._feed = feed or LocalFeed()
        self._inboxes: dict[str, set[asyncio.Queue[JobNews]]] = {}
        self._listening = False
        self._senders: dict[uuid.UUID, asyncio.Queue[JobNews | None]] = {}

    def _listen(self) -> None:
        if not self._listening:  # in a running loop: the Redis feed subscribes now
            self._listening = True
            self._feed.listen(self._hear)

    def subscribe(self, job_id: uuid.UUID) -> asyncio.Queue[JobNews]:
        """An inbox that receives the job's news from now on (and RESYNC when some is lost)."""
        self._listen()
        inbox: asyncio.Queue[JobNews] = asyncio.Queue()
        self._inboxes.setdefault(job_id.hex, set()).add(inbox)
        return inbox

    def unsubscribe(self, job_id: uuid.UUID, inbox: asyncio.Queue[JobNews]) -> None:
        """Stop delivering to `inbox`."""
        inboxes = self._inboxes.get(job_id.hex, set())
        inboxes.discard(inbox)
        if not inboxes:
            self._inboxes.pop(job_id.hex, None)

    def tell(self, news: JobNews) -> None:
        """Publish news of a job in the order told, without waiting (a sender per job)."""
        job_id = uuid.UUID(hex=news.job_id)
        outbox = self._senders.get(job_id)
        if outbox is None:
            outbox = self._senders[job_id] = asyncio.Queue()
            asyncio.get_running_loop().create_task(self._send(job_id, outbox))
        outbox.put_nowait(news)
        if news.kind == NewsKind.ENDED:
            outbox.put_nowait(None)
            self._senders.pop(job_id, None)

    async def _send(self, job_id: uuid.UUID, outbox: asyncio.Queue[JobNews | None]) -> None:
        self._listen()
        while (news := await outbox.get()) is not None:
            await self._feed.publish(news)  # never raises: lost news costs freshness only

    async def _hear(self, news: JobNews) -> None:
        if news.kind == NewsKind.RESYNC:
            targets = [inbox for inboxes in self._inboxes.values() for inbox in inboxes]
        else:
            targets = list(self._inboxes.get(news.job_id, ()))
        for inbox in targets:
            inbox.put_nowait(news)

    async def close(self) -> None:
        """Stop listening."""
        with contextlib.suppress(Exception):
            await self._feed.close()
