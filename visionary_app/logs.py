"""How the app logs: plain text by default, JSON lines with `VISIONARY_LOG_FORMAT=json`.

Every record made while a job runs carries its job id and owner (a visitor's owner key is a
cookie's value, so only a hash of it is logged). The app logs no prompt, and no setting that
holds a secret is ever formatted into a message.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import sys
from collections.abc import Iterator
from contextvars import ContextVar
from datetime import UTC, datetime

__all__ = ["JsonFormatter", "configure_logging", "job_context", "loggable_owner"]

_JOB_ID: ContextVar[str | None] = ContextVar("visionary_job_id", default=None)
_OWNER: ContextVar[str | None] = ContextVar("visionary_owner", default=None)
_CONFIGURED: dict[str, str] = {}


def loggable_owner(owner: str) -> str:
    """An owner as logs may show it: user names as they are, visitors by a hash of their id."""
    if owner.startswith("visitor:"):
        digest = hashlib.sha256(owner.encode()).hexdigest()[:12]
        return f"visitor:#{digest}"
    return owner


@contextlib.contextmanager
def job_context(job_id: str, owner: str) -> Iterator[None]:
    """Tag every record made inside (and in tasks started inside) with the job and its owner."""
    job_token, owner_token = _JOB_ID.set(job_id), _OWNER.set(loggable_owner(owner))
    try:
        yield
    finally:
        _JOB_ID.reset(job_token)
        _OWNER.reset(owner_token)


class _JobFields(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        record.job_id = _JOB_ID.get()
        record.owner = _OWNER.get()
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message, job id and owner, exception."""

    def format(self, record: logging.LogRecord) -> str:
        """The record as one line of JSON."""
        entry = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        for field in ("job_id", "owner"):
            value = getattr(record, field, None)
            if value:
                entry[field] = value
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False)


def configure_logging(log_format: str, level: int = logging.INFO) -> None:
    """With "json", every record of the process goes to stderr as one JSON line.

    The root logger's handlers are replaced (Reflex's, the server's and the app's records
    all come out the same way). With "text" the logging set-up is left as it is.
    """
    if log_format != "json" or _CONFIGURED.get("format") == "json":
        return
    handler = logging.StreamHandler(sys.stderr)
    handler.addFilter(_JobFields())
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level)
    _CONFIGURED["format"] = "json"
