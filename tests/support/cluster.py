"""The production layout on one machine: Caddy in front of several backend processes.

What `deploy/Caddyfile` describes, run as it would be in production: the frontend exported
once (`reflex export --frontend-only`) and served by Caddy over TLS, and N app processes
(`reflex run --env prod --backend-only`) sharing Redis, PostgreSQL and a blob store, which
Caddy balances. Each backend is its own process group, so a test can kill one with SIGKILL.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx

from tests.support.app_server import BUN, ROOT, AppStartFailed, free_port
from tests.support.processes import process_tree, stop_process_group

__all__ = ["CADDYFILE", "Cluster", "caddy_or_skip", "run_cluster"]

CADDYFILE = ROOT / "deploy" / "Caddyfile"
START_TIMEOUT_S = 420


def caddy_or_skip(what: str) -> str:
    """The caddy binary; skips (fails under CI) when Debian's package is not installed."""
    import pytest

    found = shutil.which("caddy")
    if found is None:
        if os.environ.get("CI") == "true":
            pytest.fail(f"{what} needs caddy (make test installs Debian's package)")
        pytest.skip(f"{what} needs caddy (apt-get install caddy)")
    return found


@dataclass
class Cluster:
    """Caddy's public URL, and the backends behind it."""

    url: str
    backends: list[subprocess.Popen]
    backend_urls: list[str]
    log_paths: list[Path]
    data_dir: Path
    env: dict[str, str]
    start: Callable[[int], subprocess.Popen]  # (re)starts backend `index` on its port

    def restart(self, index: int, timeout_s: float = 120) -> float:
        """Stop one backend as a deploy does, start it again, wait until it is ready.

        SIGTERM goes to the backend's main process only, as a container runtime sends it to
        its first process; the server stops its worker, which drains. Returns the seconds
        it took to stop.
        """
        process = self.backends[index]
        began = time.monotonic()
        with contextlib.suppress(ProcessLookupError):
            os.kill(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=30)
            raise
        stopped = time.monotonic() - began
        self.backends[index] = self.start(index)
        _wait(f"{self.backend_urls[index]}/readyz", [self.backends[index]],
              [self.log_paths[index]])  # fmt: skip
        return stopped

    def kill(self, index: int) -> None:
        """SIGKILL one backend and everything it started, with no chance to clean up."""
        process = self.backends[index]
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=30)

    def pids(self, index: int) -> set[int]:
        """One backend's process and its descendants (its Granian worker does the work)."""
        return set(process_tree(self.backends[index].pid))

    def alive(self) -> list[int]:
        """Indexes of the backends still running."""
        return [i for i, process in enumerate(self.backends) if process.poll() is None]


def _environment(work: Path, overrides: dict[str, str], url: str) -> dict[str, str]:
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("VISIONARY_", "AZURE_", "OPENAI_", "REFLEX_REDIS_URL"))
    }
    env.update(
        {
            "VISIONARY_DATA_DIR": str(work / "data"),
            "REFLEX_TELEMETRY_ENABLED": "false",
            "REFLEX_CHECK_LATEST_VERSION": "false",
            # The browser reaches the backends only through Caddy.
            "REFLEX_API_URL": url,
            "REFLEX_DEPLOY_URL": url,
            # One worker per backend process: "two backends" means two processes here.
            "GRANIAN_WORKERS": "1",
        }
    )
    env.setdefault("REFLEX_BUN_PATH", str(BUN))
    env.update(overrides)
    return env


def _export_frontend(env: dict[str, str], work: Path) -> Path:
    """Build the static frontend once, aimed at Caddy's URL; returns its directory."""
    reflex = Path(sys.executable).with_name("reflex")
    log = work / "export.log"
    with log.open("ab") as out:
        done = subprocess.run(
            [str(reflex), "export", "--frontend-only", "--no-zip", "--env", "prod"],
            cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT, timeout=START_TIMEOUT_S,
            check=False,
        )  # fmt: skip
    if done.returncode != 0:
        raise AppStartFailed(f"export failed:\n{log.read_text(errors='replace')[-5000:]}")
    static = work / "static"
    shutil.copytree(ROOT / ".web" / "build" / "client", static)
    return static


def _wait(url: str, processes: list[subprocess.Popen], logs: list[Path]) -> None:
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        for process, log in zip(processes, logs, strict=True):
            if process.poll() is not None:
                tail = log.read_text(errors="replace")[-5000:]
                raise AppStartFailed(f"{log.name} exited with {process.returncode}:\n{tail}")
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(url, timeout=5, verify=False).status_code == 200:
                return
        time.sleep(0.5)
    raise AppStartFailed(f"{url} did not answer in {START_TIMEOUT_S} s")


@contextlib.contextmanager
def run_cluster(
    work: Path, env_overrides: dict[str, str], *, backends: int = 2
) -> Iterator[Cluster]:
    """Caddy on a free HTTPS port in front of `backends` app processes; all stopped after."""
    caddy = caddy_or_skip("the load-balanced layout")
    work.mkdir(parents=True, exist_ok=True)
    https_port = free_port()
    # Not "localhost": Reflex's frontend takes a backend on localhost over https to be on
    # port 443 of the page's host. An address Caddy signs with its local authority.
    url = f"https://127.0.0.1:{https_port}"
    env = _environment(work, env_overrides, url)
    static = _export_frontend(env, work)
    reflex = Path(sys.executable).with_name("reflex")
    ports = [free_port() for _ in range(backends)]
    logs = [work / f"backend-{number}.log" for number in range(backends)]

    def start(number: int) -> subprocess.Popen:
        # Each backend its own state files (see run_app); with Redis they hold nothing.
        backend_env = {
            **env,
            "REFLEX_STATES_WORKDIR": str(work / f"states-{number}"),
            # Each backend answers the pages too (deploy/Caddyfile), from the exported build.
            "VISIONARY_SERVE_PAGES": "true",
            "VISIONARY_TRUSTED_PROXY_HOPS": "1",
        }
        with logs[number].open("ab") as out:
            return subprocess.Popen(
                [str(reflex), "run", "--env", "prod", "--backend-only",
                 "--backend-host", "127.0.0.1", "--backend-port", str(ports[number])],
                cwd=ROOT, env=backend_env, stdout=out, stderr=subprocess.STDOUT,
                start_new_session=True,
            )  # fmt: skip

    processes: list[subprocess.Popen] = []
    try:
        for number in range(backends):
            processes.append(start(number))
        for port, process, log in zip(ports, processes, logs, strict=True):
            _wait(f"http://127.0.0.1:{port}/readyz", [process], [log])
        caddy_env = {
            **env,
            "VISIONARY_BACKENDS": " ".join(f"127.0.0.1:{port}" for port in ports),
            "VISIONARY_STATIC": str(static),
            "VISIONARY_SITE": f"127.0.0.1:{https_port}",
            "CADDY_HTTPS_PORT": str(https_port),
            "CADDY_HTTP_PORT": str(free_port()),
            "XDG_DATA_HOME": str(work / "caddy-data"),
            "XDG_CONFIG_HOME": str(work / "caddy-config"),
        }
        caddy_log = work / "caddy.log"
        with caddy_log.open("ab") as out:
            proxy = subprocess.Popen(
                [caddy, "run", "--config", str(CADDYFILE), "--adapter", "caddyfile"],
                env=caddy_env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True,
            )  # fmt: skip
        try:
            _wait(f"{url}/readyz", [proxy, *processes], [caddy_log, *logs])
            yield Cluster(
                url, processes, [f"http://127.0.0.1:{p}" for p in ports], logs, work / "data",
                env, start,
            )  # fmt: skip
        finally:
            stop_process_group(proxy)
    finally:
        for process in processes:
            stop_process_group(process)
