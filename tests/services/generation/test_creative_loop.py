"""Edits, variations, streamed previews and lineage: the real SDK against the fake server, and
the offline provider, through the pipeline and the job runner."""

from __future__ import annotations

import io

import pytest
from PIL import Image as PILImage

from tests.conftest import small_pipeline
from tests.fakes.openai_server import FakeOpenAI
from tests.services.generation.test_openai_provider import build_provider, openai_settings
from visionary_app.models import ImageKind
from visionary_app.services.access.ownership import Viewer
from visionary_app.services.generation.pipeline import InvalidOptions, Recipe
from visionary_app.services.generation.providers import OfflineProvider
from visionary_app.services.generation.providers.base import ImageOptions, InputImage
from visionary_app.services.generation.providers.capabilities import (
    MODEL_CAPABILITIES,
    capabilities_for,
    size_problem,
)
from visionary_app.services.generation.providers.offline import render_png
from visionary_app.services.storage.blob_metadata import decode_image, encode_image


@pytest.fixture(scope="module")
def fake():
    server = FakeOpenAI().start()
    yield server
    server.stop()


def _mask(width: int, height: int, hole: tuple[int, int, int, int]) -> bytes:
    """Opaque everywhere but `hole`, which is fully transparent (what to repaint)."""
    mask = PILImage.new("RGBA", (width, height), (0, 0, 0, 255))
    mask.paste((0, 0, 0, 0), hole)
    buffer = io.BytesIO()
    mask.save(buffer, format="PNG")
    return buffer.getvalue()


def _pixels(data: bytes) -> PILImage.Image:
    return PILImage.open(io.BytesIO(data)).convert("RGB")


async def test_an_edit_goes_out_as_multipart_with_every_image_and_the_mask(fake):
    provider, _ = build_provider(openai_settings(fake, partial_images=0))
    source = render_png("a harbour", 256, 256)
    reference = render_png("a lighthouse", 256, 256)
    before = len(fake.requests)
    mask = _mask(256, 256, (0, 0, 128, 128))
    (edited,) = await provider.edit(
        "add a red boat",
        [InputImage(source, "image/png", "image-1.png"), InputImage(reference, "image/png")],
        ImageOptions(size="1024x1024", quality="high"),
        mask=mask,
        safety_identifier="abc123",
    )
    (request,) = fake.requests[before:]
    assert request.path == "/v1/images/edits"
    assert [item["data"] for item in request.body["image"]] == [source, reference]
    assert request.body["mask"]["data"] == mask
    assert request.body["prompt"] == "add a red boat"
    assert request.body["quality"] == "high"
    assert request.body["safety_identifier"] == "abc123"
    assert "stream" not in request.body
    # The fake repaints the transparent quarter only: the rest is the source's own pixels.
    result, original = _pixels(edited.data), _pixels(source)
    assert result.getpixel((200, 200)) == original.getpixel((200, 200))
    assert result.crop((0, 0, 128, 128)).tobytes() != original.crop((0, 0, 128, 128)).tobytes()


async def test_a_mask_of_the_wrong_size_is_refused_with_the_providers_words(fake):
    provider, _ = build_provider(openai_settings(fake, partial_images=0))
    from visionary_app.services.generation.providers import ProviderError

    with pytest.raises(ProviderError, match="same dimensions"):
        await provider.edit(
            "x",
            [InputImage(render_png("x", 256, 256), "image/png")],
            ImageOptions(size="1024x1024"),
            mask=_mask(128, 128, (0, 0, 10, 10)),
        )


@pytest.mark.parametrize("edit", [False, True], ids=["generation", "edit"])
async def test_streamed_images_show_each_partial_before_the_final(fake, edit):
    provider, _ = build_provider(openai_settings(fake, partial_images=2))
    partials: list[bytes] = []
    before = len(fake.requests)
    options = ImageOptions(size="1024x1024")
    if edit:
        source = InputImage(render_png("a field", 256, 256), "image/png")
        (final,) = await provider.edit(
            "a field of tulips", [source], options, on_partial=lambda i, d, t: partials.append(d)
        )
    else:
        (final,) = await provider.generate(
            "a field", options, on_partial=lambda i, d, t: partials.append(d)
        )
    (request,) = fake.requests[before:]
    assert request.body["stream"] is True and request.body["partial_images"] == 2
    assert len(partials) == 2
    assert len(set(partials)) == 2 and final.data not in partials
    for preview in partials:
        assert _pixels(preview).size == _pixels(final.data).size


async def test_several_images_are_not_streamed(fake):
    provider, _ = build_provider(openai_settings(fake, partial_images=2))
    before = len(fake.requests)
    images = await provider.generate(
        "three", ImageOptions(size="1024x1024", n=3), on_partial=lambda *_: None
    )
    assert len(images) == 3
    assert "stream" not in fake.requests[before].body


async def test_model_options_reach_the_api_only_where_the_model_takes_them(fake):
    settings = openai_settings(
        fake, image_model="gpt-image-2.5-flare", image_moderation="low",
        output_format="webp", output_compression=70, partial_images=0,
    )  # fmt: skip
    provider, _ = build_provider(settings)
    before = len(fake.requests)
    await provider.generate(
        "a kite",
        ImageOptions(size="1536x864", quality="xhigh", background="transparent",
                     complexity="high"),
    )  # fmt: skip
    body = fake.requests[before].body
    assert body["quality"] == "xhigh" and body["size"] == "1536x864"
    assert body["background"] == "transparent" and body["complexity"] == "high"
    assert body["moderation"] == "low"
    assert body["output_format"] == "webp" and body["output_compression"] == 70


@pytest.mark.parametrize(
    ("size", "problem"),
    [
        ("1536x864", None),
        ("3840x2160", None),
        ("1000x1000", "multiples of 16"),
        ("4096x1024", "at most 3840"),
        ("2400x784", "3:1"),
        ("512x512", "pixels"),
        ("big", "WIDTHxHEIGHT"),
    ],
)
def test_free_form_sizes_follow_the_documented_rules(size, problem):
    found = size_problem(size)
    assert found is None if problem is None else problem in found


def test_the_model_table_follows_the_sdk():
    from typing import get_args

    from openai.types import ImageModel

    listed = set(get_args(ImageModel))
    assert listed <= set(MODEL_CAPABILITIES), listed - set(MODEL_CAPABILITIES)
    for model in ("gpt-image-2", "gpt-image-2.5-sunburst", "gpt-image-2.6-flare"):
        assert model in listed
        caps = capabilities_for(model, provider="openai")
        assert caps.edits and caps.streaming and caps.custom_sizes
    assert "xhigh" in capabilities_for("gpt-image-2.6-sunburst", provider="openai").qualities
    assert "xhigh" not in capabilities_for("gpt-image-2", provider="openai").qualities


async def test_an_edit_is_a_new_image_linked_to_its_source_which_stays_untouched(store, catalog):
    pipeline = small_pipeline(store, catalog)
    source = await pipeline.generate("a quiet street", owner="user:alice")
    source_bytes = await store.read(source.blob_name)
    reference = await pipeline.generate("a red umbrella", owner="user:alice")
    partials = []
    recipe = Recipe(
        ImageKind.EDITED,
        "add rain",
        ImageOptions(size="256x256"),
        (source, reference),
        _mask(256, 256, (64, 64, 192, 192)),
    )
    batch = await pipeline.make(
        recipe, owner="user:bob", on_partial=lambda i, d, t: partials.append(d)
    )
    (edited,) = batch.kept
    assert edited.kind == ImageKind.EDITED and edited.owner == "user:bob"
    assert edited.source_id == source.id and edited.sources == [source.id, reference.id]
    assert await store.read(source.blob_name) == source_bytes
    assert len(partials) == 2  # the offline provider streams too
    bob = Viewer(owner="user:bob")
    assert [image.id for image in await catalog.made_from(bob, source.id)] == [edited.id]
    # The lineage is in the blob's metadata too, so `sync` can rebuild it.
    metadata = encode_image(edited).metadata
    rebuilt = decode_image(
        edited.blob_name, metadata, byte_size=edited.byte_size, content_type=edited.content_type
    )
    assert rebuilt.kind == "edited" and rebuilt.sources == [source.id, reference.id]


async def test_variations_differ_from_each_other_and_from_their_source(store, catalog):
    pipeline = small_pipeline(store, catalog)
    source = await pipeline.generate("a paper crane")
    made = []
    for seed in (1, 2):
        recipe = Recipe(ImageKind.VARIATION, source.prompt,
                        ImageOptions(size="256x256", seed=seed), (source,))  # fmt: skip
        (image,) = (await pipeline.make(recipe, owner="user:a")).kept
        assert image.kind == "variation" and image.source_id == source.id
        made.append(await store.read(image.blob_name))
    assert made[0] != made[1] and await store.read(source.blob_name) not in made


async def test_a_model_that_cannot_edit_refuses_before_any_call(store, catalog):
    provider = OfflineProvider(partial_images=0)
    pipeline = small_pipeline(store, catalog, provider)
    source = await pipeline.generate("a kettle")
    provider.capabilities = capabilities_for("dall-e-3", provider="openai-compatible")
    recipe = Recipe(ImageKind.EDITED, "blue", ImageOptions(size="1024x1024"), (source,))
    with pytest.raises(InvalidOptions, match="cannot edit"):
        await pipeline.make(recipe, owner="user:a")


async def test_offline_edits_are_deterministic_and_keep_the_unmasked_pixels():
    provider = OfflineProvider(partial_images=0)
    source = render_png("a meadow", 256, 256)
    mask = _mask(256, 256, (0, 0, 100, 256))
    first = await provider.edit("sunflowers", [InputImage(source, "image/png")],
                                ImageOptions(size="256x256"), mask=mask)  # fmt: skip
    second = await provider.edit("sunflowers", [InputImage(source, "image/png")],
                                 ImageOptions(size="256x256"), mask=mask)  # fmt: skip
    assert first[0].data == second[0].data
    result, original = _pixels(first[0].data), _pixels(source)
    assert result.crop((100, 0, 256, 256)).tobytes() == original.crop((100, 0, 256, 256)).tobytes()
    assert result.crop((0, 0, 100, 256)).tobytes() != original.crop((0, 0, 100, 256)).tobytes()
