"""Share links: the dialog that makes one (lightbox and board bar) and the list of one's links."""

from __future__ import annotations

import reflex as rx

from visionary_app.components.dialogs import dialog_heading
from visionary_app.state.sharing import LinkRow, SharingState


def share_dialog() -> rx.Component:
    """Choose an expiry, make the link (`#share-create`), copy it (`#share-url`), or revoke it."""
    return rx.dialog.root(
        rx.dialog.content(
            rx.vstack(
                dialog_heading(rx.cond(SharingState.for_board, "Share board", "Share image")),
                rx.text(
                    "Anyone with the link sees ",
                    rx.cond(SharingState.for_board, "the board's images", "the image"),
                    ", without signing in, until it expires or you revoke it.",
                    size="2",
                    color_scheme="gray",
                ),
                rx.text("Expires after", size="2", as_="label", html_for="share-expiry"),
                rx.select.root(
                    rx.select.trigger(id="share-expiry", aria_label="Expires after"),
                    rx.select.content(
                        rx.foreach(
                            SharingState.expiry_choices,
                            lambda choice: rx.select.item(choice[1], value=choice[0]),
                        )
                    ),
                    value=SharingState.expiry,
                    on_change=SharingState.set_expiry,
                ),
                rx.cond(
                    ~SharingState.for_board,
                    rx.text(
                        rx.flex(
                            rx.checkbox(
                                checked=SharingState.show_prompt,
                                on_change=SharingState.set_show_prompt,
                                id="share-show-prompt",
                                aria_label="Show the prompt on the page",
                            ),
                            "Show the prompt on the page",
                            gap="2",
                            align="center",
                        ),
                        as_="label",
                        size="2",
                    ),
                ),
                rx.cond(
                    SharingState.url != "",
                    rx.vstack(
                        rx.text("Link", size="2", as_="label", html_for="share-url"),
                        rx.flex(
                            rx.input(
                                value=SharingState.url,
                                read_only=True,
                                id="share-url",
                                aria_label="Share link",
                                flex_grow="1",
                            ),
                            rx.button(
                                "Copy",
                                variant="soft",
                                on_click=[
                                    rx.set_clipboard(SharingState.url),
                                    rx.toast.info("Link copied."),
                                ],
                            ),
                            gap="2",
                            width="100%",
                        ),
                        rx.button(
                            "Revoke link",
                            color_scheme="red",
                            variant="soft",
                            on_click=SharingState.revoke(""),
                            id="share-revoke",
                        ),
                        width="100%",
                    ),
                    rx.button("Create link", on_click=SharingState.create, id="share-create"),
                ),
                spacing="3",
            ),
            max_width="32em",
            aria_describedby=None,
        ),
        open=SharingState.dialog_open,
        on_open_change=SharingState.set_dialog_open,
    )


def _row(link: LinkRow) -> rx.Component:
    return rx.table.row(
        rx.table.cell(link.kind),
        rx.table.cell(rx.text(link.shows, style={"overflow_wrap": "anywhere"})),
        rx.table.cell(link.ends),
        rx.table.cell(
            rx.cond(
                link.live,
                rx.button(
                    "Revoke",
                    size="1",
                    color_scheme="red",
                    variant="soft",
                    on_click=SharingState.revoke(link.id),
                    class_name="share-list-revoke",
                ),
            )
        ),
        custom_attrs={"data-link-id": link.id},
    )


def share_links_dialog() -> rx.Component:
    """The header's "Links": every link one made, and a Revoke for those still live."""
    return rx.dialog.root(
        rx.dialog.trigger(rx.button("Links", variant="soft", size="1", id="share-links-button")),
        rx.dialog.content(
            rx.vstack(
                dialog_heading("Your share links"),
                rx.cond(
                    SharingState.links.length() > 0,
                    rx.table.root(
                        rx.table.header(
                            rx.table.row(
                                *(
                                    rx.table.column_header_cell(title)
                                    for title in ("Shares", "What", "Ends", "Actions")
                                )
                            )
                        ),
                        rx.table.body(rx.foreach(SharingState.links, _row)),
                        width="100%",
                        id="share-links",
                    ),
                    rx.text("No links yet.", size="2", color_scheme="gray"),
                ),
                spacing="3",
            ),
            max_width="min(48em, 95vw)",
            aria_describedby=None,
        ),
        open=SharingState.list_open,
        on_open_change=SharingState.set_list_open,
    )
