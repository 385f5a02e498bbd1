"""A button that uploads one picture, chunk by chunk, to a background event handler."""

from __future__ import annotations

import reflex as rx
from reflex_components_core.el.elements.forms import Input

__all__ = ["IMAGE_TYPES", "picture_upload"]

IMAGE_TYPES = {"image/png": [".png"], "image/jpeg": [".jpg", ".jpeg"], "image/webp": [".webp"]}


def picture_upload(button: rx.Component, upload_id: str, handler, label: str) -> rx.Component:
    """`button` opens the file chooser; the chosen file streams to `handler` (chunked).

    The zone itself is not a second tab stop (the button is), and its hidden file input is
    named by `label` for assistive technology.
    """
    upload = rx.upload.root(
        button,
        id=upload_id,
        accept=IMAGE_TYPES,
        max_files=1,
        multiple=False,
        no_drag=True,
        no_keyboard=True,
        on_drop=handler(rx.upload_files_chunk(upload_id=upload_id)),
        border="none",
        padding="0",
    )
    for child in _descendants(upload):
        if isinstance(child, Input):
            child.custom_attrs["aria-label"] = label
    return upload


def _descendants(component: rx.Component):
    for child in getattr(component, "children", []):
        yield child
        yield from _descendants(child)
