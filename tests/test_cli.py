"""`python -m visionary_app sync` as an operator runs it, against Azurite and the local store."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import ANYONE
from visionary_app.services.gallery.catalog import Catalog, make_index_engine
from visionary_app.services.studio import build_studio
from visionary_app.settings import Settings

ROOT = Path(__file__).resolve().parents[1]


def _env(tmp_path: Path, azurite, kind: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("VISIONARY_", "AZURE_"))}
    env["VISIONARY_DATA_DIR"] = str(tmp_path / "data")
    if kind == "azure":
        env["AZURE_STORAGE_CONNECTION_STRING"] = azurite.connection_string
        env["VISIONARY_AZURE_CONTAINER"] = f"cli-{tmp_path.name[-20:].lower().replace('_', '-')}"
    return env


def _run(env: dict[str, str], *args: str) -> str:
    result = subprocess.run(
        [sys.executable, "-m", "visionary_app", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    return result.stdout


@pytest.mark.parametrize("kind", ["local", "azure"])
async def test_sync_rebuilds_a_deleted_index(tmp_path, azurite, kind, monkeypatch):
    env = _env(tmp_path, azurite, kind)
    for key, value in env.items():
        if key.startswith(("VISIONARY_", "AZURE_")):
            monkeypatch.setenv(key, value)
    _run(env, "migrate")
    studio = build_studio(Settings())
    prompts = ["🦊 one", "東京 two", "three\nlines"]
    for prompt in prompts:
        await studio.pipeline.generate(prompt)
    await studio.aclose()

    database = tmp_path / "data" / "visionary.db"
    database.unlink()
    for suffix in ("-wal", "-shm"):
        Path(f"{database}{suffix}").unlink(missing_ok=True)

    dry = _run(env, "sync", "--dry-run", "--grace-seconds", "0")
    assert dry.count("would index images/") == 3
    assert "dry run, nothing changed" in dry
    assert "3 indexed" in dry

    out = _run(env, "sync", "--grace-seconds", "0")
    assert out.count("\nindex images/") + out.startswith("index images/") == 3
    assert "3 indexed, 0 rows removed" in out

    catalog = Catalog(make_index_engine(Settings().resolved_database_url))
    assert [image.prompt for image in await catalog.newest(10, viewer=ANYONE)] == list(
        reversed(prompts)
    )
    catalog.dispose()
    assert "0 indexed, 0 rows removed" in _run(env, "sync", "--grace-seconds", "0")


@pytest.mark.parametrize("kind", ["local", "azure"])
def test_sync_refuses_a_missing_store_and_changes_nothing(tmp_path, azurite, kind):
    env = _env(tmp_path, azurite, kind)  # nothing stored yet: no directory, no container
    _run(env, "migrate")
    result = subprocess.run(
        [sys.executable, "-m", "visionary_app", "sync", "--force"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert result.returncode == 2
    assert "sync refused: the blob store is missing" in result.stderr


def test_hash_password_prints_a_hash_that_signs_in(tmp_path):
    from visionary_app.services.access.sessions import AccessControl

    result = subprocess.run(
        [sys.executable, "-m", "visionary_app", "hash-password"],
        cwd=ROOT, input="correct horse\n", capture_output=True, text=True, timeout=60,
        check=True,
    )  # fmt: skip
    hashed = result.stdout.strip()
    assert hashed.startswith("$argon2id$") and "correct horse" not in result.stdout
    access = AccessControl(key=b"k" * 32, users={"alice": hashed})
    assert access.check("alice", "correct horse") == "user:alice"
