"""Edit masks: the strokes a person painted over an image, drawn at the image's own size.

The painter in the browser reports its strokes as data (points in the canvas's CSS pixels,
a width, paint or eraser); the mask is drawn here with Pillow, so what the provider receives
never depends on what a browser chose to render. OpenAI's rule: a PNG the size of the image,
fully transparent where the image should change, opaque elsewhere.
"""

from __future__ import annotations

import io
import math
from dataclasses import dataclass

from PIL import Image, ImageDraw

__all__ = ["MAX_POINTS", "MaskRefused", "Stroke", "render_mask", "strokes_from_painter"]

# More points than any honest painting holds (a minute of drawing is a few thousand).
MAX_POINTS = 50_000
_MAX_STROKES = 2_000


class MaskRefused(ValueError):
    """The strokes cannot be used; the message is for the user."""


@dataclass(frozen=True)
class Stroke:
    """One stroke in canvas pixels: paint marks what to change, an eraser strokes it back."""

    points: tuple[tuple[float, float], ...]
    width: float
    paint: bool


def _number(value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise MaskRefused("The painted mask arrived damaged; clear it and paint again.")
    return float(value)


def strokes_from_painter(paths: object) -> list[Stroke]:
    """The painter's `CanvasPath` list as strokes, checked field by field (it is client data)."""
    if not isinstance(paths, list) or len(paths) > _MAX_STROKES:
        raise MaskRefused("The painted mask has too many strokes; clear it and paint again.")
    strokes, total = [], 0
    for path in paths:
        if not isinstance(path, dict) or not isinstance(path.get("paths"), list):
            raise MaskRefused("The painted mask arrived damaged; clear it and paint again.")
        points = tuple(
            (_number(point.get("x")), _number(point.get("y")))
            for point in path["paths"]
            if isinstance(point, dict)
        )
        total += len(points)
        if total > MAX_POINTS:
            raise MaskRefused("The painted mask has too many points; clear it and paint again.")
        width = _number(path.get("strokeWidth", 1))
        if points and 0 < width <= 10_000:
            strokes.append(Stroke(points, width, path.get("drawMode", True) is not False))
    return strokes


def render_mask(
    strokes: list[Stroke], canvas_width: float, width: int, height: int
) -> bytes | None:
    """The mask PNG for an image of `width` x `height`, or None if nothing is painted.

    `canvas_width` is how wide the painter was on screen (its strokes' scale). Strokes are
    drawn in order, so an eraser stroke restores what paint before it marked.
    """
    if not any(stroke.paint for stroke in strokes):
        return None
    if not canvas_width > 0:
        raise MaskRefused("The painter's size is unknown; reopen the editor and paint again.")
    scale = width / canvas_width
    # "L" holds the alpha channel: 255 keeps the pixel, 0 marks it for the edit.
    alpha = Image.new("L", (width, height), 255)
    draw = ImageDraw.Draw(alpha)
    for stroke in strokes:
        value = 0 if stroke.paint else 255
        line_width = max(1, round(stroke.width * scale))
        radius = line_width / 2
        points = [(x * scale, y * scale) for x, y in stroke.points]
        if len(points) > 1:
            draw.line(points, fill=value, width=line_width, joint="curve")
        for x, y in points:  # round caps and dots
            draw.ellipse((x - radius, y - radius, x + radius, y + radius), fill=value)
    if alpha.getextrema() == (255, 255):
        return None  # every painted pixel was erased again
    mask = Image.new("RGBA", (width, height), (0, 0, 0, 0))
    mask.putalpha(alpha)
    buffer = io.BytesIO()
    mask.save(buffer, format="PNG", optimize=True)
    return buffer.getvalue()
