"""Gemini through the real google-genai SDK against a stand-in speaking generateContent."""

from __future__ import annotations

import io

import pytest
from PIL import Image as PILImage

from tests.conftest import small_pipeline
from tests.fakes.gemini_server import IMAGE_INPUT_TOKENS, IMAGE_OUTPUT_TOKENS, FakeGemini
from visionary_app.models import ImageKind
from visionary_app.services.generation.pipeline import GenerationFailed, Recipe
from visionary_app.services.generation.providers.base import (
    ImageOptions,
    InputImage,
    ProviderError,
)
from visionary_app.services.generation.providers.gemini import MASK_INSTRUCTION
from visionary_app.services.generation.providers.offline import render_png
from visionary_app.services.storage.blob_metadata import decode_image
from visionary_app.services.studio import build_models
from visionary_app.settings import Settings


@pytest.fixture(scope="module")
def gemini():
    server = FakeGemini().start()
    yield server
    server.stop()


def gemini_settings(server: FakeGemini, **extra) -> Settings:
    values = {
        "GEMINI_API_KEY": server.api_key,
        "gemini_base_url": server.base_url,
        "provider_max_retries": 0,
        "provider": "auto",
    }
    return Settings(_env_file=None, **(values | extra))


def gemini_provider(server: FakeGemini, **extra):
    menu, _ = build_models(gemini_settings(server, **extra))
    (choice,) = [choice for choice in menu if choice.provider.name == "gemini"]
    return choice.provider


def _size(data: bytes) -> tuple[int, int]:
    with PILImage.open(io.BytesIO(data)) as picture:
        return picture.size


async def test_a_gemini_key_alone_offers_gemini_only(gemini):
    menu, _ = build_models(gemini_settings(gemini))
    assert [choice.key for choice in menu] == ["gemini/gemini-2.5-flash-image"]
    assert menu.default.label == "Google Gemini · gemini-2.5-flash-image"
    assert menu.default.capabilities.size_label == "Aspect ratio"


async def test_offline_and_gemini_side_by_side_when_asked(gemini):
    menu, _ = build_models(
        gemini_settings(gemini, provider="offline", models="gemini-2.5-flash-image,offline-preview")
    )
    assert [choice.key for choice in menu] == [
        "gemini/gemini-2.5-flash-image",
        "offline/offline-preview",
    ]


async def test_generates_at_the_aspect_ratio_with_usage(gemini):
    provider = gemini_provider(gemini)
    answer = await provider.generate("a lighthouse", ImageOptions(size="16:9", n=2))
    assert len(answer) == 2
    width, height = _size(answer[0].data)
    assert width > height and answer[0].content_type == "image/png"
    assert answer.usage.output_image_tokens == 2 * IMAGE_OUTPUT_TOKENS
    assert answer.usage.images == 2
    call = gemini.calls[-1]
    assert call.config["responseModalities"] == ["IMAGE"]
    assert call.config["imageConfig"]["aspectRatio"] == "16:9"


async def test_an_edit_sends_the_images_and_the_mask_as_a_picture(gemini):
    provider = gemini_provider(gemini)
    source = render_png("a field", 128, 128)
    mask_picture = PILImage.new("RGBA", (128, 128), (0, 0, 0, 255))
    mask_picture.paste((0, 0, 0, 0), (0, 0, 64, 128))  # the left half is to change
    out = io.BytesIO()
    mask_picture.save(out, format="PNG")
    answer = await provider.edit(
        "add poppies", [InputImage(source, "image/png")], ImageOptions(size="1:1"),
        mask=out.getvalue(),
    )  # fmt: skip
    assert len(answer) == 1
    call = gemini.calls[-1]
    assert call.images[0] == source  # byte for byte, through URL-safe base64
    with PILImage.open(io.BytesIO(call.images[1])) as sent_mask:
        assert sent_mask.convert("L").getpixel((10, 10)) == 255  # white: change
        assert sent_mask.convert("L").getpixel((100, 10)) == 0  # black: keep
    assert call.texts[-1].startswith(MASK_INSTRUCTION) and call.texts[-1].endswith("add poppies")
    assert answer.usage.input_image_tokens == 2 * IMAGE_INPUT_TOKENS


@pytest.mark.parametrize(
    ("marker", "kind", "words"),
    [
        ("[image-safety]", "safety", "IMAGE_SAFETY"),
        ("[blocked]", "safety", "PROHIBITED_CONTENT"),
        ("[text-only]", "refused", "without an image"),
        ("[429]", "rate_limit", "quota"),
        ("[500]", "server", "server error"),
    ],
)
async def test_refusals_and_failures_are_explained(gemini, marker, kind, words):
    provider = gemini_provider(gemini)
    with pytest.raises(ProviderError, match=words) as failure:
        await provider.generate(f"a cat {marker}", ImageOptions(size="1:1"))
    assert failure.value.kind == kind


async def test_a_bad_key_is_named_as_such(gemini):
    provider = gemini_provider(gemini, GEMINI_API_KEY="not-the-key-0000000000")
    with pytest.raises(ProviderError, match="rejected the API key") as failure:
        await provider.generate("a cat", ImageOptions(size="1:1"))
    assert failure.value.kind == "auth"
    with pytest.raises(ProviderError, match="rejected the API key"):
        await provider.check_reachable()
    assert "reachable" in await gemini_provider(gemini).check_reachable()


async def test_the_pipeline_keeps_gemini_images_byte_for_byte_and_names_the_model(
    gemini, store, catalog
):
    provider = gemini_provider(gemini)
    pipeline = small_pipeline(store, catalog, provider)
    options = ImageOptions(size="3:2", model="gemini/gemini-2.5-flash-image")
    batch = await pipeline.make(Recipe(ImageKind.GENERATED, "a harbour", options), owner="u:a")
    (image,) = batch.kept
    assert (image.provider, image.model) == ("gemini", "gemini-2.5-flash-image")
    assert await store.read(image.blob_name) == gemini.sent[-1]  # the original, untouched
    assert batch.usage.output_image_tokens == IMAGE_OUTPUT_TOKENS
    (info,) = [blob async for blob in store.list_blobs() if blob.name == image.blob_name]
    rebuilt = decode_image(
        image.blob_name, info.metadata, byte_size=info.size, content_type=info.content_type
    )
    assert (rebuilt.provider, rebuilt.model) == ("gemini", "gemini-2.5-flash-image")


async def test_a_refusal_stores_nothing(gemini, store, catalog):
    pipeline = small_pipeline(store, catalog, gemini_provider(gemini))
    with pytest.raises(GenerationFailed, match="IMAGE_SAFETY") as failure:
        await pipeline.make(
            Recipe(ImageKind.GENERATED, "x [image-safety]", ImageOptions(size="1:1")), owner="u:a"
        )
    assert failure.value.usage is not None and failure.value.usage.input_text_tokens > 0
    assert await catalog.count() == 0


def test_vertex_ai_comes_from_the_sdks_own_variables():
    settings = Settings(
        _env_file=None,
        GOOGLE_GENAI_USE_VERTEXAI=True,
        GOOGLE_CLOUD_PROJECT="a-project",
        GOOGLE_CLOUD_LOCATION="europe-west4",
        gemini_models="gemini-2.5-flash-image,gemini-3-pro-image-preview",
    )
    menu, _ = build_models(settings)
    assert [choice.key for choice in menu] == [
        "gemini/gemini-2.5-flash-image",
        "gemini/gemini-3-pro-image-preview",
    ]
    provider = menu.default.provider
    assert provider.label == "Vertex AI" and provider._client.vertexai
    pro = menu.get("gemini-3-pro-image-preview").capabilities
    assert pro.qualities == ("1K", "2K", "4K") and pro.quality_label == "Resolution"
    # Without a project, Vertex AI is not configured (and there is no key): offline only.
    alone, _ = build_models(Settings(_env_file=None, GOOGLE_GENAI_USE_VERTEXAI=True))
    assert [choice.key for choice in alone] == ["offline/offline-preview"]


async def test_the_pro_model_takes_a_resolution(gemini):
    provider = gemini_provider(gemini, gemini_models="gemini-3-pro-image-preview")
    await provider.generate("a map", ImageOptions(size="4:3", quality="2K"))
    call = gemini.calls[-1]
    assert call.model == "gemini-3-pro-image-preview"
    assert call.config["imageConfig"] == {"aspectRatio": "4:3", "imageSize": "2K"}
