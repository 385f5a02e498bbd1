import asyncio
import io
import time

from PIL import Image

from visionary_app.services.providers import OfflineProvider


async def test_same_prompt_gives_identical_png():
    provider = OfflineProvider()
    first = await provider.generate("a lighthouse at dusk", width=256, height=192)
    second = await provider.generate("a lighthouse at dusk", width=256, height=192)
    assert first.data == second.data
    assert first.content_type == "image/png"
    with Image.open(io.BytesIO(first.data)) as picture:
        assert picture.format == "PNG"
        assert picture.size == (256, 192)
    assert (first.width, first.height) == (256, 192)


async def test_different_prompts_give_different_pictures():
    provider = OfflineProvider()
    images = await asyncio.gather(
        *(provider.generate(p, width=128, height=128) for p in ["cat", "dog", "🦊 狐", ""])
    )
    assert len({image.data for image in images}) == 4


async def test_picture_is_not_flat():
    image = await OfflineProvider().generate("colourful", width=128, height=128)
    with Image.open(io.BytesIO(image.data)) as picture:
        colours = picture.convert("RGB").getcolors(maxcolors=1_000_000)
    assert colours is not None and len(colours) > 500


async def test_latency_setting_delays_the_result():
    provider = OfflineProvider(latency_ms=300)
    started = time.monotonic()
    await provider.generate("slow", width=64, height=64)
    assert time.monotonic() - started >= 0.3


async def test_model_name_comes_from_settings_not_code():
    assert OfflineProvider(model="my-model").model == "my-model"
    assert OfflineProvider().name == "offline"
