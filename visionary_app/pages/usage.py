"""The usage page: spend by day as a chart, and by user, team, provider and model."""

from __future__ import annotations

import reflex as rx

from visionary_app.components.header import header
from visionary_app.state.usage import UsageState

ROUTE = "/usage"
TITLE = "Usage · VisionaryAI"


def _table(title: str, rows, element_id: str) -> rx.Component:
    return rx.box(
        rx.heading(title, size="3", as_="h2"),
        rx.table.root(
            rx.table.header(
                rx.table.row(
                    rx.table.column_header_cell("Who or what"), rx.table.column_header_cell("Spent")
                )
            ),
            rx.table.body(
                rx.foreach(
                    rows, lambda row: rx.table.row(rx.table.cell(row[0]), rx.table.cell(row[1]))
                )
            ),
            size="1",
            id=element_id,
        ),
        min_width="16em",
    )


def usage_page() -> rx.Component:
    """Compose the page."""
    return rx.container(
        header(),
        rx.el.main(
            rx.vstack(
                rx.hstack(
                    rx.heading(
                        rx.cond(UsageState.everyone, "Spend: everyone", "Your spend"), size="5"
                    ),
                    rx.text("Last 30 days: ", UsageState.total, id="usage-total"),
                    rx.button(
                        "Download CSV",
                        on_click=UsageState.download_csv,
                        variant="soft",
                        id="usage-csv",
                    ),
                    rx.link("Back to the studio", href="/"),
                    align="center",
                    wrap="wrap",
                    spacing="4",
                ),
                rx.cond(
                    UsageState.unavailable,
                    rx.callout(
                        "The spend cannot be read right now; try again.", color_scheme="red"
                    ),
                ),
                rx.box(
                    rx.recharts.bar_chart(
                        rx.recharts.bar(data_key="usd", name="US dollars", fill="var(--accent-9)"),
                        rx.recharts.x_axis(data_key="day"),
                        rx.recharts.y_axis(),
                        rx.recharts.graphing_tooltip(),
                        data=UsageState.days,
                        height=260,
                    ),
                    id="usage-chart",
                    role="img",
                    aria_label="Spend by day over the last 30 days",
                    width="100%",
                ),
                rx.flex(
                    rx.cond(
                        UsageState.everyone, _table("By user", UsageState.by_user, "usage-by-user")
                    ),
                    rx.cond(
                        UsageState.everyone, _table("By team", UsageState.by_team, "usage-by-team")
                    ),
                    _table("By provider", UsageState.by_provider, "usage-by-provider"),
                    _table("By model", UsageState.by_model, "usage-by-model"),
                    wrap="wrap",
                    spacing="5",
                ),
                spacing="5",
                width="100%",
            ),
            padding_bottom="3em",
        ),
        size="4",
    )


def register(app: rx.App) -> None:
    """Add this page to the app."""
    app.add_page(usage_page, route=ROUTE, title=TITLE, on_load=UsageState.load)
