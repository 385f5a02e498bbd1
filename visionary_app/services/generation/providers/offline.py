"""A provider that needs no network or key: abstract art seeded by the prompt, drawn with Pillow."""

from __future__ import annotations

import asyncio
import colorsys
import functools
import hashlib
import io
import random
from collections.abc import Callable
from dataclasses import dataclass

from PIL import Image, ImageDraw, ImageFilter, ImageOps

from visionary_app.services.generation.providers.base import (
    GeneratedImage,
    ImageOptions,
    InputImage,
    OnPartial,
    OnProgress,
    ProviderAnswer,
    ProviderError,
    ProviderUsage,
)
from visionary_app.services.generation.providers.capabilities import capabilities_for, parse_size

_SUPERSAMPLE = 2
_SUPERSAMPLE_UP_TO = 640
# Previews are drawn at most this large: a job card shows them at most 384 px wide.
_PREVIEW_SIDE = 384


@dataclass(frozen=True)
class _Drawn:
    """One finished picture as PNG, and its coarse-to-fine previews (PNG, small)."""

    png: bytes
    width: int
    height: int
    previews: list[bytes]


def _draw(paint: Callable[[], Image.Image], previews: int) -> _Drawn:
    """Paint a picture, then encode it and `previews` previews of it, all from memory."""
    picture = paint()
    coarse = [coarse_preview(picture, step, previews) for step in range(previews)]
    return _Drawn(_png(picture), picture.width, picture.height, coarse)


async def _drawn(paint: Callable[[], Image.Image], previews: int) -> _Drawn:
    """`_draw` in a worker thread."""
    return await asyncio.to_thread(_draw, paint, previews)


def _png(picture: Image.Image) -> bytes:
    buffer = io.BytesIO()
    picture.save(buffer, format="PNG", compress_level=1)
    return buffer.getvalue()


def _quarter(pixels: int) -> int:
    return max(1, pixels // 4)


class OfflineProvider:
    """Deterministic pictures: the same prompt and size always give the same PNG bytes.

    It edits too (the masked area repainted from the prompt, or the whole picture blended
    with it) and streams coarse-to-fine previews, so the whole loop works without a key.
    """

    name = "offline"

    def __init__(
        self, model: str = "offline-preview", latency_ms: int = 0, partial_images: int = 2
    ) -> None:
        self.model = model
        self.latency_ms = latency_ms
        self.partial_images = partial_images
        self.capabilities = capabilities_for(model, provider=self.name)

    async def generate(
        self,
        prompt: str,
        options: ImageOptions,
        *,
        safety_identifier: str | None = None,
        on_partial: OnPartial | None = None,
        on_progress: OnProgress | None = None,
    ) -> ProviderAnswer:
        """Draw `n` pictures in worker threads, taking at least the configured latency.

        The drawing happens during the latency, as a remote service works while the caller
        waits, so a latency of L ms means the call takes L ms (unless drawing takes longer).
        """
        width, height = _dimensions(options.size)
        base = prompt if options.seed is None else f"{prompt}\x00seed:{options.seed}"
        # The first picture depends on the prompt alone; the others on the prompt and position.
        seeds = [base] + [f"{base}\x00{index}" for index in range(1, options.n)]
        steps = self._preview_steps(options, on_partial)
        drawing = asyncio.gather(
            *(
                _drawn(functools.partial(render_picture, seed, width, height), steps)
                for seed in seeds
            )
        )
        return await self._deliver(drawing, steps, on_partial)

    async def edit(
        self,
        prompt: str,
        images: list[InputImage],
        options: ImageOptions,
        *,
        mask: bytes | None = None,
        safety_identifier: str | None = None,
        on_partial: OnPartial | None = None,
        on_progress: OnProgress | None = None,
    ) -> ProviderAnswer:
        """Repaint the masked area of the first image from the prompt; the result keeps its size.

        Without a mask the whole picture is blended with the new paint; further images tint it.
        """
        if not images:
            raise ProviderError("An edit needs an image.")
        steps = self._preview_steps(options, on_partial)
        drawing = asyncio.gather(
            *(
                _drawn(
                    functools.partial(render_edit_picture, prompt, images, mask, options.seed, i),
                    steps,
                )
                for i in range(options.n)
            )
        )
        return await self._deliver(drawing, steps, on_partial)

    def _preview_steps(self, options: ImageOptions, on_partial: OnPartial | None) -> int:
        """How many previews a call shows: those configured, of a single image, if asked."""
        return self.partial_images if on_partial is not None and options.n == 1 else 0

    async def _deliver(
        self, drawing: asyncio.Future, steps: int, on_partial: OnPartial | None
    ) -> ProviderAnswer:
        """Wait out the latency, showing coarse-to-fine previews of a single image on the way.

        The latency runs from the call, drawing included: previews are due at even steps of
        it, and one due while the picture is still being drawn comes as soon as it is drawn.
        """
        loop = asyncio.get_running_loop()
        started, latency = loop.time(), self.latency_ms / 1000
        pictures: list[_Drawn] = await drawing
        for step in range(steps):
            await asyncio.sleep(started + latency * (step + 1) / (steps + 1) - loop.time())
            on_partial(0, pictures[0].previews[step], "image/png")
        await asyncio.sleep(started + latency - loop.time())
        results = [
            GeneratedImage(data=p.png, content_type="image/png", width=p.width, height=p.height)
            for p in pictures
        ]
        return ProviderAnswer(results, ProviderUsage(images=len(results)))

    async def check_reachable(self) -> str:
        """Always here: it runs in this process."""
        return "offline provider (no key needed)"


def _dimensions(size: str) -> tuple[int, int]:
    return parse_size(size) or (1024, 1024)


def coarse_preview(picture: Image.Image, step: int, steps: int) -> bytes:
    """The picture as a blocky preview, as a PNG: `step` 0 of `steps` is the coarsest.

    At most `_PREVIEW_SIDE` pixels on its longer side, in the picture's proportions (a real
    provider's partial may be full size; the page shows a small copy either way).
    """
    width, height = picture.size
    longest = max(width, height)
    blocks = 8 * 4**step if steps > 1 else 32
    small = picture.convert("RGB").resize(
        (max(1, width * blocks // longest), max(1, height * blocks // longest)), Image.BILINEAR
    )
    side = min(_PREVIEW_SIDE, longest)
    shown = (max(1, width * side // longest), max(1, height * side // longest))
    return _png(small.resize(shown, Image.NEAREST))


def render_edit(
    prompt: str, images: list[InputImage], mask: bytes | None, seed: int | None, index: int = 0
) -> bytes:
    """The offline edit: new paint from the prompt where the mask is clear, as a PNG."""
    return _png(render_edit_picture(prompt, images, mask, seed, index))


def render_edit_picture(
    prompt: str, images: list[InputImage], mask: bytes | None, seed: int | None, index: int = 0
) -> Image.Image:
    """The offline edit (`render_edit`) as a picture in memory."""
    with Image.open(io.BytesIO(images[0].data)) as opened:
        source = ImageOps.exif_transpose(opened).convert("RGB")
    width, height = source.size
    digest = hashlib.sha256(images[0].data).hexdigest()[:16]
    paint_seed = f"{prompt}\x00edit:{digest}\x00{seed or 0}\x00{index}"
    paint = render_picture(paint_seed, width, height)
    for reference in images[1:]:
        with Image.open(io.BytesIO(reference.data)) as opened:
            tint = opened.convert("RGB").resize((1, 1), Image.BOX).resize((width, height))
        paint = Image.blend(paint, tint, 0.25)
    if mask is None:
        result = Image.blend(source, paint, 0.45)
    else:
        with Image.open(io.BytesIO(mask)) as opened:
            alpha = opened.convert("RGBA").getchannel("A")
        if alpha.size != source.size:
            alpha = alpha.resize(source.size, Image.NEAREST)
        # Transparent (alpha 0) marks what to change: paint there, keep the rest.
        result = Image.composite(source, paint, alpha.point(lambda a: 255 if a else 0))
    return result


def _palette(rng: random.Random) -> list[tuple[int, int, int]]:
    """Five harmonious colours around a base hue, with one complementary accent."""
    base = rng.random()
    offsets = [0.0, 0.06, -0.07, 0.5, 0.13 * rng.choice((-1, 1))]
    colours = []
    for index, offset in enumerate(offsets):
        lightness = 0.18 if index == 0 else rng.uniform(0.45, 0.7)
        saturation = rng.uniform(0.55, 0.9)
        r, g, b = colorsys.hls_to_rgb((base + offset) % 1.0, lightness, saturation)
        colours.append((int(r * 255), int(g * 255), int(b * 255)))
    return colours


def render_png(prompt: str, width: int, height: int) -> bytes:
    """Render the picture for `prompt` and return it encoded as PNG."""
    return _png(render_picture(prompt, width, height))


def render_picture(prompt: str, width: int, height: int) -> Image.Image:
    """The picture for `prompt`, in memory (RGB)."""
    seed = int.from_bytes(hashlib.sha256(prompt.encode("utf-8")).digest()[:8], "big")
    rng = random.Random(seed)  # noqa: S311  (art, not cryptography)
    palette = _palette(rng)
    dark, *lights = palette

    # Background: a rotated two-colour gradient.
    mask = Image.linear_gradient("L").rotate(rng.uniform(0, 360), resample=Image.BICUBIC)
    mask = mask.crop((48, 48, 208, 208)).resize((width, height), Image.BICUBIC)
    picture = Image.composite(
        Image.new("RGB", (width, height), dark),
        Image.new("RGB", (width, height), tuple(c // 2 for c in rng.choice(lights))),
        mask,
    ).convert("RGBA")

    # Soft glows: large translucent ellipses, heavily blurred.
    # They are all blur, so they are drawn at a quarter of the size and scaled up.
    glow = Image.new("RGBA", (_quarter(width), _quarter(height)), (0, 0, 0, 0))
    draw = ImageDraw.Draw(glow)
    span = min(width, height)
    for _ in range(rng.randint(5, 9)):
        cx, cy = rng.uniform(0, width) / 4, rng.uniform(0, height) / 4
        radius = rng.uniform(0.12, 0.38) * span / 4
        draw.ellipse(
            (cx - radius, cy - radius, cx + radius, cy + radius),
            fill=(*rng.choice(lights), rng.randint(90, 170)),
        )
    glow = glow.filter(ImageFilter.GaussianBlur(span / 56))
    picture.alpha_composite(glow.resize((width, height), Image.BICUBIC))

    # Crisp shapes; small pictures are drawn at twice the size and scaled down for smooth
    # edges (large ones have pixels enough).
    scale = _SUPERSAMPLE if max(width, height) <= _SUPERSAMPLE_UP_TO else 1
    crisp = Image.new("RGBA", (width * scale, height * scale), (0, 0, 0, 0))
    draw = ImageDraw.Draw(crisp)
    for _ in range(rng.randint(3, 6)):
        cx, cy = rng.uniform(0, width) * scale, rng.uniform(0, height) * scale
        radius = rng.uniform(0.05, 0.22) * span * scale
        colour = (*rng.choice(lights), rng.randint(150, 230))
        kind = rng.random()
        if kind < 0.4:
            draw.ellipse(
                (cx - radius, cy - radius, cx + radius, cy + radius),
                outline=colour,
                width=max(2, int(radius * rng.uniform(0.04, 0.12))),
            )
        elif kind < 0.75:
            sides = rng.randint(3, 6)
            draw.regular_polygon((cx, cy, radius), sides, rotation=rng.uniform(0, 360), fill=colour)
        else:
            draw.ellipse((cx - radius, cy - radius, cx + radius, cy + radius), fill=colour)
    for _ in range(rng.randint(2, 4)):
        y = rng.uniform(0.1, 0.9) * height * scale
        draw.line(
            (0, y, width * scale, y + rng.uniform(-0.3, 0.3) * height * scale),
            fill=(*rng.choice(lights), rng.randint(60, 140)),
            width=max(2, span * scale // 160),
        )
    for _ in range(rng.randint(20, 60)):
        x, y = rng.uniform(0, width * scale), rng.uniform(0, height * scale)
        r = rng.uniform(1, 3.5) * scale * span / 512
        draw.ellipse((x - r, y - r, x + r, y + r), fill=(255, 255, 255, rng.randint(90, 220)))
    picture.alpha_composite(crisp if scale == 1 else crisp.resize((width, height), Image.LANCZOS))

    # Vignette: darken towards the edges.
    vignette = Image.radial_gradient("L").resize((width, height), Image.BICUBIC)
    vignette = vignette.point(lambda v: min(255, int(max(0, v - 90) * 1.1)))
    picture = Image.composite(Image.new("RGBA", (width, height), (0, 0, 0, 255)), picture, vignette)
    return picture.convert("RGB")
