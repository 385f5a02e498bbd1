"""Share links: a public page with preview tags and the image, then expired or revoked: no bytes."""

from __future__ import annotations

import hashlib
import re
import uuid
from datetime import UTC, datetime, timedelta

import sqlalchemy as sa

from tests.api.conftest import bearer, finished_job, token_for
from visionary_app.models import ShareLink


async def _generate(client, headers, prompt: str) -> str:
    answer = await client.post(
        "/api/v1/generations", json={"prompt": prompt, "size": "256x256"}, headers=headers
    )
    job = await finished_job(client, headers, answer.json()["id"])
    return job["image_ids"][0]


def _path(url: str) -> str:
    return "/" + url.split("/", 3)[3]


async def test_a_link_shows_the_image_to_anyone_until_it_is_revoked(client, studio):
    alice = bearer(await token_for(studio, "alice"))
    image_id = await _generate(client, alice, 'a <b>fox</b> & "friends"')
    made = await client.post(
        "/api/v1/shares", json={"image_id": image_id, "expires_in": "hour"}, headers=alice
    )
    assert made.status_code == 201, made.text
    share = made.json()
    token = share["url"].rsplit("/", 1)[1]
    assert len(token) >= 43  # 256 random bits
    # Only a digest of the token is kept.
    with studio.catalog.engine.connect() as connection:
        (digest,) = connection.execute(sa.select(ShareLink.digest)).one()
    assert digest == hashlib.sha256(token.encode()).hexdigest() and token not in digest

    page = await client.get(_path(share["url"]))  # no token, no cookie: anyone
    assert page.status_code == 200
    text = page.text
    assert 'id="shared-image"' in text
    assert "&lt;b&gt;fox&lt;/b&gt; &amp; &quot;friends&quot;" in text  # escaped, not markup
    assert '<meta property="og:title"' in text
    og_image = re.search(r'<meta property="og:image" content="([^"]+)"', text).group(1)
    assert og_image.startswith("http")
    assert "alice" not in text  # nothing about the owner
    picture = await client.get(_path(og_image))
    image = await studio.catalog.get(uuid.UUID(image_id))
    assert picture.status_code == 200 and picture.content == await studio.store.read(
        image.blob_name
    )

    listed = (await client.get("/api/v1/shares", headers=alice)).json()["shares"]
    assert [(s["id"], s["revoked"], s["url"]) for s in listed] == [(share["id"], False, None)]
    bob = bearer(await token_for(studio, "bob"))
    assert (await client.delete(f"/api/v1/shares/{share['id']}", headers=bob)).status_code == 404
    assert (await client.delete(f"/api/v1/shares/{share['id']}", headers=alice)).status_code == 204

    gone = await client.get(_path(share["url"]))
    assert gone.status_code == 410 and "revoked" in gone.text
    assert (await client.get(_path(og_image))).status_code == 410  # no bytes


async def test_an_expired_link_says_so_and_serves_no_bytes(client, studio):
    alice = bearer(await token_for(studio, "alice"))
    image_id = await _generate(client, alice, "short-lived")
    share = (
        await client.post(
            "/api/v1/shares",
            json={"image_id": image_id, "expires_in": "hour", "show_prompt": False},
            headers=alice,
        )
    ).json()
    page = await client.get(_path(share["url"]))
    assert "short-lived" not in page.text  # the owner hid the prompt
    with studio.catalog.engine.begin() as connection:
        connection.execute(
            sa.update(ShareLink).values(expires_at=datetime.now(UTC) - timedelta(seconds=1))
        )
    gone = await client.get(_path(share["url"]))
    assert gone.status_code == 410 and "expired" in gone.text
    assert (await client.get(_path(share["url"]) + f"/image/{image_id}")).status_code == 410
    unknown = await client.get("/s/" + "x" * 43)
    assert unknown.status_code == 404


async def test_only_the_owner_shares_and_never_needs_an_admin(client, studio):
    alice = bearer(await token_for(studio, "alice"))
    bob = bearer(await token_for(studio, "bob"))
    image_id = await _generate(client, alice, "alice's")
    refused = await client.post("/api/v1/shares", json={"image_id": image_id}, headers=bob)
    assert refused.status_code == 422 and "owner" in refused.json()["detail"]
    never = await client.post(
        "/api/v1/shares", json={"image_id": image_id, "expires_in": "never"}, headers=alice
    )
    assert never.status_code == 422 and "never expire" in never.json()["detail"]


async def test_a_board_is_shared_with_the_images_its_maker_may_see(client, studio):
    alice = bearer(await token_for(studio, "alice"))
    one = await _generate(client, alice, "board one")
    two = await _generate(client, alice, "board two")
    board = (await client.post("/api/v1/boards", json={"name": "Trip"}, headers=alice)).json()
    await client.post(
        f"/api/v1/boards/{board['id']}/images", json={"image_ids": [one, two]}, headers=alice
    )
    share = (
        await client.post("/api/v1/shares", json={"board_id": board["id"]}, headers=alice)
    ).json()
    page = await client.get(_path(share["url"]))
    assert page.status_code == 200 and 'id="shared-board"' in page.text and "Trip" in page.text
    assert page.text.count('class="shared-board-image"') == 2
    stranger = await client.get(_path(share["url"]) + f"/image/{one}")
    assert stranger.status_code == 200


async def test_share_pages_are_rate_limited(client, studio):
    from visionary_app.services.access.request_limits import AddressLimiter

    studio.share_limiter = AddressLimiter(None, "3/minute", namespace="test-share")
    answers = [(await client.get("/s/" + "y" * 43)).status_code for _ in range(5)]
    assert answers[:3] == [404] * 3 and answers[3:] == [429, 429]
