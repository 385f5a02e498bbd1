"""Masks drawn on the server from the painter's strokes, at the image's own size."""

from __future__ import annotations

import io

import pytest
from PIL import Image as PILImage

from visionary_app.services.generation.masks import (
    MAX_POINTS,
    MaskRefused,
    render_mask,
    strokes_from_painter,
)


def _path(points, width=20, paint=True) -> dict:
    return {
        "paths": [{"x": x, "y": y} for x, y in points],
        "strokeWidth": width,
        "strokeColor": "rgba(124, 58, 237, 0.55)",
        "drawMode": paint,
    }


def _alpha(png: bytes) -> PILImage.Image:
    mask = PILImage.open(io.BytesIO(png))
    assert mask.format == "PNG" and mask.mode == "RGBA"
    return mask.getchannel("A")


def test_painted_strokes_are_transparent_and_scaled_to_the_image():
    # Painted on a 256 px wide canvas; the image is 1024 x 512: four times the scale.
    strokes = strokes_from_painter([_path([(10, 10), (100, 10)], width=8)])
    alpha = _alpha(render_mask(strokes, 256, 1024, 512))
    assert alpha.size == (1024, 512)
    assert alpha.getpixel((200, 40)) == 0  # on the stroke (x 50, y 10 on the canvas)
    assert alpha.getpixel((200, 100)) == 255  # below it
    assert alpha.getpixel((1000, 500)) == 255


def test_an_eraser_stroke_restores_what_paint_before_it_marked():
    strokes = strokes_from_painter(
        [_path([(10, 10), (100, 10)], width=10), _path([(50, 10)], width=30, paint=False)]
    )
    alpha = _alpha(render_mask(strokes, 128, 128, 128))
    assert alpha.getpixel((50, 10)) == 255 and alpha.getpixel((90, 10)) == 0


def test_nothing_painted_means_no_mask():
    assert render_mask([], 100, 64, 64) is None
    erased = strokes_from_painter(
        [_path([(5, 5)], width=4), _path([(5, 5)], width=40, paint=False)]
    )
    assert render_mask(erased, 100, 64, 64) is None


@pytest.mark.parametrize(
    "paths",
    [
        "not a list",
        [{"paths": "nope"}],
        [_path([(float("nan"), 1)])],
        [{"paths": [{"x": "1", "y": 2}], "strokeWidth": 3}],
        [_path([(1, 1)] * (MAX_POINTS + 1))],
    ],
    ids=["not-a-list", "no-points", "nan", "string-coordinate", "too-many-points"],
)
def test_damaged_or_huge_strokes_are_refused_with_a_message(paths):
    with pytest.raises(MaskRefused, match="paint again"):
        strokes_from_painter(paths)


def test_an_unknown_canvas_size_is_refused():
    strokes = strokes_from_painter([_path([(1, 1)])])
    with pytest.raises(MaskRefused, match="size is unknown"):
        render_mask(strokes, 0, 64, 64)
