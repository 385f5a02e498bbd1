"""Pieces the header's dialogs share: a title row with a close button, and a secret shown once."""

from __future__ import annotations

import reflex as rx


def dialog_heading(title: str) -> rx.Component:
    """The dialog's title, and a button that closes it."""
    return rx.hstack(
        rx.dialog.title(title, size="4"),
        rx.spacer(),
        rx.dialog.close(rx.icon_button(rx.icon("x"), variant="ghost", aria_label="Close")),
        width="100%",
    )


def shown_once(value: rx.Var[str], *, id: str, intro: str) -> rx.Component:
    """A new token or secret: shown (with a Copy button) until the dialog closes, never again."""
    return rx.cond(
        value != "",
        rx.callout.root(
            rx.callout.icon(rx.icon("key-round")),
            rx.callout.text(
                f"{intro} Copy it now: it is not shown again. ".lstrip(),
                rx.code(value, id=id, style={"word_break": "break-all"}),
                " ",
                rx.button(
                    "Copy",
                    size="1",
                    variant="soft",
                    type="button",
                    on_click=rx.set_clipboard(value),
                ),
            ),
            variant="surface",
            size="1",
        ),
    )
