"""The sign-in page, shown only when a password or a list of users is configured."""

from __future__ import annotations

import reflex as rx

from visionary_app.state.access import SIGN_IN_ROUTE, AccessState

TITLE = "Sign in · VisionaryAI"


def sign_in_page() -> rx.Component:
    """A small form: name (for a list of users) and password."""
    return rx.container(
        rx.el.main(
            rx.card(
                rx.form(
                    rx.vstack(
                        rx.hstack(
                            rx.icon("sparkles", size=24, color=rx.color("accent", 9)),
                            rx.heading("VisionaryAI", size="6", as_="h1"),
                            align="center",
                        ),
                        rx.text("Sign in to use the studio.", size="2", color_scheme="gray"),
                        rx.cond(
                            AccessState.asks_for_name,
                            rx.input(
                                name="name",
                                placeholder="Name",
                                auto_complete="username",
                                required=True,
                                id="sign-in-name",
                                width="100%",
                            ),
                        ),
                        rx.input(
                            name="password",
                            type="password",
                            placeholder="Password",
                            auto_complete="current-password",
                            required=True,
                            id="sign-in-password",
                            width="100%",
                        ),
                        rx.cond(
                            AccessState.error != "",
                            rx.callout(
                                AccessState.error,
                                icon="triangle_alert",
                                color_scheme="red",
                                size="1",
                                id="sign-in-error",
                                width="100%",
                            ),
                        ),
                        rx.button("Sign in", type="submit", width="100%", id="sign-in-button"),
                        spacing="3",
                        width="100%",
                    ),
                    on_submit=AccessState.sign_in,
                    reset_on_submit=True,
                    width="100%",
                ),
                width="100%",
            )
        ),
        size="1",
        padding_top="15vh",
    )


def register(app: rx.App) -> None:
    """Add this page to the app."""
    app.add_page(
        sign_in_page,
        route=SIGN_IN_ROUTE,
        title=TITLE,
        description="Sign in to the VisionaryAI image studio.",
        image="/social-preview.png",
    )
