"""The studio page: prompt on top, gallery below."""

from __future__ import annotations

import reflex as rx

from visionary_app.components.editor import editor
from visionary_app.components.gallery import gallery
from visionary_app.components.header import header, offline_notice
from visionary_app.components.lightbox import lightbox
from visionary_app.components.prompt_form import prompt_form
from visionary_app.components.sharing import share_dialog
from visionary_app.state.gallery import GalleryState
from visionary_app.state.generation import GenerationState

ROUTE = "/"
TITLE = "VisionaryAI"
DESCRIPTION = (
    "A self-hosted AI image studio: type a prompt, watch it generate, and keep every image "
    "in a fast, searchable gallery."
)


def studio_page() -> rx.Component:
    """Compose the page."""
    return rx.container(
        header(),
        rx.el.main(
            rx.vstack(
                offline_notice(),
                prompt_form(),
                gallery(),
                spacing="5",
                width="100%",
            ),
            padding_bottom="3em",
        ),
        lightbox(),
        share_dialog(),
        editor(),
        size="4",
    )


def register(app: rx.App) -> None:
    """Add this page to the app."""
    app.add_page(
        studio_page,
        route=ROUTE,
        title=TITLE,
        description=DESCRIPTION,
        image="/social-preview.png",
        on_load=[GalleryState.load, GenerationState.sync_jobs],
    )
