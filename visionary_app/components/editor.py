"""The editor dialog: paint a mask over the image, say what to change, add references, edit."""

from __future__ import annotations

import reflex as rx

from visionary_app.components.mask_painter import MASK_ID, SketchCanvas, painter_call
from visionary_app.components.media import backend_resolved
from visionary_app.components.picture_upload import picture_upload
from visionary_app.state.editor import BRUSH_SIZES, EditorState, ReferenceTile
from visionary_app.state.generation import GenerationState
from visionary_app.state.options import OptionsState

_REFERENCE_UPLOAD = "edit-reference-upload"
# Painted strokes: see-through, so the picture stays visible under them.
_PAINT = "rgba(124, 58, 237, 0.55)"


def _painter() -> rx.Component:
    """The image with the painter over it, at the image's own shape."""
    ratio = f"{EditorState.width} / {EditorState.height}"
    return rx.box(
        SketchCanvas.create(
            id=MASK_ID,
            width="100%",
            height="100%",
            stroke_width=EditorState.brush_size,
            eraser_width=EditorState.brush_size,
            stroke_color=_PAINT,
            canvas_color="transparent",
            background_image=backend_resolved(EditorState.image_url),
            preserve_background_image_aspect_ratio="none",
            on_change=EditorState.set_strokes,
        ),
        role="img",
        aria_label="The image to edit. Paint over the parts that should change.",
        style={
            "aspect_ratio": ratio,
            "width": f"min(100%, calc(50vh * {EditorState.width} / {EditorState.height}))",
            "margin": "0 auto",
            "touch_action": "none",
            "border_radius": "var(--radius-3)",
            "overflow": "hidden",
        },
    )


def _tool(label: str, icon: str, element_id: str, pressed, on_click) -> rx.Component:
    return rx.button(
        rx.icon(icon, size=16),
        label,
        type="button",
        variant=rx.cond(pressed, "solid", "soft"),
        on_click=on_click,
        aria_pressed=pressed,
        id=element_id,
        size="2",
    )


def _tools() -> rx.Component:
    """Brush or eraser, brush size, undo and clear."""
    return rx.flex(
        _tool("Brush", "paintbrush", "mask-brush", ~EditorState.erasing,
              [painter_call("eraseMode(false)"), EditorState.set_erasing(False)]),
        _tool("Eraser", "eraser", "mask-eraser", EditorState.erasing,
              [painter_call("eraseMode(true)"), EditorState.set_erasing(True)]),
        rx.hstack(
            rx.text("Size", size="1", color_scheme="gray", aria_hidden="true"),
            # A native range input: named by its label, arrow keys and all.
            rx.el.input(
                type="range",
                min=BRUSH_SIZES[0],
                max=BRUSH_SIZES[1],
                step=4,
                default_value=32,
                on_change=EditorState.set_brush_size,
                id="brush-size",
                aria_label="Brush size",
                style={"width": "8em", "accent_color": "var(--accent-9)"},
            ),
            align="center",
        ),
        rx.button(rx.icon("undo-2", size=16), "Undo", type="button", variant="soft",
                  on_click=painter_call("undo()"), id="mask-undo"),
        rx.button(rx.icon("eraser", size=16), "Clear", type="button", variant="soft",
                  color_scheme="gray", on_click=painter_call("clearCanvas()"), id="mask-clear"),
        wrap="wrap",
        gap="2",
        align="center",
    )  # fmt: skip


def _reference(ref: ReferenceTile) -> rx.Component:
    return rx.hstack(
        rx.image(
            src=backend_resolved(ref.url),
            alt=ref.name,
            width="48px",
            height="48px",
            style={"object_fit": "cover", "border_radius": "var(--radius-2)"},
        ),
        rx.icon_button(
            rx.icon("x", size=14),
            type="button",
            variant="ghost",
            size="1",
            on_click=EditorState.remove_reference(ref.id),
            aria_label=f"Remove reference {ref.name}",
        ),
        align="center",
        spacing="1",
        class_name="edit-reference",
    )


def _references() -> rx.Component:
    """Further pictures the edit should follow (style, an object to add)."""
    return rx.flex(
        rx.foreach(EditorState.references, _reference),
        rx.cond(
            EditorState.references.length() < OptionsState.max_references,
            picture_upload(
                rx.button(
                    rx.icon("image-plus", size=16),
                    "Add a reference picture",
                    type="button",
                    variant="soft",
                    color_scheme="gray",
                ),
                _REFERENCE_UPLOAD,
                EditorState.upload_reference,
                "Choose a reference picture",
            ),
        ),
        wrap="wrap",
        gap="2",
        align="center",
        id="edit-references",
    )


def editor() -> rx.Component:
    """The dialog, opened from the lightbox's Edit."""
    return rx.dialog.root(
        rx.dialog.content(
            rx.form(
                rx.vstack(
                    rx.hstack(
                        rx.dialog.title("Edit image", size="4"),
                        rx.spacer(),
                        rx.dialog.close(
                            rx.icon_button(
                                rx.icon("x"), type="button", variant="ghost", aria_label="Close"
                            )
                        ),
                        width="100%",
                        align="center",
                    ),
                    _painter(),
                    _tools(),
                    rx.text(
                        rx.cond(
                            EditorState.painted,
                            "Only the painted area will change.",
                            "Paint over what should change, or leave it unpainted to change "
                            "the whole picture.",
                        ),
                        size="1",
                        color_scheme="gray",
                        id="edit-hint",
                        aria_live="polite",
                    ),
                    rx.cond(
                        OptionsState.mask_note != "",
                        rx.callout.root(
                            rx.callout.icon(rx.icon("info")),
                            rx.callout.text(OptionsState.mask_note),
                            size="1",
                            color_scheme="gray",
                            id="mask-note",
                        ),
                    ),
                    rx.text_area(
                        id="edit-prompt",
                        name="prompt",
                        value=EditorState.prompt,
                        on_change=EditorState.set_prompt,
                        placeholder="What should change? (e.g. “add a red kite in the sky”)",
                        aria_label="What should change",
                        rows="2",
                        width="100%",
                    ),
                    _references(),
                    rx.hstack(
                        rx.spacer(),
                        rx.text(
                            OptionsState.edit_cost_estimate,
                            id="edit-cost-estimate",
                            size="2",
                            color_scheme="gray",
                            title="What the edit should cost (each reference adds a little)",
                        ),
                        rx.button(
                            rx.icon("wand-sparkles", size=16),
                            "Edit",
                            type="submit",
                            id="edit-submit",
                            disabled=EditorState.prompt.strip() == "",
                        ),
                        width="100%",
                    ),
                    spacing="3",
                    width="100%",
                ),
                on_submit=GenerationState.edit,
                reset_on_submit=False,
            ),
            max_width="min(900px, 95vw)",
            id="editor",
            aria_describedby=None,
        ),
        open=EditorState.is_open,
        on_open_change=EditorState.set_open,
    )
