"""Boards: the gallery's board picker with new/rename/delete, and the lightbox's board menu."""

from __future__ import annotations

import reflex as rx

from visionary_app.components.dialogs import confirm_delete, dialog_heading
from visionary_app.services.gallery import MAX_BOARD_NAME_CHARS
from visionary_app.state.boards import ALL_IMAGES, BoardEntry, BoardsState
from visionary_app.state.gallery import GalleryState
from visionary_app.state.lightbox import LightboxState
from visionary_app.state.selection import SelectionState
from visionary_app.state.sharing import SharingState


def _picker() -> rx.Component:
    return rx.select.root(
        # A fixed width, so the name drawn once the page runs moves nothing.
        rx.select.trigger(
            id="board-picker", aria_label="Board", placeholder="All images", width="11em"
        ),
        rx.select.content(
            rx.select.item("All images", value=ALL_IMAGES),
            rx.foreach(
                BoardsState.boards,
                lambda board: rx.select.item(
                    rx.cond(board.shared, board.name + " · shared", board.name), value=board.id
                ),
            ),
        ),
        value=rx.cond(GalleryState.board != "", GalleryState.board, ALL_IMAGES),
        on_change=BoardsState.choose,
        size="2",
        key=BoardsState.picker_key,
    )


def _delete_board() -> rx.Component:
    """Delete the chosen board, after saying that its images stay."""
    return confirm_delete(
        rx.icon_button(
            rx.icon("trash-2", size=16),
            variant="soft",
            color_scheme="red",
            aria_label="Delete board",
            title="Delete board",
            id="board-delete",
        ),
        title="Delete this board?",
        description="The board goes; its images stay in the gallery and in any other board.",
        confirm="Delete board",
        on_confirm=BoardsState.delete_chosen,
        confirm_id="board-delete-confirm",
    )


def _board_dialog() -> rx.Component:
    """Make a board (`#board-name`, `#board-create`) or rename the chosen one."""
    return rx.dialog.root(
        rx.dialog.content(
            rx.vstack(
                dialog_heading(rx.cond(BoardsState.renaming, "Rename board", "New board")),
                rx.form(
                    rx.vstack(
                        rx.text("Name", size="2", as_="label", html_for="board-name"),
                        rx.input(
                            name="name",
                            id="board-name",
                            aria_label="Board name",
                            max_length=MAX_BOARD_NAME_CHARS,
                            required=True,
                            auto_focus=True,
                            width="100%",
                        ),
                        rx.cond(
                            BoardsState.renaming,
                            rx.fragment(),
                            rx.text(
                                rx.flex(
                                    rx.checkbox(
                                        name="shared", id="board-shared", aria_label="Shared"
                                    ),
                                    "Shared: everyone who uses the studio sees it",
                                    gap="2",
                                    align="center",
                                ),
                                as_="label",
                                size="2",
                            ),
                        ),
                        rx.flex(
                            rx.dialog.close(
                                rx.button(
                                    "Cancel", variant="soft", color_scheme="gray", type="button"
                                )
                            ),
                            rx.button(
                                rx.cond(BoardsState.renaming, "Rename", "Create board"),
                                type="submit",
                                id="board-create",
                            ),
                            gap="3",
                            justify="end",
                            width="100%",
                        ),
                        spacing="3",
                    ),
                    on_submit=BoardsState.save,
                    reset_on_submit=True,
                ),
                spacing="3",
            ),
            max_width="28em",
            aria_describedby=None,
        ),
        open=BoardsState.dialog_open,
        on_open_change=BoardsState.set_dialog_open,
    )


def board_bar() -> rx.Component:
    """The board picker, "New board", and (for a board one may change) rename and delete."""
    chosen_changeable = BoardsState.changeable_ids.contains(GalleryState.board)
    return rx.flex(
        rx.text("Board", size="2", as_="label", html_for="board-picker", color_scheme="gray"),
        _picker(),
        rx.button(
            rx.icon("folder-plus", size=16),
            "New board",
            variant="soft",
            on_click=BoardsState.open_new,
            id="new-board",
        ),
        rx.cond(
            (GalleryState.board != "") & chosen_changeable,
            rx.fragment(
                rx.icon_button(
                    rx.icon("pencil", size=16),
                    variant="soft",
                    aria_label="Rename board",
                    title="Rename board",
                    on_click=BoardsState.open_rename,
                    id="board-rename",
                ),
                rx.icon_button(
                    rx.icon("share-2", size=16),
                    variant="soft",
                    aria_label="Share board",
                    title="Share board",
                    on_click=SharingState.open_for_board,
                    id="board-share",
                ),
                _delete_board(),
            ),
        ),
        _board_dialog(),
        rx.button(
            rx.icon("check-check", size=16),
            "Select all",
            variant="ghost",
            on_click=SelectionState.select_all,
            id="select-all-loaded",
        ),
        gap="2",
        align="center",
        wrap="wrap",
        on_mount=BoardsState.refresh,
    )


def _board_choice(board: BoardEntry) -> rx.Component:
    return rx.text(
        rx.flex(
            rx.checkbox(
                checked=LightboxState.board_ids.contains(board.id),
                on_change=lambda joined: LightboxState.toggle_board(board.id, joined),
                class_name="board-choice",
                aria_label=board.name,
            ),
            board.name,
            gap="2",
            align="center",
        ),
        as_="label",
        size="2",
    )


def add_to_board() -> rx.Component:
    """The lightbox's `#add-to-board`: tick the boards the image is in."""
    return rx.popover.root(
        rx.popover.trigger(
            rx.button(rx.icon("folder-plus", size=16), "Boards", variant="soft", id="add-to-board")
        ),
        rx.popover.content(
            rx.vstack(
                rx.text("In boards", weight="bold", size="2"),
                rx.cond(
                    BoardsState.changeable.length() > 0,
                    rx.vstack(rx.foreach(BoardsState.changeable, _board_choice), spacing="2"),
                    rx.text(
                        "No boards of yours yet: make one with “New board” above the gallery.",
                        size="2",
                        color_scheme="gray",
                    ),
                ),
                spacing="2",
            ),
            id="board-menu",
            aria_label="Boards of this image",
        ),
    )
