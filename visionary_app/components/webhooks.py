"""The webhooks dialog: register a URL (its secret shown once), the delivery log, remove one."""

from __future__ import annotations

import reflex as rx

from visionary_app.components.dialogs import dialog_heading, shown_once
from visionary_app.state.webhooks import DeliveryRow, WebhookRow, WebhooksState


def _hook(hook: WebhookRow) -> rx.Component:
    return rx.table.row(
        rx.table.cell(rx.text(hook.url, style={"word_break": "break-all"})),
        rx.table.cell(hook.created_at),
        rx.table.cell(
            rx.button(
                "Remove",
                color_scheme="red",
                variant="soft",
                size="1",
                on_click=WebhooksState.remove(hook.id),
                class_name="webhook-remove",
                aria_label=f"Remove the webhook to {hook.url}",
            )
        ),
        class_name="webhook-row",
    )


def _delivery(delivery: DeliveryRow) -> rx.Component:
    return rx.table.row(
        rx.table.cell(delivery.when),
        rx.table.cell(delivery.event),
        rx.table.cell(
            rx.badge(
                delivery.status,
                color_scheme=rx.match(
                    delivery.status, ("delivered", "green"), ("failed", "red"), "gray"
                ),
            )
        ),
        rx.table.cell(delivery.attempts),
        rx.table.cell(rx.text(delivery.answer, style={"word_break": "break-word"})),
        class_name="webhook-delivery",
    )


def _table(headers: list[str], body: rx.Component) -> rx.Component:
    return rx.table.root(
        rx.table.header(rx.table.row(*[rx.table.column_header_cell(header) for header in headers])),
        rx.table.body(body),
        size="1",
        width="100%",
    )


def webhooks_dialog() -> rx.Component:
    """Opened from the header by signed-in users."""
    return rx.dialog.root(
        rx.dialog.trigger(rx.button("Webhooks", variant="soft", size="1", id="webhooks-button")),
        rx.dialog.content(
            rx.vstack(
                dialog_heading("Webhooks"),
                rx.text(
                    "When one of your jobs ends, a signed POST tells each URL here; a failed "
                    "delivery is tried again.",
                    size="2",
                    color_scheme="gray",
                ),
                rx.form(
                    rx.flex(
                        rx.input(
                            name="url",
                            type="url",
                            placeholder="https://example.com/hook",
                            id="webhook-url",
                            aria_label="Webhook URL",
                            max_length=2000,
                            required=True,
                            flex_grow="1",
                        ),
                        rx.button("Add webhook", type="submit", id="webhook-create"),
                        gap="3",
                        width="100%",
                    ),
                    on_submit=WebhooksState.create,
                    reset_on_submit=True,
                    width="100%",
                ),
                shown_once(
                    WebhooksState.new_secret,
                    id="webhook-new-secret",
                    intro="Deliveries are signed with this secret (Standard Webhooks).",
                ),
                rx.cond(
                    WebhooksState.hooks.length() > 0,
                    _table(["URL", "Added", "Actions"], rx.foreach(WebhooksState.hooks, _hook)),
                    rx.text("No webhooks yet.", size="2", color_scheme="gray"),
                ),
                rx.hstack(
                    rx.text("Latest deliveries", size="3", weight="bold"),
                    rx.spacer(),
                    rx.button(
                        "Refresh",
                        size="1",
                        variant="ghost",
                        on_click=WebhooksState.refresh,
                        id="webhook-refresh",
                    ),
                    width="100%",
                    align="center",
                ),
                rx.cond(
                    WebhooksState.deliveries.length() > 0,
                    _table(
                        ["When", "Event", "Status", "Attempts", "Answer"],
                        rx.foreach(WebhooksState.deliveries, _delivery),
                    ),
                    rx.text("Nothing delivered yet.", size="2", color_scheme="gray"),
                ),
                spacing="3",
                width="100%",
            ),
            max_width="min(820px, 95vw)",
            id="webhooks",
            aria_describedby=None,
        ),
        open=WebhooksState.is_open,
        on_open_change=WebhooksState.set_open,
    )
