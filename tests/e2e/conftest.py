"""Session fixtures: the production app started the way users start it, and Debian's Chromium."""

from __future__ import annotations

import contextlib
import json
import os
import re
import sqlite3
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from azure.storage.blob import BlobServiceClient
from playwright.sync_api import Browser, Page, sync_playwright

from tests.support.app_server import ROOT, AppStartFailed, run_app
from tests.support.azurite import Azurite
from tests.support.seeding import store_images

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
AXE = ROOT / ".tools/axe/node_modules/axe-core/axe.min.js"
OFFLINE_LATENCY_MS = 1500
ITEM = '[data-testid="gallery-item"]'
JOB_CARD = '[data-testid="job-card"]'


def toast(kind: str) -> str:
    """Selector of the toasts of one kind: success, error, warning or info."""
    return f'[data-sonner-toast][data-type="{kind}"]'


def unique(text: str) -> str:
    """`text` with a random suffix, so a test finds its own tiles and rows."""
    return f"{text} {uuid.uuid4().hex[:8]}"


def generate(page: Page, prompt: str) -> None:
    """Type a prompt and press Generate."""
    page.fill("#prompt-input", prompt)
    page.click("#generate-button")


@dataclass
class RunningApp:
    """The app under test: its URL, where it keeps things, and its log."""

    url: str
    data_dir: Path
    log_path: Path
    store_kind: str
    env: dict[str, str]
    container: str | None = None
    connection_string: str | None = None

    def image_rows(self) -> list[tuple[str, str]]:
        """(prompt, blob_name) of every indexed image, read straight from SQLite."""
        with contextlib.closing(sqlite3.connect(self.data_dir / "visionary.db")) as connection:
            return connection.execute("SELECT prompt, blob_name FROM image").fetchall()

    def query(self, sql: str, *params) -> list[tuple]:
        """Rows of any query on the app's SQLite index."""
        with contextlib.closing(sqlite3.connect(self.data_dir / "visionary.db")) as connection:
            return connection.execute(sql, params).fetchall()

    def read_blob(self, name: str) -> bytes:
        """One blob's bytes, from the local directory or the Azurite container."""
        if self.store_kind == "local":
            return (self.data_dir / "blobs" / name).read_bytes()
        service = BlobServiceClient.from_connection_string(self.connection_string)
        return service.get_blob_client(self.container, name).download_blob().readall()

    def blob_names(self) -> list[str]:
        """Every blob in the configured store (local files, or the Azurite container)."""
        if self.store_kind == "local":
            root = self.data_dir / "blobs"
            files = root.rglob("*") if root.exists() else []
            return sorted(
                p.relative_to(root).as_posix()
                for p in files
                if p.is_file() and not p.name.endswith(".props.json")
            )
        service = BlobServiceClient.from_connection_string(self.connection_string)
        container = service.get_container_client(self.container)
        if not container.exists():
            return []
        return sorted(blob.name for blob in container.list_blobs())


# What every app under test starts with, unless a test says otherwise.
E2E_SETTINGS = {
    "VISIONARY_OFFLINE_LATENCY_MS": str(OFFLINE_LATENCY_MS),
    "VISIONARY_IMAGE_SIZE": "512x512",
    # One browser makes every test's images; limits are tested where they are set.
    "VISIONARY_IMAGES_PER_USER_PER_HOUR": "0",
    "VISIONARY_IMAGES_PER_DAY": "0",
    "VISIONARY_ANONYMOUS_IMAGES_PER_HOUR": "0",
    "VISIONARY_ANONYMOUS_IMAGES_PER_ADDRESS_PER_HOUR": "0",  # every browser is 127.0.0.1
    "VISIONARY_MAX_QUEUED_JOBS_PER_USER": "0",
}


@contextlib.contextmanager
def launch_app(
    work: Path,
    *,
    azurite: Azurite | None = None,
    extra_env: dict[str, str] | None = None,
    **settings: str,
):
    """Run `reflex run --env prod` on a free port, in its own process group, on a fresh data dir.

    `settings` become VISIONARY_* variables; with `azurite`, images go to a fresh container.
    """
    env = dict(E2E_SETTINGS)
    env.update({f"VISIONARY_{key.upper()}": value for key, value in settings.items()})
    container = None
    if azurite is not None:
        container = f"e2e-{uuid.uuid4().hex[:12]}"
        env["AZURE_STORAGE_CONNECTION_STRING"] = azurite.connection_string
        env["VISIONARY_AZURE_CONTAINER"] = container
    env.update(extra_env or {})
    try:
        with run_app(work, env) as running:
            yield RunningApp(
                url=running.url,
                data_dir=running.data_dir,
                log_path=running.log_path,
                store_kind="azure" if azurite else "local",
                env=running.env,
                container=container,
                connection_string=azurite.connection_string if azurite else None,
            )
    except AppStartFailed as exc:
        pytest.fail(str(exc))


@pytest.fixture(scope="session", params=["local", "azure"])
def app(request, tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningApp]:
    """The app on each image store: the local directory, and Azure Blob Storage on Azurite."""
    azurite = request.getfixturevalue("azurite") if request.param == "azure" else None
    with launch_app(tmp_path_factory.mktemp(f"app-{request.param}"), azurite=azurite) as running:
        yield running


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


@contextlib.contextmanager
def studio_page(browser: Browser, url: str, timeout_ms: int = 20_000) -> Iterator[Page]:
    """A fresh browser context on the studio page, with the gallery loaded."""
    # Caddy's own local authority signs the load-balanced layout's https://127.0.0.1.
    context = browser.new_context(
        viewport={"width": 1280, "height": 900},
        ignore_https_errors=url.startswith("https://127.0.0.1:"),
    )
    page = context.new_page()
    page.set_default_timeout(timeout_ms)
    try:
        yield open_studio(page, url)
    finally:
        context.close()


@pytest.fixture
def page(browser: Browser, app: RunningApp) -> Iterator[Page]:
    """The studio page of the app under test (each store in turn)."""
    with studio_page(browser, app.url) as studio:
        yield studio


def on_sign_in(app: RunningApp) -> re.Pattern:
    """The sign-in page's URL, with or without a reason in its query."""
    return re.compile(re.escape(f"{app.url}/sign-in") + r"/?(\?.*)?$")


def visitor_owner(page: Page) -> str:
    """The owner key the app files this browser's images under (its visitor cookie)."""
    cookies = {cookie["name"]: cookie["value"] for cookie in page.context.cookies()}
    return f"visitor:{cookies['visionary_visitor']}"


def seed_images(
    app: RunningApp, prompts: list[str], size: str | None = None, *, owner: str | None = None
) -> None:
    """Generate images straight into the app's store and index (offline, small), in a thread.

    `owner` makes them someone's (e.g. `visitor_owner(page)`); by default nobody's.
    """
    run_in_thread(
        lambda: store_images(app.env, prompts, size, **({"owner": owner} if owner else {}))
    )


def run_in_thread(work, timeout_s: float | None = None) -> None:
    """Run the coroutine `work()` to its end in a thread of its own, raising what it raised.

    Playwright's sync API owns this thread's event loop, so async code runs in another.
    """
    import asyncio
    import threading

    failure: list[BaseException] = []

    def run() -> None:
        try:
            asyncio.run(work())
        except BaseException as exc:
            failure.append(exc)

    thread = threading.Thread(target=run)
    thread.start()
    thread.join(timeout_s)
    if failure:
        raise failure[0]


def keep_screenshot(shot: Path, name: str, width: int = 960) -> None:
    """With VISIONARY_UPDATE_SCREENSHOT=1 (`make screenshot`), put a shot in docs/ for the README.

    `width` px wide (960: a desktop), 256 colours: a README picture of ~60 KB, not ~350 KB.
    """
    if os.environ.get("VISIONARY_UPDATE_SCREENSHOT") != "1":
        return
    from PIL import Image

    with Image.open(shot) as taken:
        picture = taken.convert("RGB")
    picture = picture.resize((width, round(width * picture.height / picture.width)), Image.LANCZOS)
    picture.quantize(colors=256, method=Image.Quantize.MEDIANCUT).save(
        ROOT / "docs" / name, optimize=True
    )


def axe_violations(page: Page) -> list[dict]:
    """What axe-core (from the npm registry) finds wrong on the page as it is now."""
    if not AXE.exists():
        pytest.fail(f"axe-core not found at {AXE}; `make test` installs it from npm")
    # Evaluated through the browser's debugging protocol: an inline <script> would be refused
    # by the page's Content-Security-Policy, as an injected one should be.
    page.evaluate(AXE.read_text())
    result = page.evaluate("async () => await axe.run(document)")
    return [
        {
            "id": violation["id"],
            "impact": violation["impact"],
            "nodes": [node["target"] for node in violation["nodes"]][:5],
        }
        for violation in result["violations"]
    ]


def assert_no_axe_violations(page: Page, where: str) -> None:
    """Fail with axe-core's findings, if it has any."""
    # A toast fading in or out, or sliding back as a newer one arrives, is half transparent:
    # its contrast is the animation's, not ours.
    page.wait_for_function(
        """() => ![...document.querySelectorAll('[data-sonner-toast]')].some(toast =>
            toast.dataset.removed === 'true' || toast.dataset.mounted === 'false'
            || toast.getAnimations({subtree: true}).length > 0)"""
    )
    violations = axe_violations(page)
    assert violations == [], f"{where}: {json.dumps(violations, indent=1)}"
