import asyncio
import io
import time

from PIL import Image

from visionary_app.services.generation.providers import OfflineProvider
from visionary_app.services.generation.providers.base import ImageOptions


def _one(provider, prompt, size="256x256"):
    return provider.generate(prompt, ImageOptions(size=size))


async def test_same_prompt_gives_identical_png():
    provider = OfflineProvider()
    (first,) = await provider.generate("a lighthouse at dusk", ImageOptions(size="1536x1024"))
    (second,) = await provider.generate("a lighthouse at dusk", ImageOptions(size="1536x1024"))
    assert first.data == second.data
    assert first.content_type == "image/png"
    with Image.open(io.BytesIO(first.data)) as picture:
        assert picture.format == "PNG"
        assert picture.size == (1536, 1024)
    assert (first.width, first.height) == (1536, 1024)


async def test_different_prompts_give_different_pictures():
    provider = OfflineProvider()
    batches = await asyncio.gather(*(_one(provider, p) for p in ["cat", "dog", "🦊 狐", ""]))
    images = [batch[0] for batch in batches]
    assert len({image.data for image in images}) == 4


async def test_picture_is_not_flat():
    (image,) = await _one(OfflineProvider(), "colourful")
    with Image.open(io.BytesIO(image.data)) as picture:
        colours = picture.convert("RGB").getcolors(maxcolors=1_000_000)
    assert colours is not None and len(colours) > 500


async def test_latency_setting_delays_the_result():
    provider = OfflineProvider(latency_ms=300)
    started = time.monotonic()
    await _one(provider, "slow")
    assert time.monotonic() - started >= 0.3


async def test_model_name_comes_from_settings_not_code():
    assert OfflineProvider(model="my-model").model == "my-model"
    assert OfflineProvider().name == "offline"


async def test_a_batch_gives_distinct_pictures_and_the_first_matches_a_single():
    provider = OfflineProvider()
    batch = await provider.generate("harbour", ImageOptions(size="256x256", n=3))
    (single,) = await _one(provider, "harbour")
    assert len({image.data for image in batch}) == 3
    assert batch[0].data == single.data
