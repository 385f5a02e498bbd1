"""Session fixtures: the production app started the way users start it, and Debian's Chromium."""

from __future__ import annotations

import os
import signal
import socket
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Browser, Page, sync_playwright

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
BUN = ROOT / ".tools/bun/node_modules/@oven/bun-linux-x64/bin/bun"
START_TIMEOUT_S = 420
OFFLINE_LATENCY_MS = 1500


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class RunningApp:
    """The app under test: its URL, data directory and a log to show on failure."""

    url: str
    data_dir: Path
    log_path: Path

    def image_rows(self) -> list[tuple[str, str]]:
        """(prompt, blob_name) of every indexed image, read straight from SQLite."""
        with sqlite3.connect(self.data_dir / "visionary.db") as connection:
            return connection.execute("SELECT prompt, blob_name FROM image").fetchall()

    def blob_files(self) -> list[Path]:
        """Every file in the local image store."""
        root = self.data_dir / "blobs"
        return sorted(p for p in root.rglob("*") if p.is_file()) if root.exists() else []


def _wait_until_up(url: str, process: subprocess.Popen, log_path: Path) -> None:
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"app exited with {process.returncode}:\n{log_path.read_text()[-5000:]}")
        try:
            if (
                httpx.get(f"{url}/ping", timeout=2).status_code == 200
                and httpx.get(f"{url}/", timeout=5).status_code == 200
            ):
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    pytest.fail(f"app did not start in {START_TIMEOUT_S} s:\n{log_path.read_text()[-5000:]}")


@pytest.fixture(scope="session")
def app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningApp]:
    """`reflex run --env prod` on a free port, in its own process group, on a fresh data dir."""
    work = tmp_path_factory.mktemp("app")
    data_dir = work / "data"
    log_path = work / "app.log"
    port = _free_port()
    env = {
        **os.environ,
        "VISIONARY_DATA_DIR": str(data_dir),
        "VISIONARY_OFFLINE_LATENCY_MS": str(OFFLINE_LATENCY_MS),
        "VISIONARY_IMAGE_SIZE": "512x512",
        "REFLEX_TELEMETRY_ENABLED": "false",
        "REFLEX_CHECK_LATEST_VERSION": "false",
    }
    env.setdefault("REFLEX_BUN_PATH", str(BUN))
    env.pop("VISIONARY_DATABASE_URL", None)
    reflex = Path(sys.executable).with_name("reflex")
    with log_path.open("wb") as log:
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
        yield RunningApp(url=url, data_dir=data_dir, log_path=log_path)
    finally:
        _stop(process)


def _stop(process: subprocess.Popen) -> None:
    try:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=20)
    except ProcessLookupError:
        return
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=10)


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    if not Path(CHROMIUM).exists():
        pytest.fail(f"Chromium not found at {CHROMIUM}; `make test` installs Debian's chromium")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


def open_studio(page: Page, url: str) -> Page:
    """Go to the studio and wait until the app is live (hydrated, connected, gallery loaded)."""
    page.goto(url)
    page.wait_for_selector("#gallery[data-loaded='true']", state="attached")
    return page


@pytest.fixture
def page(browser: Browser, app: RunningApp) -> Iterator[Page]:
    """A fresh browser context on the studio page, with the gallery loaded."""
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    page.set_default_timeout(20_000)
    yield open_studio(page, app.url)
    context.close()
