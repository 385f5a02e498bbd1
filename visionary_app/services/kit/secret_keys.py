"""Random secret keys kept in files of the data directory, created once on first use."""

from __future__ import annotations

import os
import time
from pathlib import Path

__all__ = ["KeyFileError", "load_or_create_key"]


class KeyFileError(Exception):
    """A key file exists but holds no key."""


def load_or_create_key(path: Path, purpose: str) -> bytes:
    """Read the secret key at `path`, creating a random one once (safe across workers).

    `purpose` names the key in errors ("URL signing key", "session key").
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        pass
    else:
        with os.fdopen(fd, "wb") as handle:
            handle.write(os.urandom(32).hex().encode())
    for _ in range(50):  # another worker may be between creating and writing the file
        key = path.read_bytes().strip()
        if key:
            return key
        time.sleep(0.02)
    msg = f"{purpose} file {path} is empty"
    raise KeyFileError(msg)
