"""Boards through the API: made, filled, filtered, shared, and refused to those who may not."""

from __future__ import annotations

import io
import json
import uuid
import zipfile

from tests.api.conftest import bearer, finished_job, token_for


async def _generate(client, headers, prompt: str, **extra) -> str:
    answer = await client.post(
        "/api/v1/generations", json={"prompt": prompt, "size": "256x256", **extra}, headers=headers
    )
    assert answer.status_code == 202, answer.text
    job = await finished_job(client, headers, answer.json()["id"])
    assert job["status"] == "succeeded", job
    return job["image_ids"][0]


async def test_a_board_is_made_filled_filtered_renamed_and_deleted(client, studio):
    alice = bearer(await token_for(studio, "alice"))
    fox = await _generate(client, alice, "a fox")
    owl = await _generate(client, alice, "an owl")

    made = await client.post("/api/v1/boards", json={"name": "Forest"}, headers=alice)
    assert made.status_code == 201, made.text
    board = made.json()
    assert board["visibility"] == "private" and board["mine"] and board["may_change"]
    added = await client.post(
        f"/api/v1/boards/{board['id']}/images",
        json={"image_ids": [fox, str(uuid.uuid4())]},
        headers=alice,
    )
    assert added.json() == {"image_ids": [fox], "refused": 1, "failed": 0}

    page = await client.get("/api/v1/images", params={"board": board["id"]}, headers=alice)
    assert [image["id"] for image in page.json()["images"]] == [fox]
    # A job's images join the board it names.
    cat = await _generate(client, alice, "a cat", board_id=board["id"])
    page = await client.get("/api/v1/images", params={"board": board["id"]}, headers=alice)
    assert [image["id"] for image in page.json()["images"]] == [cat, fox]

    renamed = await client.patch(
        f"/api/v1/boards/{board['id']}", json={"name": "Woods"}, headers=alice
    )
    assert renamed.json()["name"] == "Woods"
    removed = await client.delete(f"/api/v1/boards/{board['id']}/images/{fox}", headers=alice)
    assert removed.json()["image_ids"] == [fox]
    assert (await client.delete(f"/api/v1/boards/{board['id']}", headers=alice)).status_code == 204
    assert (await client.get("/api/v1/boards", headers=alice)).json() == {"boards": []}
    still = await client.get(f"/api/v1/images/{owl}", headers=alice)
    assert still.status_code == 200  # its images stay


async def test_others_see_shared_boards_only_and_cannot_change_them(client, studio):
    alice = bearer(await token_for(studio, "alice"))
    bob = bearer(await token_for(studio, "bob"))
    carol = bearer(await token_for(studio, "carol"))  # an admin
    private = (await client.post("/api/v1/boards", json={"name": "mine"}, headers=alice)).json()
    shared = (
        await client.post(
            "/api/v1/boards", json={"name": "ours", "visibility": "shared"}, headers=alice
        )
    ).json()
    image = await _generate(client, bob, "bob's")

    listed = (await client.get("/api/v1/boards", headers=bob)).json()["boards"]
    assert [(b["name"], b["mine"], b["may_change"]) for b in listed] == [("ours", False, False)]
    assert (await client.get(f"/api/v1/boards/{private['id']}", headers=bob)).status_code == 404
    no_peeking = await client.get("/api/v1/images", params={"board": private["id"]}, headers=bob)
    assert no_peeking.status_code == 404
    refused = await client.post(
        f"/api/v1/boards/{shared['id']}/images", json={"image_ids": [image]}, headers=bob
    )
    assert refused.status_code == 403
    renamed = await client.patch(f"/api/v1/boards/{shared['id']}", json={"name": "x"}, headers=bob)
    assert renamed.status_code == 403
    joined = await client.post(
        "/api/v1/generations",
        json={"prompt": "into alice's board", "board_id": shared["id"]},
        headers=bob,
    )
    assert joined.status_code == 403
    assert (await client.delete(f"/api/v1/boards/{shared['id']}", headers=bob)).status_code == 403
    # An admin curates shared boards.
    curated = await client.post(
        f"/api/v1/boards/{shared['id']}/images", json={"image_ids": [image]}, headers=carol
    )
    assert curated.json()["image_ids"] == [image]
    assert (await client.get(f"/api/v1/boards/{private['id']}", headers=carol)).status_code == 404


async def test_a_board_name_is_checked(client, studio):
    alice = bearer(await token_for(studio, "alice"))
    for name in ("", "   ", "x" * 81):
        answer = await client.post("/api/v1/boards", json={"name": name}, headers=alice)
        assert answer.status_code == 422, name
        assert answer.headers["content-type"].startswith("application/problem+json")


async def test_a_zip_holds_the_originals_and_a_manifest_of_what_one_may_see(client, studio):
    alice = bearer(await token_for(studio, "alice"))
    bob = bearer(await token_for(studio, "bob"))
    first = await _generate(client, alice, "a red fox / in snow")
    second = await _generate(client, alice, "a red fox / in snow")  # the same name, twice
    hidden = await _generate(client, bob, "bob's secret")
    made_private = await client.patch(
        f"/api/v1/images/{hidden}", json={"visibility": "private"}, headers=bob
    )
    assert made_private.status_code == 200

    answer = await client.post(
        "/api/v1/images/zip", json={"image_ids": [first, second, hidden]}, headers=alice
    )
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"] == "application/zip"
    assert answer.headers["x-images-skipped"] == "1"
    assert answer.headers["content-disposition"].startswith("attachment;")
    with zipfile.ZipFile(io.BytesIO(answer.content)) as archive:
        assert archive.testzip() is None
        names = archive.namelist()
        manifest = json.loads(archive.read("manifest.json"))
        files = {row["id"]: row["file"] for row in manifest["images"]}
        assert set(files) == {first, second}
        assert len(set(names)) == 3 and names[-1] == "manifest.json"
        assert all(name.startswith("a-red-fox-in-snow-") for name in names[:2])
        for image_id, name in files.items():
            image = await studio.catalog.get(uuid.UUID(image_id))
            assert archive.read(name) == await studio.store.read(image.blob_name)  # byte for byte
        row = manifest["images"][0]
        assert {"prompt", "model", "size", "created_at", "id"} <= row.keys()


async def test_the_pages_zip_needs_a_ticket_for_exactly_those_images(client, studio):
    from visionary_app.services.access.ownership import Viewer
    from visionary_app.services.gallery.archive import sign_ticket

    alice = bearer(await token_for(studio, "alice"))
    one = await _generate(client, alice, "one")
    two = await _generate(client, alice, "two")
    viewer = Viewer(owner="user:alice")
    ticket = sign_ticket(studio.archive_key, viewer, [uuid.UUID(one).hex])
    good = await client.post("/downloads/images.zip", data={"ids": one, "ticket": ticket})
    assert good.status_code == 200
    with zipfile.ZipFile(io.BytesIO(good.content)) as archive:
        assert len(archive.namelist()) == 2
    more = await client.post(
        "/downloads/images.zip", data={"ids": f"{one} {two}", "ticket": ticket}
    )
    assert more.status_code == 403  # the ticket was for one image only
    forged = ticket[:-1] + ("1" if ticket.endswith("0") else "0")
    assert (
        await client.post("/downloads/images.zip", data={"ids": one, "ticket": forged})
    ).status_code == 403
    old = sign_ticket(studio.archive_key, viewer, [uuid.UUID(one).hex], now=1_000_000)
    expired = await client.post("/downloads/images.zip", data={"ids": one, "ticket": old})
    assert expired.status_code == 403 and "expired" in expired.text


async def test_a_style_preset_adds_its_words_for_the_provider_and_names_itself(client, studio):
    alice = bearer(await token_for(studio, "alice"))
    answer = await client.post(
        "/api/v1/generations",
        json={"prompt": "a harbour", "size": "256x256", "preset": "Watercolour"},
        headers=alice,
    )
    job = await finished_job(client, alice, answer.json()["id"])
    image = (await client.get(f"/api/v1/images/{job['image_ids'][0]}", headers=alice)).json()
    assert image["prompt"] == "a harbour"  # the person's prompt, searchable as typed
    assert image["preset"] == "Watercolour"
    stored = await studio.catalog.get(uuid.UUID(image["id"]))
    blobs = {b.name: b for b in [b async for b in studio.store.list_blobs()]}
    assert "preset_b64" in blobs[stored.blob_name].metadata  # sync keeps it
    unknown = await client.post(
        "/api/v1/generations", json={"prompt": "x", "preset": "Nope"}, headers=alice
    )
    assert unknown.status_code == 422 and "preset" in unknown.json()["detail"]
