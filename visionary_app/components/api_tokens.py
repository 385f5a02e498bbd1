"""The API tokens dialog: make a token (shown once), list them, revoke one."""

from __future__ import annotations

import reflex as rx

from visionary_app.components.dialogs import dialog_heading, shown_once
from visionary_app.state.api_tokens import ApiTokensState, TokenRow


def _row(token: TokenRow) -> rx.Component:
    return rx.table.row(
        rx.table.cell(token.name),
        rx.table.cell(token.scopes),
        rx.table.cell(token.created_at),
        rx.table.cell(token.last_used),
        rx.table.cell(
            rx.button(
                "Revoke",
                color_scheme="red",
                variant="soft",
                size="1",
                on_click=ApiTokensState.revoke(token.id),
                class_name="api-token-revoke",
                aria_label=f"Revoke {token.name}",
            )
        ),
        class_name="api-token-row",
    )


def _scope(scope: str, checked: bool) -> rx.Component:
    return rx.text(
        rx.flex(
            rx.checkbox(
                name=f"scope_{scope}",
                default_checked=checked,
                id=f"api-token-scope-{scope}",
                aria_label=f"Scope: {scope}",
            ),
            scope,
            spacing="2",
            align="center",
        ),
        as_="label",
        size="2",
    )


def api_tokens_dialog() -> rx.Component:
    """Opened from the header by signed-in users."""
    return rx.dialog.root(
        rx.dialog.trigger(
            rx.button("API tokens", variant="soft", size="1", id="api-tokens-button")
        ),
        rx.dialog.content(
            rx.vstack(
                dialog_heading("API tokens"),
                rx.text(
                    "A token lets a script, or an app such as Open WebUI, act as you: under "
                    "your limits, seeing what you see. Only its hash is kept.",
                    size="2",
                    color_scheme="gray",
                ),
                rx.form(
                    rx.flex(
                        rx.input(
                            name="name",
                            placeholder="Name (e.g. laptop script)",
                            id="api-token-name",
                            aria_label="Token name",
                            max_length=100,
                            required=True,
                        ),
                        _scope("read", True),
                        _scope("generate", True),
                        _scope("delete", False),
                        rx.button("Make token", type="submit", id="api-token-create"),
                        wrap="wrap",
                        gap="3",
                        align="center",
                    ),
                    on_submit=ApiTokensState.create,
                    reset_on_submit=True,
                ),
                shown_once(ApiTokensState.new_token, id="api-token-new", intro=""),
                rx.cond(
                    ApiTokensState.tokens.length() > 0,
                    rx.table.root(
                        rx.table.header(
                            rx.table.row(
                                rx.table.column_header_cell("Name"),
                                rx.table.column_header_cell("Scopes"),
                                rx.table.column_header_cell("Made"),
                                rx.table.column_header_cell("Last used"),
                                rx.table.column_header_cell(
                                    rx.el.span("Actions", class_name="rt-sr-only")
                                ),
                            )
                        ),
                        rx.table.body(rx.foreach(ApiTokensState.tokens, _row)),
                        size="1",
                        width="100%",
                    ),
                    rx.text("No tokens yet.", size="2", color_scheme="gray"),
                ),
                spacing="3",
                width="100%",
            ),
            max_width="min(760px, 95vw)",
            id="api-tokens",
            aria_describedby=None,
        ),
        open=ApiTokensState.is_open,
        on_open_change=ApiTokensState.set_open,
    )
