"""The lightbox dialog: full image, details, and actions; Esc closes, arrows move."""

from __future__ import annotations

import reflex as rx

from visionary_app.components.boards import add_to_board
from visionary_app.components.media import backend_resolved
from visionary_app.state.lightbox import LightboxState, LineageTile
from visionary_app.state.options import OptionsState
from visionary_app.state.sharing import SharingState


def _detail(label: str, value: rx.Var, element_id: str) -> rx.Component:
    return rx.hstack(
        rx.text(label, size="1", color_scheme="gray", width="6em"),
        rx.text(value, size="2", id=element_id),
        align="baseline",
    )


def _content_credentials() -> rx.Component:
    """What the image's C2PA manifest says: who signed it, what made it, does it validate."""
    return rx.cond(
        LightboxState.credentials_signer != "",
        rx.box(
            rx.text("Content credentials", size="1", weight="bold", as_="p"),
            _detail("Signed by", LightboxState.credentials_signer, "credentials-signer"),
            _detail("Made with", LightboxState.credentials_generator, "credentials-generator"),
            _detail("Check", LightboxState.credentials_state, "credentials-state"),
            rx.cond(
                LightboxState.credentials_note != "",
                rx.text(LightboxState.credentials_note, size="1", color_scheme="gray"),
            ),
            id="content-credentials",
            role="group",
            aria_label="Content credentials",
        ),
    )


def _action(icon: str, label: str, handler, element_id: str) -> rx.Component:
    return rx.button(rx.icon(icon, size=16), label, variant="soft", on_click=handler, id=element_id)


def _visibility() -> rx.Component:
    """Who can see the image; its owner (or an admin) can switch it here."""
    label = rx.cond(LightboxState.shared, "Shared with everyone", "Private: only its owner")
    return rx.hstack(
        rx.text("Visible to", size="1", color_scheme="gray", width="6em"),
        rx.cond(
            LightboxState.can_change,
            rx.hstack(
                rx.switch(
                    checked=LightboxState.shared,
                    on_change=lambda _value: LightboxState.toggle_visibility(),
                    id="visibility-toggle",
                    aria_label="Shared with everyone",
                ),
                rx.text(label, size="2", as_="label", html_for="visibility-toggle"),
                align="center",
            ),
            rx.text(label, size="2"),
        ),
        align="center",
        id="lightbox-visibility",
    )


def _parent() -> rx.Component:
    """The "Edited from" or "Variation of" link, which shows the source here."""
    return rx.cond(
        LightboxState.parent_label != "",
        rx.hstack(
            rx.text(LightboxState.parent_label, size="1", color_scheme="gray", width="6em"),
            rx.cond(
                LightboxState.parent_id != "",
                rx.link(
                    LightboxState.parent_prompt,
                    href="#",
                    on_click=[LightboxState.go_to(LightboxState.parent_id), rx.prevent_default],
                    id="parent-link",
                    size="2",
                ),
                rx.text("an image that is no longer in the gallery", size="2",
                        color_scheme="gray", id="parent-gone"),
            ),
            align="baseline",
        ),
    )  # fmt: skip


def _child(tile: LineageTile) -> rx.Component:
    return rx.el.button(
        rx.image(
            src=backend_resolved(tile.url),
            alt="",
            width="56px",
            height="56px",
            style={"object_fit": "cover", "border_radius": "var(--radius-2)", "display": "block"},
        ),
        type="button",
        on_click=LightboxState.go_to(tile.id),
        aria_label=tile.prompt,
        title=tile.prompt,
        class_name="lineage-child",
        style={"padding": "0", "border": "none", "background": "none", "cursor": "pointer"},
    )


def _children() -> rx.Component:
    """The edits and variations made of this image."""
    return rx.cond(
        LightboxState.made_from_this.length() > 0,
        rx.hstack(
            rx.text("Made from it", size="1", color_scheme="gray", width="6em"),
            rx.flex(rx.foreach(LightboxState.made_from_this, _child), wrap="wrap", gap="2"),
            align="center",
            id="lightbox-children",
        ),
    )


def _delete_controls() -> rx.Component:
    return rx.cond(
        LightboxState.confirming_delete,
        rx.hstack(
            rx.text("Delete this image for good?", size="2", color_scheme="red"),
            rx.button(
                "Delete", color_scheme="red", on_click=LightboxState.delete, id="confirm-delete"
            ),
            rx.button("Keep", variant="soft", on_click=LightboxState.ask_delete(False)),
            align="center",
        ),
        rx.button(
            rx.icon("trash-2", size=16),
            "Delete…",
            color_scheme="red",
            variant="soft",
            on_click=LightboxState.ask_delete(True),
            id="delete-image",
        ),
    )


def lightbox() -> rx.Component:
    """The dialog, opened from a gallery tile."""
    return rx.dialog.root(
        rx.dialog.content(
            rx.vstack(
                rx.hstack(
                    rx.dialog.title("Image", size="4"),
                    rx.spacer(),
                    rx.icon_button(
                        rx.icon("chevron-left"),
                        on_click=LightboxState.step(-1),
                        variant="soft",
                        aria_label="Previous image",
                        id="lightbox-previous",
                    ),
                    rx.icon_button(
                        rx.icon("chevron-right"),
                        on_click=LightboxState.step(1),
                        variant="soft",
                        aria_label="Next image",
                        id="lightbox-next",
                    ),
                    rx.dialog.close(
                        rx.icon_button(rx.icon("x"), variant="ghost", aria_label="Close")
                    ),
                    width="100%",
                    align="center",
                ),
                rx.image(
                    src=backend_resolved(LightboxState.full_url),
                    alt=LightboxState.prompt,
                    id="lightbox-image",
                    style={
                        "max_height": "70vh",
                        "max_width": "100%",
                        "object_fit": "contain",
                        "margin": "0 auto",
                        "display": "block",
                    },
                ),
                rx.text(
                    LightboxState.prompt,
                    id="lightbox-prompt",
                    white_space="pre-wrap",
                    style={"overflow_wrap": "anywhere"},
                ),
                rx.cond(
                    LightboxState.revised_prompt != "",
                    _detail("Revised", LightboxState.revised_prompt, "lightbox-revised"),
                ),
                rx.cond(
                    LightboxState.model != "",
                    rx.fragment(
                        _detail("Provider", LightboxState.provider, "lightbox-provider"),
                        _detail("Model", LightboxState.model, "lightbox-model"),
                    ),
                ),
                rx.cond(
                    LightboxState.preset != "",
                    _detail("Style preset", LightboxState.preset, "lightbox-preset"),
                ),
                _detail("Size", LightboxState.size, "lightbox-size"),
                _detail("Created", LightboxState.created_at, "lightbox-created"),
                _detail("By", LightboxState.owner_label, "lightbox-owner"),
                _detail("Kind", LightboxState.kind_label, "lightbox-kind"),
                _content_credentials(),
                _parent(),
                _children(),
                _visibility(),
                rx.hstack(
                    _action("copy", "Copy prompt", LightboxState.copy_prompt, "copy-prompt"),
                    _action(
                        "text-cursor-input",
                        "Use this prompt",
                        LightboxState.use_prompt,
                        "use-prompt",
                    ),
                    rx.cond(
                        OptionsState.can_edit,
                        _action("brush", "Edit", LightboxState.start_edit, "edit-image"),
                    ),
                    _action(
                        "sparkles", "More like this", LightboxState.more_like_this, "more-like-this"
                    ),
                    add_to_board(),
                    rx.cond(
                        LightboxState.can_change,
                        _action("share-2", "Share", SharingState.open_for_image, "share-image"),
                    ),
                    # A real link, so the browser downloads natively; Radix's classes make it
                    # look like the buttons beside it.
                    rx.el.a(
                        rx.icon("download", size=16),
                        "Download",
                        href=backend_resolved(LightboxState.download_url),
                        download=LightboxState.download_name,
                        # Without a target the client-side router takes the click as navigation.
                        target="_blank",
                        rel="noopener",
                        id="download-image",
                        class_name="rt-reset rt-BaseButton rt-r-size-2 rt-variant-soft rt-Button",
                    ),
                    # Shown to those who may delete; the server checks again on the event.
                    rx.cond(LightboxState.can_change, _delete_controls()),
                    wrap="wrap",
                    spacing="2",
                ),
                spacing="3",
                width="100%",
            ),
            # Mounted only while the dialog is open: arrows move between neighbours.
            rx.window_event_listener(on_key_down=LightboxState.handle_key),
            max_width="min(1100px, 95vw)",
            id="lightbox",
            # Radix returns focus to a dialog trigger; this dialog opens from any tile, so
            # focus goes back to the tile it was opened from (Reflex has no API for this).
            on_close_auto_focus=rx.call_script(
                f"document.getElementById('tile-{LightboxState.origin_id}')?.focus()"
            ),
            aria_describedby=None,
        ),
        open=LightboxState.is_open,
        on_open_change=LightboxState.set_open,
    )
