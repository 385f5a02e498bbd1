"""/healthz and /readyz: alive, and ready only when what the worker depends on answers."""

from __future__ import annotations

import httpx
import pytest
from starlette.applications import Starlette

from tests.api.conftest import BASE
from tests.support.studios import fresh_studio
from visionary_app.api.health import health_routes
from visionary_app.services.gallery.catalog import Catalog, make_index_engine
from visionary_app.services.studio import get_studio
from visionary_app.settings import get_settings


@pytest.fixture
async def client(tmp_path, monkeypatch):
    studio = fresh_studio(monkeypatch, tmp_path, access_users="alice:a-secret-password")
    app = Starlette(routes=health_routes(get_studio))
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=BASE) as c:
        yield c, studio
    await studio.aclose()
    get_settings.cache_clear()


async def test_alive_and_ready(client):
    http, _studio = client
    assert (await http.get("/healthz")).json() == {"status": "alive"}
    ready = await http.get("/readyz")
    assert ready.status_code == 200 and ready.json()["status"] == "ready"
    assert set(ready.json()["checks"]) == {"database", "blob_store", "provider"}


async def test_not_ready_names_what_failed_and_no_secret(client, tmp_path):
    http, studio = client
    # The index is damaged (not a database at all), and Redis does not answer.
    (tmp_path / "damaged.db").write_bytes(b"this is not an SQLite database" * 100)
    studio.catalog = Catalog(make_index_engine(f"sqlite:///{tmp_path / 'damaged.db'}"))
    studio.settings = studio.settings.model_copy(update={"redis_url": "redis://127.0.0.1:1/0"})
    answer = await http.get("/readyz")
    assert answer.status_code == 503
    checks = answer.json()["checks"]
    assert not checks["database"]["ok"] and "index" in checks["database"]["detail"]
    assert not checks["redis"]["ok"] and checks["blob_store"]["ok"]
    assert "a-secret-password" not in answer.text
