"""Hosted FLUX models through the official replicate client, against a stand-in of its API."""

from __future__ import annotations

import asyncio

import pytest

from tests.conftest import small_pipeline
from tests.fakes.replicate_server import FakeReplicate
from visionary_app.models import ImageKind
from visionary_app.services.generation.pipeline import InvalidOptions, Recipe
from visionary_app.services.generation.providers.base import (
    ImageOptions,
    InputImage,
    ProviderError,
)
from visionary_app.services.generation.providers.offline import render_png
from visionary_app.services.studio import build_models
from visionary_app.settings import Settings

SCHNELL = "black-forest-labs/flux-schnell"
KONTEXT = "black-forest-labs/flux-kontext-pro"


@pytest.fixture(scope="module")
def hosted():
    server = FakeReplicate().start()
    yield server
    server.stop()


@pytest.fixture(autouse=True)
def _quick_polls(monkeypatch):
    monkeypatch.setenv("REPLICATE_POLL_INTERVAL", "0.1")


def provider_for(server: FakeReplicate, model: str = SCHNELL, **extra):
    values = {
        "REPLICATE_API_TOKEN": server.token,
        "replicate_base_url": server.base_url,
        "replicate_models": f"{SCHNELL},{KONTEXT}",
        "provider_timeout_seconds": 20,
    }
    menu, _ = build_models(Settings(_env_file=None, **(values | extra)))
    return menu.get(f"replicate/{model}").provider


async def test_generates_flux_images_with_usage(hosted):
    answer = await provider_for(hosted).generate("a fox", ImageOptions(size="16:9", n=2, seed=3))
    assert len(answer) == 2 and answer[0].width > answer[0].height
    assert answer.usage.images == 2 and answer.usage.seconds == pytest.approx(0.8)
    (sent,) = [body for body in hosted.inputs.values() if body["prompt"] == "a fox"]
    assert sent == {"prompt": "a fox", "aspect_ratio": "16:9", "num_outputs": 2, "seed": 3,
                    "output_format": "png"}  # fmt: skip


async def test_kontext_edits_by_instruction_and_refuses_a_mask(hosted, store, catalog):
    kontext = provider_for(hosted, KONTEXT)
    source = render_png("a field", 64, 64)
    answer = await kontext.edit("make it snow", [InputImage(source, "image/png")],
                                ImageOptions(size="1:1"))  # fmt: skip
    assert len(answer) == 1
    (sent,) = [body for body in hosted.inputs.values() if body["prompt"] == "make it snow"]
    assert sent["input_image"].startswith("data:image/png;base64,")
    pipeline = small_pipeline(store, catalog, kontext)
    image = await small_pipeline(store, catalog).generate("a field")
    options = ImageOptions(size="1:1", model=f"replicate/{KONTEXT}")
    painted = Recipe(ImageKind.EDITED, "snow", options, (image,), mask=b"a mask")
    with pytest.raises(InvalidOptions, match="takes no mask"):
        await pipeline.make(painted, owner="u:a")


@pytest.mark.parametrize(
    ("prompt", "kind", "words"),
    [("a cat [nsfw]", "safety", "NSFW"), ("a cat [402]", "refused", "insufficient credit")],
)
async def test_failures_are_explained(hosted, prompt, kind, words):
    with pytest.raises(ProviderError, match=words) as failure:
        await provider_for(hosted).generate(prompt, ImageOptions(size="1:1"))
    assert failure.value.kind == kind


async def test_a_bad_token_is_named_and_readiness_reads_the_model(hosted):
    bad = provider_for(hosted, REPLICATE_API_TOKEN="r8_wrong_token_000000")
    with pytest.raises(ProviderError, match="rejected the API key"):
        await bad.generate("a cat", ImageOptions(size="1:1"))
    with pytest.raises(ProviderError, match="rejected the API key"):
        await bad.check_reachable()
    assert "reachable" in await provider_for(hosted).check_reachable()


async def test_a_cancelled_job_cancels_its_prediction(hosted):
    run = asyncio.create_task(provider_for(hosted).generate("a slow tide [slow]",
                                                            ImageOptions(size="1:1")))  # fmt: skip
    for _ in range(100):
        slow = [key for key, body in hosted.inputs.items() if "[slow]" in body["prompt"]]
        if slow:
            break
        await asyncio.sleep(0.05)
    await asyncio.sleep(0.3)
    run.cancel()
    with pytest.raises(asyncio.CancelledError):
        await run
    assert slow[0] in hosted.cancelled
    assert hosted.predictions[slow[0]]["status"] == "canceled"
