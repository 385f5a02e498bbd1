"""What each model's calls cost, in one dated table, and the arithmetic of estimates and bills.

Money is integers of micro-dollars (1 USD = 1,000,000), never floats. A token rate is micro-
dollars per million tokens, which is the same number as dollars per million times a million.
Each price names where it was published and when it was read; `VISIONARY_PRICES_FILE` (JSON:
`{"provider/model": {"image_out_per_mtok": 30.0, ...}}` in dollars) overrides or adds prices
without a new release.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, fields, replace
from pathlib import Path
from typing import Protocol

__all__ = [
    "MICROS",
    "PRICES",
    "Price",
    "PriceError",
    "Pricing",
    "Usage",
    "estimate_micros",
    "format_usd",
    "load_prices",
    "price_for",
    "settle_micros",
]

MICROS = 1_000_000  # micro-dollars in a dollar
_MTOK = 1_000_000  # tokens in the "per million tokens" of a rate
_PARTIAL_IMAGE_TOKENS = 100


class Usage(Protocol):
    """What a provider said a call used (the generation room's ProviderUsage)."""

    input_text_tokens: int
    input_image_tokens: int
    output_image_tokens: int
    output_text_tokens: int
    images: int
    seconds: float


class PriceError(ValueError):
    """A prices file that cannot be used; the message says where."""


@dataclass(frozen=True)
class Price:
    """One model's published rates (micro-dollars); 0 where it does not bill that way."""

    text_in_per_mtok: int = 0
    image_in_per_mtok: int = 0
    image_out_per_mtok: int = 0
    text_out_per_mtok: int = 0
    per_image: int = 0
    per_second: int = 0
    # Image output tokens of one 1024x1024 image at each quality, for estimates (scaled by
    # area for other sizes); "" is the model's default.
    output_tokens: tuple[tuple[str, int], ...] = ()
    input_image_tokens: int = 0  # tokens of one input image, for estimates
    source: str = ""
    read_on: str = ""


def _usd(dollars: float) -> int:
    return round(dollars * MICROS)


_OPENAI = "https://openai.com/api/pricing/ (image generation models)"
_GPT_IMAGE_1_TOKENS = (("low", 272), ("medium", 1056), ("high", 4160), ("auto", 1056), ("", 1056))
# gpt-image-2's own per-image figures at 1024x1024 ($0.006 / $0.053 / $0.211 at $30 per 1M).
_GPT_IMAGE_2_TOKENS = (("low", 200), ("medium", 1770), ("high", 7030), ("auto", 1770),
                       ("xhigh", 14_060), ("max", 28_120), ("", 1770))  # fmt: skip
_GEMINI = "https://ai.google.dev/gemini-api/docs/pricing"
_REPLICATE = "https://replicate.com/black-forest-labs"

PRICES: dict[str, Price] = {
    "offline/offline-preview": Price(source="built in: nothing is billed", read_on="2026-12-04"),
    "openai/gpt-image-2": Price(
        text_in_per_mtok=_usd(5), image_in_per_mtok=_usd(8), image_out_per_mtok=_usd(30),
        text_out_per_mtok=_usd(10), output_tokens=_GPT_IMAGE_2_TOKENS,
        input_image_tokens=1500, source=_OPENAI, read_on="2026-12-04",
    ),
    "openai/gpt-image-1.5": Price(
        text_in_per_mtok=_usd(5), image_in_per_mtok=_usd(8), image_out_per_mtok=_usd(32),
        output_tokens=_GPT_IMAGE_1_TOKENS, input_image_tokens=1500, source=_OPENAI,
        read_on="2026-12-04",
    ),
    "openai/gpt-image-1-mini": Price(
        text_in_per_mtok=_usd(2), image_in_per_mtok=_usd(2.5), image_out_per_mtok=_usd(8),
        output_tokens=_GPT_IMAGE_1_TOKENS, input_image_tokens=1500, source=_OPENAI,
        read_on="2026-12-04",
    ),
    "gemini/gemini-2.5-flash-image": Price(
        text_in_per_mtok=_usd(0.30), image_in_per_mtok=_usd(0.30), image_out_per_mtok=_usd(30),
        output_tokens=(("", 1290),), input_image_tokens=258, source=_GEMINI,
        read_on="2026-12-04",
    ),
    "gemini/gemini-3-pro-image-preview": Price(
        text_in_per_mtok=_usd(2), image_in_per_mtok=_usd(2), image_out_per_mtok=_usd(120),
        output_tokens=(("1K", 1120), ("2K", 1120), ("4K", 2000), ("", 1120)),
        input_image_tokens=560, source=_GEMINI, read_on="2026-12-04",
    ),
    "replicate/black-forest-labs/flux-schnell": Price(
        per_image=_usd(0.003), source=_REPLICATE + "/flux-schnell", read_on="2026-12-04"
    ),
    "replicate/black-forest-labs/flux-dev": Price(
        per_image=_usd(0.025), source=_REPLICATE + "/flux-dev", read_on="2026-12-04"
    ),
    "replicate/black-forest-labs/flux-1.1-pro": Price(
        per_image=_usd(0.04), source=_REPLICATE + "/flux-1.1-pro", read_on="2026-12-04"
    ),
    "replicate/black-forest-labs/flux-kontext-pro": Price(
        per_image=_usd(0.04), source=_REPLICATE + "/flux-kontext-pro", read_on="2026-12-04"
    ),
}  # fmt: skip
# Azure OpenAI bills the OpenAI models at OpenAI's rates (global deployments).
for _key in [key for key in PRICES if key.startswith("openai/")]:
    PRICES["azure-openai/" + _key.partition("/")[2]] = PRICES[_key]
_FREE = Price(source="not in the price table: counted as free", read_on="")


def load_prices(path: Path | None, comfyui_per_second_usd: float = 0.0) -> dict[str, Price]:
    """The built-in table with a file's prices laid over it (dollars in the file).

    ComfyUI runs on the team's own GPUs: every ComfyUI model costs `comfyui_per_second_usd`
    a second (0: free) unless the file prices it.
    """
    prices = dict(PRICES)
    prices["comfyui/*"] = Price(
        per_second=_usd(comfyui_per_second_usd),
        source="VISIONARY_COMFYUI_USD_PER_SECOND (your own GPUs)",
    )
    if path is None:
        return prices
    try:
        entries = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        msg = f"VISIONARY_PRICES_FILE cannot be read: {exc}"
        raise PriceError(msg) from exc
    money = {f.name for f in fields(Price) if f.name.startswith(("per_", "text_", "image_"))}
    for key, entry in entries.items():
        if not isinstance(entry, dict) or not set(entry) <= money | {"source", "read_on"}:
            msg = f"VISIONARY_PRICES_FILE: {key!r} must map to rates among {sorted(money)}"
            raise PriceError(msg)
        changes = {name: _usd(float(value)) for name, value in entry.items() if name in money}
        changes |= {name: str(entry[name]) for name in ("source", "read_on") if name in entry}
        prices[key] = replace(prices.get(key, Price()), **changes)
    return prices


def price_for(prices: dict[str, Price], key: str) -> Price:
    """The price of a model by its menu key (`provider/model`); free when not listed."""
    provider = key.partition("/")[0]
    return prices.get(key) or prices.get(f"{provider}/*") or _FREE


def _area_scale(size: str) -> float:
    across, _, down = size.partition("x")
    if across.isdigit() and down.isdigit():
        return int(across) * int(down) / (1024 * 1024)
    return 1.0  # "auto", or an aspect ratio: priced as a square of the model's own size


def _tokens(rate: int, tokens: float) -> int:
    return math.ceil(rate * tokens / _MTOK)


def estimate_micros(
    price: Price,
    *,
    size: str,
    quality: str | None,
    n: int,
    input_images: int = 0,
    prompt_chars: int = 0,
    partial_images: int = 0,
) -> int:
    """What a job of `n` images should cost, rounded up: what is reserved before it runs.

    Each streamed partial image adds 100 image output tokens (OpenAI's rule).
    """
    per_quality = dict(price.output_tokens)
    out_tokens = per_quality.get(quality or "", per_quality.get("", 0)) * _area_scale(size)
    out_tokens += _PARTIAL_IMAGE_TOKENS * partial_images
    text_tokens = max(1, prompt_chars // 4)
    total = _tokens(price.image_out_per_mtok, out_tokens * n)
    total += _tokens(price.text_in_per_mtok, text_tokens)
    total += _tokens(price.image_in_per_mtok, price.input_image_tokens * input_images)
    total += price.per_image * n
    return total


def settle_micros(price: Price, usage: Usage) -> int:
    """What a call cost by the usage its provider reported, rounded up."""
    return (
        _tokens(price.text_in_per_mtok, usage.input_text_tokens)
        + _tokens(price.image_in_per_mtok, usage.input_image_tokens)
        + _tokens(price.image_out_per_mtok, usage.output_image_tokens)
        + _tokens(price.text_out_per_mtok, usage.output_text_tokens)
        + price.per_image * usage.images
        + math.ceil(price.per_second * usage.seconds)
    )


def format_usd(micros: int) -> str:
    """Money for people: "$0.04", "$0.003", "$12.50"; "$0" for nothing."""
    if micros <= 0:
        return "$0"
    dollars = micros / MICROS
    if dollars >= 1:
        return f"${dollars:,.2f}"
    if dollars >= 0.01:
        return f"${dollars:.2f}"
    return f"${dollars:.3f}".rstrip("0") if dollars >= 0.001 else "<$0.001"


class Pricing:
    """The studio's prices (built-in and overridden), asked by model key."""

    def __init__(self, prices: dict[str, Price] | None = None) -> None:
        self.prices = prices if prices is not None else load_prices(None)

    def price(self, key: str) -> Price:
        """The price of the model `key` (see `price_for`)."""
        return price_for(self.prices, key)
