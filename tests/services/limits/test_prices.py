"""Prices in integers of micro-dollars: estimates before a call, bills from reported usage."""

from __future__ import annotations

import json

import pytest

from tests.conftest import small_pipeline
from tests.fakes.openai_server import FakeOpenAI
from tests.services.generation.test_openai_provider import build_provider, openai_settings
from visionary_app.models import JobStatus
from visionary_app.services.generation.providers.base import ImageOptions, ProviderUsage
from visionary_app.services.generation.queue import JobQueue
from visionary_app.services.generation.runner import JobRunner
from visionary_app.services.limits.image_limits import JobLimits
from visionary_app.services.limits.prices import (
    PRICES,
    Price,
    PriceError,
    Pricing,
    estimate_micros,
    format_usd,
    load_prices,
    price_for,
    settle_micros,
)

GPT_IMAGE_2 = PRICES["openai/gpt-image-2"]


def test_every_price_is_integers_and_names_its_source():
    for key, price in PRICES.items():
        money = [price.text_in_per_mtok, price.image_in_per_mtok, price.image_out_per_mtok,
                 price.text_out_per_mtok, price.per_image, price.per_second]  # fmt: skip
        assert all(isinstance(value, int) for value in money), key
        assert price.source and price.read_on, key


def test_high_quality_large_images_are_estimated_above_low_small_ones():
    def estimate(quality, size, n=1):
        return estimate_micros(GPT_IMAGE_2, size=size, quality=quality, n=n)

    low, high = estimate("low", "1024x1024"), estimate("high", "1024x1024")
    assert 5_000 <= low <= 7_000  # about $0.006
    assert 200_000 <= high <= 220_000  # about $0.21
    assert estimate("high", "3840x2160") > 30 * low  # "dozens of times" a small low one
    assert estimate("medium", "1024x1024", n=3) >= 3 * estimate("medium", "1024x1024") - 10
    with_partials = estimate_micros(GPT_IMAGE_2, size="1024x1024", quality="low", n=1,
                                    partial_images=2)  # fmt: skip
    assert with_partials - low == 6_000  # 200 more output tokens at $30 per million
    edit = estimate_micros(GPT_IMAGE_2, size="1024x1024", quality="low", n=1, input_images=2)
    assert edit > low


def test_a_bill_is_priced_from_the_reported_usage():
    # The Images API's usage.output_tokens are priced at the image-output rate.
    usage = ProviderUsage(input_text_tokens=50, output_image_tokens=4160, images=1)
    assert settle_micros(GPT_IMAGE_2, usage) == 250 + 124_800
    flux = PRICES["replicate/black-forest-labs/flux-schnell"]
    assert settle_micros(flux, ProviderUsage(images=4, seconds=1.2)) == 12_000
    gpu = load_prices(None, comfyui_per_second_usd=0.0005)
    assert settle_micros(price_for(gpu, "comfyui/text-to-image"),
                         ProviderUsage(seconds=10.0)) == 5_000  # fmt: skip
    assert price_for(PRICES, "unknown/model") == Price(
        source="not in the price table: counted as free", read_on=""
    )


def test_a_prices_file_overrides_and_adds(tmp_path):
    path = tmp_path / "prices.json"
    path.write_text(json.dumps({
        "openai/gpt-image-2": {"image_out_per_mtok": 20.0},
        "openai-compatible/my-model": {"per_image": 0.01, "source": "our contract"},
    }))  # fmt: skip
    prices = load_prices(path)
    assert prices["openai/gpt-image-2"].image_out_per_mtok == 20_000_000
    assert prices["openai/gpt-image-2"].text_in_per_mtok == GPT_IMAGE_2.text_in_per_mtok
    assert prices["openai-compatible/my-model"].per_image == 10_000
    path.write_text(json.dumps({"x/y": {"per_banana": 1}}))
    with pytest.raises(PriceError, match=r"rates among"):
        load_prices(path)


def test_money_is_shown_in_dollars():
    assert [format_usd(m) for m in (0, 500, 6_000, 40_000, 211_000, 12_500_000)] == [
        "$0", "<$0.001", "$0.006", "$0.04", "$0.21", "$12.50",
    ]  # fmt: skip


@pytest.fixture(scope="module")
def fake():
    server = FakeOpenAI().start()
    yield server
    server.stop()


async def test_a_job_reserves_its_estimate_and_settles_at_the_reported_usage(
    fake, store, catalog, engine
):
    provider, _ = build_provider(openai_settings(fake, partial_images=0))
    queue = JobQueue(engine, JobLimits())
    runner = JobRunner(queue, small_pipeline(store, catalog, provider), pricing=Pricing())
    options = ImageOptions(size="1024x1024", quality="high", n=1)
    job = await runner.submit("alice", "a red fox", options)
    assert job.estimated_micros == runner.estimate(options, "a red fox") > 200_000
    [event async for event in runner.follow(job)]
    row = await queue.get(job.id)
    assert row.status == JobStatus.SUCCEEDED
    reported = json.loads(row.usage)
    assert reported["output_image_tokens"] == 4160  # OpenAI's documented count: high, square
    assert row.cost_micros == settle_micros(GPT_IMAGE_2, ProviderUsage(**reported))
    assert row.cost_micros == 124_800 + 10  # image output at $30/M, and 2 prompt tokens at $5/M
    # A provider failure after the call costs the estimate when nothing is reported.
    failing = await runner.submit("alice", "a cat [500]", options)
    [event async for event in runner.follow(failing)]
    failed = await queue.get(failing.id)
    assert failed.status == JobStatus.FAILED and failed.cost_micros == failed.estimated_micros
    # Cancelled before it started: nothing.
    queue.stop_claiming()  # no worker takes it
    waiting = await queue.submit("alice", "never runs", options, estimated_micros=1000)
    assert await runner.cancel(waiting.id, "alice")
    assert (await queue.get(waiting.id)).cost_micros == 0
