"""The mask painter: react-sketch-canvas (npm) wrapped as a Reflex component.

It draws strokes over the image in the browser and reports them, after every change, as
data: the strokes and the canvas's on-screen width (their scale). The server draws the mask
from them (services/masks.py). Undo, clear and the eraser are the component's own methods,
called on its ref, which Reflex has no API for: one line of script each.
"""

from __future__ import annotations

import reflex as rx
from reflex.vars import Var

__all__ = ["MASK_ID", "SketchCanvas", "painter_call"]

MASK_ID = "edit-mask"
_REF = "ref_" + MASK_ID.replace("-", "_")


def _strokes_and_width(paths: Var[list]) -> tuple[Var[list], Var[float]]:
    # The strokes are in the canvas's CSS pixels: its width then says their scale.
    width = Var(_js_expr=f"(document.getElementById('{MASK_ID}')?.clientWidth ?? 0)").to(float)
    return paths, width


class SketchCanvas(rx.Component):
    """`ReactSketchCanvas`: SVG strokes over a background image, reported through on_change."""

    library = "react-sketch-canvas@8.0.0"
    tag = "ReactSketchCanvas"

    width: rx.Var[str]
    height: rx.Var[str]
    stroke_width: rx.Var[int]
    eraser_width: rx.Var[int]
    stroke_color: rx.Var[str]
    canvas_color: rx.Var[str]
    background_image: rx.Var[str]
    preserve_background_image_aspect_ratio: rx.Var[str]
    allow_only_pointer_type: rx.Var[str]

    on_change: rx.EventHandler[_strokes_and_width]


def painter_call(method: str) -> rx.event.EventSpec:
    """Call one of the painter's methods (`undo()`, `clearCanvas()`, `eraseMode(true)`)."""
    return rx.call_script(f"refs['{_REF}']?.current?.{method}")
