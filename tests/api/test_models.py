"""Several providers at once: the model menu over HTTP, per-job choice, readiness of each."""

from __future__ import annotations

import json
import uuid

import httpx
import openai
import pytest
from starlette.applications import Starlette

from tests.api.conftest import BASE, bearer, finished_job, token_for
from tests.fakes.gemini_server import IMAGE_OUTPUT_TOKENS, FakeGemini
from tests.support.studios import fresh_studio
from visionary_app.api.health import health_routes
from visionary_app.services.access import Viewer
from visionary_app.services.studio import get_studio
from visionary_app.settings import get_settings

GEMINI = "gemini/gemini-2.5-flash-image"
OFFLINE = "offline/offline-preview"


@pytest.fixture(scope="module")
def gemini():
    server = FakeGemini().start()
    yield server
    server.stop()


@pytest.fixture
async def studio(tmp_path, monkeypatch, gemini):
    """Offline and Gemini side by side, offline first; named users."""
    built = fresh_studio(
        monkeypatch,
        tmp_path,
        env={"GEMINI_API_KEY": gemini.api_key},
        provider="offline",
        gemini_base_url=gemini.base_url,
        provider_max_retries="0",
        access_users="alice:alice-password",
    )
    yield built
    await built.aclose()
    get_settings.cache_clear()


async def test_the_menu_lists_every_model_with_what_it_takes(client, studio):
    headers = bearer(await token_for(studio, "alice", ["read"]))
    models = (await client.get("/api/v1/models", headers=headers)).json()["models"]
    assert [(m["id"], m["label"], m["default"]) for m in models] == [
        (OFFLINE, "Offline preview · offline-preview", True),
        (GEMINI, "Google Gemini · gemini-2.5-flash-image", False),
    ]
    gemini = models[1]
    assert gemini["size_label"] == "Aspect ratio" and "16:9" in gemini["sizes"]
    assert gemini["mask"] == "as_image" and gemini["edits"]
    assert (await client.get("/api/v1/models")).status_code == 401


async def test_a_job_runs_on_the_model_it_names(client, studio, gemini):
    headers = bearer(await token_for(studio, "alice"))
    body = {"prompt": "a harbour at dawn", "model": GEMINI, "size": "16:9"}
    response = await client.post("/api/v1/generations", json=body, headers=headers)
    assert response.status_code == 202, response.text
    assert response.json()["model"] == GEMINI
    job = await finished_job(client, headers, response.json()["id"])
    assert job["status"] == "succeeded", job
    (image_id,) = job["image_ids"]
    image = (await client.get(f"/api/v1/images/{image_id}", headers=headers)).json()
    assert (image["provider"], image["model"]) == ("gemini", "gemini-2.5-flash-image")
    assert image["width"] > image["height"]
    assert gemini.calls[-1].texts == ["a harbour at dawn"]
    row = await studio.jobs.get(uuid.UUID(job["id"]))
    assert row.model == GEMINI
    assert json.loads(row.usage)["output_image_tokens"] == IMAGE_OUTPUT_TOKENS
    # Without a model, the default (offline) makes it; the job says so.
    plain = await client.post("/api/v1/generations", json={"prompt": "a fox"}, headers=headers)
    done = await finished_job(client, headers, plain.json()["id"])
    assert done["model"] == OFFLINE
    (other,) = done["image_ids"]
    made = (await client.get(f"/api/v1/images/{other}", headers=headers)).json()
    assert made["provider"] == "offline"


async def test_a_model_not_on_the_menu_or_an_option_it_lacks_is_refused(client, studio):
    headers = bearer(await token_for(studio, "alice"))
    unknown = await client.post(
        "/api/v1/generations", json={"prompt": "x", "model": "dall-e-9"}, headers=headers
    )
    assert unknown.status_code == 422 and GEMINI in unknown.json()["detail"]
    wrong_size = await client.post(
        "/api/v1/generations",
        json={"prompt": "x", "model": GEMINI, "size": "1024x1024"},
        headers=headers,
    )
    assert wrong_size.status_code == 422 and "1024x1024" in wrong_size.json()["detail"]


async def test_a_refusal_is_explained_and_nothing_is_stored(client, studio):
    headers = bearer(await token_for(studio, "alice"))
    body = {"prompt": "a cat [image-safety]", "model": GEMINI}
    job = (await client.post("/api/v1/generations", json=body, headers=headers)).json()
    done = await finished_job(client, headers, job["id"])
    assert done["status"] == "failed" and "IMAGE_SAFETY" in done["error"]
    assert done["image_ids"] == [] and await studio.catalog.count() == 0


async def test_the_openai_endpoint_maps_its_model_field(client, studio):
    token = await token_for(studio, "alice")
    sdk = openai.AsyncOpenAI(
        api_key=token, base_url=f"{BASE}/v1", http_client=client, max_retries=0
    )
    answer = await sdk.images.generate(
        model="gemini-2.5-flash-image", prompt="a lantern", size="1:1"
    )
    assert len(answer.data) == 1
    (image,) = await studio.catalog.newest(10, None, viewer=Viewer(owner="user:alice"))
    assert image.provider == "gemini"
    with pytest.raises(openai.BadRequestError, match="not offered"):
        await sdk.images.generate(model="gpt-image-2", prompt="a lantern")


async def test_ready_checks_each_provider_without_making_an_image(studio, gemini):
    app = Starlette(routes=health_routes(get_studio))
    calls = len(gemini.calls)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=BASE) as http:
        ready = (await http.get("/readyz")).json()
    assert ready["status"] == "ready", ready
    assert ready["checks"]["provider:gemini"]["ok"] and ready["checks"]["provider:offline"]["ok"]
    assert len(gemini.calls) == calls  # reading the model is free; nothing was generated
    gemini.api_key, key = "another-key-0000000000", gemini.api_key
    try:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=BASE) as c:
            answer = await c.get("/readyz")
    finally:
        gemini.api_key = key
    assert answer.status_code == 503
    assert "rejected the API key" in answer.json()["checks"]["provider:gemini"]["detail"]
