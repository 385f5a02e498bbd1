"""The page header: name, what the app does, provider notice and colour-mode toggle."""

from __future__ import annotations

import reflex as rx

from visionary_app.components.api_tokens import api_tokens_dialog
from visionary_app.components.native_form import posted_form
from visionary_app.components.sharing import share_links_dialog
from visionary_app.components.webhooks import webhooks_dialog
from visionary_app.state.access import AccessState
from visionary_app.state.api_tokens import ApiTokensState
from visionary_app.state.generation import GenerationState


def offline_notice() -> rx.Component:
    """Says plainly that images are offline previews, and how to get real ones."""
    return rx.cond(
        GenerationState.is_offline,
        # Children straight into the callout's own <p>: a <p> inside it is invalid HTML, which
        # the browser splits apart, and React then throws the prerendered page away.
        # Folded to one line (a phone's first screen is for the prompt); opens on a click.
        rx.callout.root(
            rx.callout.icon(rx.icon("info")),
            rx.el.details(
                rx.el.summary(
                    rx.text.strong("Offline preview: "),
                    "images are drawn locally, without an AI model.",
                    style={"cursor": "pointer"},
                ),
                rx.callout.text(
                    "To generate real images, set ",
                    rx.code("OPENAI_API_KEY"),
                    " (or ",
                    rx.code("AZURE_OPENAI_ENDPOINT"),
                    ", or ",
                    rx.code("OPENAI_BASE_URL"),
                    " for a compatible server) in ",
                    rx.code(".env"),
                    " as ",
                    rx.code(".env.example"),
                    " explains, and restart.",
                    margin_top="0.25em",
                ),
                style={"font_size": "var(--font-size-1)"},
            ),
            size="1",
            variant="surface",
            id="offline-notice",
        ),
    )


def header() -> rx.Component:
    """Top bar of the studio."""
    return rx.el.header(
        rx.hstack(
            rx.hstack(
                rx.icon("sparkles", size=28, color=rx.color("accent", 9)),
                rx.vstack(
                    rx.heading("VisionaryAI", size="7", as_="h1"),
                    rx.text("Type a prompt, get an image.", size="2", color_scheme="gray"),
                    spacing="0",
                ),
                align="center",
                spacing="3",
            ),
            rx.spacer(),
            rx.cond(
                AccessState.access_required,
                rx.hstack(
                    rx.text(
                        AccessState.signed_in_as, size="2", color_scheme="gray", id="signed-in-as"
                    ),
                    rx.cond(ApiTokensState.can_have_tokens, api_tokens_dialog()),
                    rx.cond(AccessState.signed_in_as != "", webhooks_dialog()),
                    # A plain form: the route ends the session on the server and clears the
                    # HttpOnly cookie, which no page script could do.
                    posted_form(
                        rx.hstack(
                            rx.button(
                                "Sign out", type="submit", variant="soft", size="1", id="sign-out"
                            ),
                            rx.cond(
                                AccessState.signed_in_as != "",
                                rx.button(
                                    "Sign out everywhere",
                                    type="submit",
                                    name="everywhere",
                                    value="1",
                                    variant="ghost",
                                    size="1",
                                    id="sign-out-everywhere",
                                ),
                            ),
                            align="center",
                        ),
                        to="/auth/sign-out",
                    ),
                    align="center",
                ),
            ),
            share_links_dialog(),
            rx.link("Usage", href="/usage", size="2", id="usage-link"),
            rx.color_mode.button(aria_label="Toggle dark mode", id="color-mode"),
            width="100%",
            align="center",
            padding_y="1em",
            wrap="wrap",
        )
    )
