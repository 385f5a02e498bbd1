"""Pieces the dialogs share: a title row, a secret shown once, a confirmation before deleting."""

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


def confirm_delete(
    trigger: rx.Component,
    *,
    title: str,
    description: str,
    confirm: str,
    on_confirm,
    confirm_id: str,
    **root_props,
) -> rx.Component:
    """`trigger` opens a question; only its red button (`confirm_id`) deletes."""
    return rx.alert_dialog.root(
        rx.alert_dialog.trigger(trigger),
        rx.alert_dialog.content(
            rx.alert_dialog.title(title),
            rx.alert_dialog.description(description),
            rx.flex(
                rx.alert_dialog.cancel(rx.button("Cancel", variant="soft", color_scheme="gray")),
                rx.alert_dialog.action(
                    rx.button(confirm, color_scheme="red", on_click=on_confirm, id=confirm_id)
                ),
                gap="3",
                justify="end",
                margin_top="1em",
            ),
        ),
        **root_props,
    )
