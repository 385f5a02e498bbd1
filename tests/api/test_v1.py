"""/api/v1 through HTTP: the same rules as the UI (tokens, scopes, privacy, limits)."""

from __future__ import annotations

import asyncio
import base64
import io
import json
import uuid

from PIL import Image as PILImage

from tests.api.conftest import bearer, finished_job, token_for
from visionary_app.models import Visibility


def _problem(response, status: int, words: str) -> None:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    body = response.json()
    assert body["status"] == status and words in body["detail"], body
    assert "Traceback" not in response.text


async def test_no_token_no_api(client, studio):
    _problem(await client.get("/api/v1/images"), 401, "token is required")
    _problem(await client.get("/api/v1/images", headers=bearer("vai_forged")), 401, "not valid")


async def test_generate_follow_read_and_list(client, studio):
    headers = bearer(await token_for(studio, "alice"))
    response = await client.post("/api/v1/generations", json={"prompt": "a red fox"},
                                 headers=headers)  # fmt: skip
    assert response.status_code == 202, response.text
    job = response.json()
    assert job["status"] in ("queued", "running") and response.headers["location"]
    events = []
    async with client.stream("GET", f"/api/v1/jobs/{job['id']}/events", headers=headers) as sse:
        async for line in sse.aiter_lines():
            if line.startswith("event: "):
                events.append(line.removeprefix("event: "))
    assert events[-1] == "succeeded" and "stored" in events
    job = await finished_job(client, headers, job["id"])
    (image_id,) = job["image_ids"]
    image = (await client.get(f"/api/v1/images/{image_id}", headers=headers)).json()
    assert image["prompt"] == "a red fox" and image["mine"] and image["kind"] == "generated"
    picture = await client.get(image["url"])
    assert picture.status_code == 200 and picture.content[:4] == b"\x89PNG"
    page = (await client.get("/api/v1/images?scope=mine", headers=headers)).json()
    assert [i["id"] for i in page["images"]] == [image_id] and page["next_cursor"] is None


async def test_paging_by_cursor_sees_every_image_once(client, studio):
    for index in range(5):
        await studio.pipeline.generate(f"image {index}", owner="user:alice")
    headers = bearer(await token_for(studio, "alice", ["read"]))
    seen, cursor = [], None
    while True:
        query = {"limit": 2, **({"cursor": cursor} if cursor else {})}
        page = (await client.get("/api/v1/images", params=query, headers=headers)).json()
        seen += [image["prompt"] for image in page["images"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == [f"image {i}" for i in range(4, -1, -1)]
    _problem(await client.get("/api/v1/images?cursor=nonsense", headers=headers), 422, "cursor")


async def test_privacy_and_permissions_hold_as_in_the_ui(client, studio):
    secret = await studio.pipeline.generate("alice's secret", owner="user:alice")
    await studio.catalog.set_visibility(secret.id, Visibility.PRIVATE)
    shared = await studio.pipeline.generate("alice's shared", owner="user:alice")
    bob = bearer(await token_for(studio, "bob"))
    _problem(await client.get(f"/api/v1/images/{secret.id}", headers=bob), 404, "No such image")
    listed = (await client.get("/api/v1/images", headers=bob)).json()["images"]
    assert [i["prompt"] for i in listed] == ["alice's shared"]
    found = (await client.get("/api/v1/images?search=secret", headers=bob)).json()["images"]
    assert found == []
    _problem(await client.delete(f"/api/v1/images/{shared.id}", headers=bob), 403, "owner")
    _problem(
        await client.patch(f"/api/v1/images/{shared.id}", json={"visibility": "private"},
                           headers=bob), 403, "owner")  # fmt: skip
    edit = {"image_id": str(secret.id), "prompt": "steal it"}
    _problem(await client.post("/api/v1/edits", json=edit, headers=bob), 404, "No such image")
    # Stars are per user and allowed on what one sees.
    starred = await client.patch(f"/api/v1/images/{shared.id}", json={"favourite": True},
                                 headers=bob)  # fmt: skip
    assert starred.json()["favourite"] is True
    alice = bearer(await token_for(studio, "alice"))
    assert (await client.get(f"/api/v1/images/{shared.id}", headers=alice)).json()[
        "favourite"
    ] is False
    assert (await client.delete(f"/api/v1/images/{shared.id}", headers=alice)).status_code == 204
    _problem(await client.get(f"/api/v1/images/{shared.id}", headers=alice), 404, "No such")


async def test_scopes_and_revocation(client, studio):
    read_only = await token_for(studio, "alice", ["read"])
    _problem(await client.post("/api/v1/generations", json={"prompt": "x"},
                                headers=bearer(read_only)), 403, "'generate' scope")  # fmt: skip
    token, row = await studio.api_tokens.create("user:alice", "laptop", ["read"])
    assert (await client.get("/api/v1/images", headers=bearer(token))).status_code == 200
    assert (await studio.api_tokens.list("user:alice"))[0].last_used_at is not None
    assert await studio.api_tokens.revoke("user:alice", row.id)
    _problem(await client.get("/api/v1/images", headers=bearer(token)), 401, "not valid")


async def test_limits_answer_429_with_retry_after(client, studio):
    studio.jobs.limits = type(studio.jobs.limits)(**{**studio.jobs.limits.__dict__,
                                                    "images_per_owner_per_hour": 1})  # fmt: skip
    headers = bearer(await token_for(studio, "alice"))
    first = await client.post("/api/v1/generations", json={"prompt": "one"}, headers=headers)
    assert first.status_code == 202
    second = await client.post("/api/v1/generations", json={"prompt": "two"}, headers=headers)
    _problem(second, 429, "limit of 1 images per hour")
    assert int(second.headers["retry-after"]) > 0
    await finished_job(client, headers, first.json()["id"])


async def test_bad_input_is_422_with_the_uis_words(client, studio):
    headers = bearer(await token_for(studio, "alice"))
    _problem(await client.post("/api/v1/generations", json={"prompt": "  "}, headers=headers),
             422, "it is empty")  # fmt: skip
    _problem(await client.post("/api/v1/generations", json={"prompt": "x", "size": "7x7"},
                               headers=headers), 422, "7x7")  # fmt: skip
    _problem(await client.post("/api/v1/generations", json={"nope": 1}, headers=headers),
             422, "prompt")  # fmt: skip


async def test_edit_with_a_mask_then_cancel_a_running_job(client, studio):
    source = await studio.pipeline.generate("a harbour", owner="user:alice")
    headers = bearer(await token_for(studio, "alice"))
    mask = PILImage.new("RGBA", (source.width, source.height), (0, 0, 0, 255))
    mask.paste((0, 0, 0, 0), (0, 0, 64, 64))
    buffer = io.BytesIO()
    mask.save(buffer, format="PNG")
    body = {"image_id": str(source.id), "prompt": "add a boat",
            "mask": base64.b64encode(buffer.getvalue()).decode()}  # fmt: skip
    response = await client.post("/api/v1/edits", json=body, headers=headers)
    assert response.status_code == 202, response.text
    job = await finished_job(client, headers, response.json()["id"])
    (image_id,) = job["image_ids"]
    image = (await client.get(f"/api/v1/images/{image_id}", headers=headers)).json()
    assert image["kind"] == "edited" and image["source_id"] == str(source.id)
    wrong = {**body, "mask": base64.b64encode(b"not a png").decode()}
    _problem(await client.post("/api/v1/edits", json=wrong, headers=headers), 422, "mask")

    studio.models.default.provider.latency_ms = 3000
    running = (await client.post("/api/v1/generations", json={"prompt": "slow"},
                                 headers=headers)).json()  # fmt: skip
    await asyncio.sleep(0.3)
    cancelled = await client.post(f"/api/v1/jobs/{running['id']}/cancel", headers=headers)
    assert cancelled.status_code == 200
    ended = await finished_job(client, headers, running["id"])
    assert ended["status"] == "cancelled" and ended["image_ids"] == []
    _problem(await client.post(f"/api/v1/jobs/{running['id']}/cancel", headers=headers), 409,
             "already ended")  # fmt: skip
    bob = bearer(await token_for(studio, "bob"))
    _problem(await client.get(f"/api/v1/jobs/{running['id']}", headers=bob), 404, "No such job")


async def test_upload_is_checked_like_the_page(client, studio):
    headers = bearer(await token_for(studio, "alice"))
    buffer = io.BytesIO()
    PILImage.new("RGB", (40, 30), (1, 2, 3)).save(buffer, format="JPEG")
    files = {"file": ("beach.jpg", buffer.getvalue(), "image/jpeg")}
    response = await client.post("/api/v1/images", files=files, headers=headers)
    assert response.status_code == 201, response.text
    assert response.json()["kind"] == "upload" and response.json()["prompt"] == "beach.jpg"
    text = {"file": ("notes.png", b"just text" * 20, "image/png")}
    _problem(await client.post("/api/v1/images", files=text, headers=headers), 422,
             "not a PNG, JPEG or WebP")  # fmt: skip
    studio.uploads.limits = type(studio.uploads.limits)(max_bytes=1024)
    big = {"file": ("big.png", b"\0" * 5000, "image/png")}
    _problem(await client.post("/api/v1/images", files=big, headers=headers), 413, "larger")
    assert await studio.catalog.count() == 1


async def test_with_sign_in_off_only_configured_tokens_open_the_api(tmp_path, monkeypatch):
    import httpx

    from tests.api.conftest import BASE, routes
    from tests.support.studios import fresh_studio
    from visionary_app.settings import get_settings

    configured = "ci-token-" + "x" * 40
    for tokens in ("", f"ci={configured}"):
        settings = {"api_tokens": tokens} if tokens else {}
        studio = fresh_studio(monkeypatch, tmp_path, **settings)
        transport = httpx.ASGITransport(app=routes())
        async with httpx.AsyncClient(transport=transport, base_url=BASE) as client:
            response = await client.get("/api/v1/images", headers=bearer(configured))
            if tokens:
                assert response.status_code == 200
                made = await client.post("/api/v1/generations", json={"prompt": "ci image"},
                                         headers=bearer(configured))  # fmt: skip
                assert made.status_code == 202
                job = await finished_job(client, bearer(configured), made.json()["id"])
                image = await studio.catalog.get(__import__("uuid").UUID(job["image_ids"][0]))
                assert image.owner == "user:ci"
            else:
                _problem(response, 401, "API is off")
        with __import__("pytest").raises(Exception, match="Sign in"):
            await studio.api_tokens.create("visitor:abc", "mine", ["read"])
        await studio.aclose()
    get_settings.cache_clear()


async def test_a_job_run_by_another_worker_is_followed_live(client, studio):
    """Submitted here, claimed by another worker: this worker's stream follows its news."""
    from visionary_app.services.generation.queue import JobQueue
    from visionary_app.services.generation.runner import JobRunner

    headers = bearer(await token_for(studio, "alice"))
    studio.runner.serve()
    studio.jobs.stop_claiming()  # this worker takes nothing
    elsewhere = JobRunner(
        JobQueue(studio.jobs._engine, studio.jobs.limits, worker="host-b:2:bb"),
        studio.pipeline, events=studio.runner.events,  # the feed every worker hears
    )  # fmt: skip
    made = await client.post("/api/v1/generations", json={"prompt": "run elsewhere"},
                             headers=headers)  # fmt: skip
    job_id = made.json()["id"]
    elsewhere.serve()
    events = []
    async with client.stream("GET", f"/api/v1/jobs/{job_id}/events", headers=headers) as sse:
        async for line in sse.aiter_lines():
            if line.startswith("event: "):
                events.append(line.removeprefix("event: "))
    assert "running" in events and events[-2:] == ["stored", "succeeded"], events
    assert (await studio.jobs.get(uuid.UUID(job_id))).worker == "host-b:2:bb"
    await elsewhere.queue.close()


async def test_a_job_of_several_images_lists_them_all_and_streams_each(client, studio):
    headers = bearer(await token_for(studio, "alice"))
    made = await client.post("/api/v1/generations", json={"prompt": "twins", "n": 2},
                             headers=headers)  # fmt: skip
    assert made.status_code == 202, made.text
    job = await finished_job(client, headers, made.json()["id"])
    assert job["status"] == "succeeded" and len(job["image_ids"]) == 2
    for image_id in job["image_ids"]:
        image = await client.get(f"/api/v1/images/{image_id}", headers=headers)
        assert image.json()["prompt"] == "twins"
    # Followed once it has ended: one stored event per image, from its row.
    stored = []
    async with client.stream("GET", f"/api/v1/jobs/{job['id']}/events", headers=headers) as sse:
        async for line in sse.aiter_lines():
            if line.startswith("data: ") and '"image_id"' in line:
                stored.append(json.loads(line[6:])["image_id"])
    assert sorted(stored) == sorted(job["image_ids"])
