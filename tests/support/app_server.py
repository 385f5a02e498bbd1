"""The production app as users start it (`reflex run --env prod`), for benchmarks and tests."""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx

from tests.support.processes import process_tree, stop_process_group

__all__ = ["AppProcess", "AppStartFailed", "free_port", "run_app"]

ROOT = Path(__file__).resolve().parents[2]
BUN = ROOT / ".tools/bun/node_modules/@oven/bun-linux-x64/bin/bun"
START_TIMEOUT_S = 420


class AppStartFailed(RuntimeError):
    """The app exited or did not answer in time; the message ends with its log."""


def free_port() -> int:
    """A TCP port nobody listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class AppProcess:
    """A running app: its URL, data directory, log and environment."""

    url: str
    data_dir: Path
    log_path: Path
    env: dict[str, str]
    process: subprocess.Popen

    def backend_pids(self) -> list[int]:
        """The app's process and all its descendants (Granian workers, bun, ...)."""
        return process_tree(self.process.pid)

    def rss_mb(self) -> float:
        """Resident memory of the app's whole process tree, in MiB."""
        total_kb = 0
        for pid in self.backend_pids():
            with contextlib.suppress(OSError):
                for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                    if line.startswith("VmRSS:"):
                        total_kb += int(line.split()[1])
        return total_kb / 1024


def _wait_until_up(url: str, process: subprocess.Popen, log_path: Path) -> None:
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        if process.poll() is not None:
            tail = log_path.read_text(errors="replace")[-5000:]
            raise AppStartFailed(f"app exited with {process.returncode}:\n{tail}")
        try:
            if (
                httpx.get(f"{url}/ping", timeout=2).status_code == 200
                and httpx.get(f"{url}/", timeout=5).status_code == 200
            ):
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    tail = log_path.read_text(errors="replace")[-5000:]
    raise AppStartFailed(f"app did not start in {START_TIMEOUT_S} s:\n{tail}")


@contextlib.contextmanager
def run_app(work: Path, env_overrides: dict[str, str]) -> Iterator[AppProcess]:
    """Run the production build on a free port in its own process group; stop it on exit.

    The environment is this one without VISIONARY_/AZURE_/OPENAI_ variables, plus a data
    directory under `work`, plus `env_overrides`.
    """
    work.mkdir(parents=True, exist_ok=True)
    data_dir = work / "data"
    log_path = work / "app.log"
    port = free_port()
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("VISIONARY_", "AZURE_", "OPENAI_", "REFLEX_REDIS_URL"))
    }
    env.update(
        {
            "VISIONARY_DATA_DIR": str(data_dir),
            "REFLEX_TELEMETRY_ENABLED": "false",
            "REFLEX_CHECK_LATEST_VERSION": "false",
        }
    )
    env.setdefault("REFLEX_BUN_PATH", str(BUN))
    # Each app its own state files: Reflex's disk state manager purges its directory at
    # start-up, and two apps sharing one raced (a file gone between listing and stat).
    env["REFLEX_STATES_WORKDIR"] = str(work / "states")
    env.update(env_overrides)
    reflex = Path(sys.executable).with_name("reflex")
    with log_path.open("ab") as log:
        process = subprocess.Popen(
            [str(reflex), "run", "--env", "prod", "--frontend-port", str(port)],
            cwd=ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    url = f"http://localhost:{port}"
    try:
        _wait_until_up(url, process, log_path)
        yield AppProcess(url, data_dir, log_path, env, process)
    finally:
        stop_process_group(process)
