"""The sign-in page, shown only when a password or a list of users is configured."""

from __future__ import annotations

import reflex as rx

from visionary_app.components.media import backend_resolved
from visionary_app.components.native_form import posted_form
from visionary_app.state.access import SIGN_IN_ROUTE, AccessState

TITLE = "Sign in · VisionaryAI"


def sign_in_page() -> rx.Component:
    """A small form: name (for a list of users) and password.

    It is a plain HTML form posted to /auth/sign-in, which sets the HttpOnly session cookie
    and sends the browser on: the password never passes through the page's state.
    """
    return rx.container(
        rx.el.main(
            rx.card(
                posted_form(
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
                        rx.cond(
                            AccessState.asks_for_password,
                            rx.input(
                                name="password",
                                type="password",
                                placeholder="Password",
                                auto_complete="current-password",
                                required=True,
                                id="sign-in-password",
                                width="100%",
                            ),
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
                        rx.cond(
                            AccessState.asks_for_password,
                            rx.button("Sign in", type="submit", width="100%", id="sign-in-button"),
                        ),
                        rx.cond(
                            AccessState.single_sign_on_label != "",
                            # A plain link: the browser goes to the provider and comes back.
                            rx.el.a(
                                "Sign in with ",
                                AccessState.single_sign_on_label,
                                href=backend_resolved(rx.Var.create("/auth/oidc/login")),
                                id="sign-in-sso",
                                # Reflex renders links through the client-side router; this
                                # one must load the page for real (the server redirects).
                                custom_attrs={"reloadDocument": True},
                                class_name="rt-reset rt-BaseButton rt-r-size-2 rt-variant-soft "
                                "rt-Button",
                                style={"width": "100%"},
                            ),
                        ),
                        spacing="3",
                        width="100%",
                    ),
                    to="/auth/sign-in",
                    id="sign-in-form",
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
        on_load=AccessState.show_error,
    )
