"""Jobs submitted over HTTP: run in this process to their end, followed by any listeners.

In the browser, a tab's background event runs its job and shows every event. An HTTP client
instead submits, gets 202 and an id, and may come back to read the job or follow its events;
so the job runs here on its own task, and `follow` replays where it is and streams the rest
(partial images included). A listener on another worker reads the job row instead.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections.abc import AsyncIterator

from visionary_app.models import GenerationJob
from visionary_app.services.generation.runner import (
    Cancelled,
    Failed,
    JobEvent,
    JobRunner,
    PartialImage,
    Stored,
)

__all__ = ["FINAL_EVENTS", "JobHub"]

logger = logging.getLogger(__name__)

FINAL_EVENTS = (Stored, Failed, Cancelled)
# How long a finished job's last event stays for late listeners.
_KEEP_S = 120.0


class JobHub:
    """Runs jobs on tasks of their own and fans their events out to listeners."""

    def __init__(self, runner: JobRunner) -> None:
        self.runner = runner
        self._tasks: dict[uuid.UUID, asyncio.Task] = {}
        self._last: dict[uuid.UUID, JobEvent] = {}
        self._listeners: dict[uuid.UUID, list[asyncio.Queue]] = {}

    def start(self, job: GenerationJob, *, mask: bytes | None = None) -> None:
        """Run `job` to its end in the background (it was submitted through the runner)."""
        self._tasks[job.id] = asyncio.create_task(self._drive(job, mask))

    def here(self, job_id: uuid.UUID) -> bool:
        """Whether this process runs (or just ran) the job."""
        return job_id in self._tasks

    async def _drive(self, job: GenerationJob, mask: bytes | None) -> None:
        try:
            async for event in self.runner.run(job, mask=mask):
                if not isinstance(event, PartialImage):
                    self._last[job.id] = event
                for queue in self._listeners.get(job.id, []):
                    queue.put_nowait(event)
        except Exception:
            logger.exception("job %s stopped unexpectedly", job.id)
        finally:
            for queue in self._listeners.pop(job.id, []):
                queue.put_nowait(None)
            await asyncio.sleep(_KEEP_S)
            self._tasks.pop(job.id, None)
            self._last.pop(job.id, None)

    async def follow(self, job_id: uuid.UUID) -> AsyncIterator[JobEvent]:
        """The job's events from where it is now to its final event (if it runs here)."""
        last = self._last.get(job_id)
        if last is not None:
            yield last
            if isinstance(last, FINAL_EVENTS):
                return
        task = self._tasks.get(job_id)
        if task is None or task.done():
            return
        queue: asyncio.Queue = asyncio.Queue()
        self._listeners.setdefault(job_id, []).append(queue)
        try:
            while (event := await queue.get()) is not None:
                yield event
                if isinstance(event, FINAL_EVENTS):
                    return
        finally:
            with contextlib.suppress(KeyError, ValueError):
                self._listeners[job_id].remove(queue)

    async def outcome(self, job_id: uuid.UUID) -> JobEvent | None:
        """Wait for the job's final event (None if it does not run here)."""
        final = None
        async for event in self.follow(job_id):
            if isinstance(event, FINAL_EVENTS):
                final = event
        return final
