"""The selection bar: how many tiles are ticked, and what can be done with them together."""

from __future__ import annotations

import reflex as rx

from visionary_app.components.dialogs import confirm_delete
from visionary_app.components.native_form import posted_form
from visionary_app.state.boards import BoardEntry, BoardsState
from visionary_app.state.selection import SelectionState


def _button(icon: str, label: str, element_id: str, **props) -> rx.Component:
    return rx.button(rx.icon(icon, size=16), label, variant="soft", id=element_id, **props)


def _download() -> rx.Component:
    """A real form POST with the ids and their ticket: the browser saves the zip itself."""
    return posted_form(
        rx.el.input(type="hidden", name="ids", value=SelectionState.ids_text, read_only=True),
        rx.el.input(type="hidden", name="ticket", value=SelectionState.ticket, read_only=True),
        _button("download", "Download zip", "bulk-download", type="submit"),
        to="/downloads/images.zip",
        style={"display": "contents"},
    )


def _delete() -> rx.Component:
    return confirm_delete(
        _button("trash-2", "Delete", "bulk-delete", color_scheme="red"),
        title="Delete the selected images?",
        description="Those you may delete go for good (from every board too); others stay.",
        confirm="Delete",
        on_confirm=SelectionState.delete_selected,
        confirm_id="bulk-delete-confirm",
        open=SelectionState.confirming_delete,
        on_open_change=SelectionState.set_confirming_delete,
    )


def _to_board() -> rx.Component:
    def item(board: BoardEntry) -> rx.Component:
        return rx.menu.item(board.name, on_select=SelectionState.add_selected_to(board.id))

    return rx.cond(
        BoardsState.changeable.length() > 0,
        rx.menu.root(
            rx.menu.trigger(_button("folder-plus", "Add to board", "bulk-board")),
            rx.menu.content(rx.foreach(BoardsState.changeable, item)),
        ),
    )


def selection_bar() -> rx.Component:
    """Shown while tiles are ticked; it stays at the bottom of the screen, in a thumb's reach."""
    return rx.cond(
        SelectionState.count > 0,
        rx.flex(
            rx.text(
                SelectionState.count,
                " selected",
                weight="bold",
                size="2",
                id="selection-count",
                role="status",
            ),
            _download(),
            _button("star", "Star", "bulk-star", on_click=SelectionState.star_selected),
            _button(
                "lock", "Private", "bulk-private", on_click=SelectionState.share_selected(False)
            ),
            _button("users", "Shared", "bulk-shared", on_click=SelectionState.share_selected(True)),
            _to_board(),
            _delete(),
            _button("check-check", "Select all", "select-all", on_click=SelectionState.select_all),
            _button("x", "Clear", "selection-clear", on_click=SelectionState.clear),
            id="selection-bar",
            role="region",
            aria_label="Selected images",
            gap="2",
            wrap="wrap",
            align="center",
            padding="0.75em",
            width="100%",
            background="var(--color-panel-solid)",
            border="1px solid var(--gray-a6)",
            border_radius="var(--radius-4)",
            position="sticky",
            bottom="0.5em",
            z_index="2",
        ),
    )
