"""OpenAI's image endpoints in front of the gallery, driven by the real `openai` SDK."""

from __future__ import annotations

import base64
import io

import httpx
import openai
import pytest
from PIL import Image as PILImage

from tests.api.conftest import BASE, routes, token_for
from visionary_app.services.access.ownership import Viewer


@pytest.fixture
async def sdk(studio):
    """An AsyncOpenAI client for alice, whose HTTP goes to the app in process."""
    token = await token_for(studio, "alice")
    http = httpx.AsyncClient(transport=httpx.ASGITransport(app=routes()), base_url=BASE)
    client = openai.AsyncOpenAI(base_url=f"{BASE}/v1", api_key=token, http_client=http,
                                max_retries=0)  # fmt: skip
    yield client
    await client.close()


def _png(data: bytes) -> PILImage.Image:
    return PILImage.open(io.BytesIO(data))


async def test_generations_land_in_the_users_gallery(sdk, studio):
    response = await sdk.images.generate(model="gpt-image-2", prompt="a paper boat", n=2,
                                         size="256x256")  # fmt: skip
    assert len(response.data) == 2
    assert {_png(base64.b64decode(item.b64_json)).size for item in response.data} == {(256, 256)}
    mine = await studio.catalog.newest(10, viewer=Viewer(owner="user:alice"))
    assert [(image.prompt, image.owner) for image in mine] == [("a paper boat", "user:alice")] * 2


async def test_url_answers_are_signed_urls(sdk, studio):
    response = await sdk.images.generate(prompt="a kite", response_format="url")
    (item,) = response.data
    assert item.url.startswith(f"{BASE}/media/") and item.b64_json is None
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=routes())) as http:
        picture = await http.get(item.url)
        assert picture.status_code == 200 and picture.content[:4] == b"\x89PNG"
        tampered = await http.get(item.url.replace("images/", "images/x", 1))
        assert tampered.status_code in (403, 404)


async def test_edits_with_a_mask_and_references(sdk, studio):
    source = PILImage.new("RGB", (256, 256), (40, 90, 160))
    reference = PILImage.new("RGB", (128, 128), (200, 30, 30))
    mask = PILImage.new("RGBA", (256, 256), (0, 0, 0, 255))
    mask.paste((0, 0, 0, 0), (0, 0, 128, 256))
    files = []
    for picture in (source, reference, mask):
        buffer = io.BytesIO()
        picture.save(buffer, format="PNG")
        files.append(buffer.getvalue())
    response = await sdk.images.edit(
        image=[("harbour.png", files[0], "image/png"), ("red.png", files[1], "image/png")],
        mask=("mask.png", files[2], "image/png"),
        prompt="add a red boat",
    )
    edited = _png(base64.b64decode(response.data[0].b64_json)).convert("RGB")
    assert edited.size == (256, 256)
    assert edited.getpixel((200, 100)) == (40, 90, 160)  # outside the mask: untouched
    assert edited.getpixel((60, 100)) != (40, 90, 160)
    images = await studio.catalog.newest(10, viewer=Viewer(owner="user:alice"))
    kinds = sorted(image.kind for image in images)
    assert kinds == ["edited", "upload", "upload"]
    (made,) = [image for image in images if image.kind == "edited"]
    assert len(made.sources) == 2


async def test_streaming_sends_partials_then_the_image(sdk, studio):
    stream = await sdk.images.generate(prompt="a comet", stream=True, partial_images=2)
    kinds = [event.type async for event in stream]
    assert kinds == ["image_generation.partial_image"] * 2 + ["image_generation.completed"]


async def test_errors_come_back_in_openais_shape(sdk, studio):
    with pytest.raises(openai.BadRequestError, match="it is empty"):
        await sdk.images.generate(prompt=" ")
    forged = openai.AsyncOpenAI(base_url=f"{BASE}/v1", api_key="sk-nope", max_retries=0,
                                http_client=httpx.AsyncClient(
                                    transport=httpx.ASGITransport(app=routes()),
                                    base_url=BASE))  # fmt: skip
    with pytest.raises(openai.AuthenticationError):
        await forged.images.generate(prompt="x")
    studio.jobs.limits = type(studio.jobs.limits)(**{**studio.jobs.limits.__dict__,
                                                    "images_per_owner_per_hour": 1})  # fmt: skip
    await sdk.images.generate(prompt="the one allowed")
    with pytest.raises(openai.RateLimitError, match="limit of 1 images per hour"):
        await sdk.images.generate(prompt="one too many")
