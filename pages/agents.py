"""Agents list page (the library): search, filter, sort, page, row actions. Layout only; the
editor of one agent is `pages.agent_editor`."""

from __future__ import annotations

import reflex as rx

from pages.agent_create import create_dialog
from pages.components import data_table, empty_state, error_callout, shell
from state.agents import SORTS, STATUSES, AgentsState


def _delete_dialog() -> rx.Component:
    return rx.alert_dialog.root(
        rx.alert_dialog.content(
            rx.alert_dialog.title("Delete ", AgentsState.delete_name, "?"),
            rx.alert_dialog.description(
                "The agent and its versions are deleted; this cannot be undone. Its runs are "
                "kept and show as “(deleted agent)”. To keep it, archive it instead.",
                size="2",
            ),
            rx.flex(
                rx.alert_dialog.cancel(rx.button("Cancel", variant="soft", id="delete-cancel")),
                rx.alert_dialog.action(
                    rx.button(
                        "Delete",
                        color_scheme="red",
                        on_click=AgentsState.confirm_delete,
                        id="delete-confirm",
                    )
                ),
                spacing="3",
                justify="end",
                margin_top="16px",
            ),
        ),
        open=AgentsState.delete_id != "",
        on_open_change=AgentsState.set_delete_open,
    )


def _actions(a: rx.Var) -> rx.Component:
    """Row actions in a menu: a real button, then arrow keys and Enter (Radix menu)."""
    archived = a["status"] == "archived"
    return rx.menu.root(
        rx.menu.trigger(
            rx.icon_button(
                rx.icon("ellipsis", size=16),
                variant="ghost",
                size="1",
                aria_label="Actions for " + a["name"],
                id="agent-actions-" + a["id"],
            )
        ),
        rx.menu.content(
            rx.menu.item(
                rx.icon("copy", size=14), "Duplicate", on_click=AgentsState.duplicate(a["id"])
            ),
            rx.cond(
                archived,
                rx.menu.item(
                    rx.icon("archive-restore", size=14),
                    "Unarchive",
                    on_click=AgentsState.unarchive(a["id"]),
                ),
                rx.menu.item(
                    rx.icon("archive", size=14), "Archive", on_click=AgentsState.archive(a["id"])
                ),
            ),
            rx.cond(
                AgentsState.can_delete,
                rx.fragment(
                    rx.menu.separator(),
                    rx.menu.item(
                        rx.icon("trash-2", size=14),
                        "Delete…",
                        color="red",
                        on_click=AgentsState.ask_delete(a["id"], a["name"]),
                    ),
                ),
            ),
        ),
    )


def _agent_row(a: rx.Var) -> rx.Component:
    return rx.table.row(
        rx.table.cell(
            rx.link(a["name"], href="/agent?id=" + a["id"], weight="medium"),
            rx.text(a["description"], size="1", color_scheme="gray"),
            max_width="320px",
        ),
        rx.table.cell(rx.code(a["model"])),
        rx.table.cell(rx.badge(a["status"])),
        rx.table.cell(rx.text(a["last_run"], size="2", white_space="nowrap")),
        rx.table.cell(rx.text(a["updated"], size="2", white_space="nowrap")),
        rx.table.cell(
            rx.hstack(
                rx.cond(
                    a["status"] != "archived",
                    rx.link(
                        rx.button("Chat", size="1", variant="soft", tab_index=-1),
                        href="/playground?agent=" + a["id"],
                    ),
                ),
                _actions(a),
                align="center",
                spacing="2",
            )
        ),
    )


def _toolbar() -> rx.Component:
    return rx.flex(
        rx.form(
            rx.hstack(
                rx.input(
                    name="q",
                    placeholder="Search agents",
                    id="agent-search",
                    default_value=AgentsState.search,
                    aria_label="Search agents",
                ),
                rx.button(rx.icon("search", size=14), "Search", type="submit", variant="soft"),
            ),
            on_submit=AgentsState.apply_search,
            reset_on_submit=False,
        ),
        rx.select.root(
            rx.select.trigger(aria_label="Status", id="status-filter"),
            rx.select.content(
                *[rx.select.item(s.capitalize(), value=s) for s in STATUSES],
            ),
            value=AgentsState.status_filter,
            on_change=AgentsState.set_status_filter,
        ),
        rx.select.root(
            rx.select.trigger(aria_label="Sort by", id="sort-agents"),
            rx.select.content(
                *[rx.select.item("Sort: " + label, value=key) for key, label in SORTS.items()],
            ),
            value=AgentsState.sort,
            on_change=AgentsState.set_sort,
        ),
        rx.spacer(),
        create_dialog(),
        spacing="3",
        wrap="wrap",
        width="100%",
    )


def _agents_table() -> rx.Component:
    headers = ["Agent", "Model", "Status", "Last run", "Edited", ""]
    return data_table(headers, AgentsState.rows, _agent_row, id_="agents-table")


def _empty() -> rx.Component:
    return rx.cond(
        AgentsState.filtered,
        rx.vstack(
            empty_state("search-x", "No agents match", "Try another search or status."),
            rx.button("Clear filters", variant="soft", on_click=AgentsState.clear_filters),
            align="center",
            width="100%",
        ),
        empty_state(
            "bot",
            "No agents yet",
            "Create an agent from a template or a blank one, give it a model and instructions, "
            "and chat with it.",
        ),
    )


def agents_page() -> rx.Component:
    return shell(
        _toolbar(),
        error_callout(AgentsState.error, id_="agents-error"),
        rx.box(height="16px"),
        rx.cond(
            ~AgentsState.loaded,
            rx.center(rx.spinner(size="3"), padding="48px", id="agents-loading"),
            rx.cond(
                AgentsState.rows.length() == 0,
                rx.cond(AgentsState.error == "", _empty()),
                _agents_table(),
            ),
        ),
        rx.flex(
            rx.text(
                AgentsState.total,
                " agents · page ",
                AgentsState.page + 1,
                " of ",
                AgentsState.pages,
                size="2",
                color_scheme="gray",
            ),
            rx.spacer(),
            rx.hstack(
                rx.button(
                    "Previous",
                    size="1",
                    variant="soft",
                    on_click=AgentsState.move(-1),
                    disabled=AgentsState.page == 0,
                    id="agents-previous",
                ),
                rx.button(
                    "Next",
                    size="1",
                    variant="soft",
                    on_click=AgentsState.move(1),
                    disabled=AgentsState.page + 1 >= AgentsState.pages,
                    id="agents-next",
                ),
            ),
            width="100%",
            margin_top="12px",
            wrap="wrap",
            gap="8px",
        ),
        _delete_dialog(),
        title="Agents",
    )
