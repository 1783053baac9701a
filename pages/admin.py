"""Instance admin page (layout only): organizations, their tier and limit overrides."""

from __future__ import annotations

import reflex as rx

from pages.components import data_table, error_callout, shell
from state.admin import TIERS, AdminState

LIMIT_FIELDS = [
    ("max_agents", "Agents"),
    ("max_runs_per_month", "Runs per month"),
    ("max_concurrent_runs", "Concurrent runs"),
    ("max_members", "Members"),
]


def _plans_note() -> rx.Component:
    return rx.callout(
        rx.cond(
            AdminState.plans_enabled,
            "Plans are on (BILLING_ENABLED): each organization gets its tier's limits unless "
            "you set its own numbers below.",
            "Plans are off: every organization is unlimited, except for numbers you set below. "
            "Tiers apply only with BILLING_ENABLED (which needs Stripe keys).",
        ),
        icon="info",
        color_scheme=rx.cond(AdminState.plans_enabled, "blue", "gray"),
        id="plans-note",
    )


def _search() -> rx.Component:
    return rx.form(
        rx.hstack(
            rx.input(
                name="q",
                id="admin-org-search",
                placeholder="Search by name or slug",
                default_value=AdminState.search,
                width="100%",
            ),
            rx.button("Search", type="submit", variant="soft", id="admin-org-search-submit"),
            width="100%",
            max_width="480px",
        ),
        on_submit=AdminState.search_orgs,
        reset_on_submit=False,
    )


def _org_row(org: rx.Var) -> rx.Component:
    return rx.table.row(
        rx.table.cell(
            rx.text(org["name"], weight="medium"),
            rx.text(org["slug"], size="1", color_scheme="gray"),
        ),
        rx.table.cell(rx.badge(org["tier"])),
        rx.table.cell(org["members"]),
        rx.table.cell(org["agents"]),
        rx.table.cell(rx.text(org["limits"], size="1")),
        rx.table.cell(
            rx.button(
                "Edit plan",
                size="1",
                variant="soft",
                on_click=AdminState.edit(org["id"]),
                id="admin-edit-" + org["slug"].to(str),
            )
        ),
    )


def _pager() -> rx.Component:
    return rx.hstack(
        rx.text(
            AdminState.total,
            " organizations · page ",
            AdminState.page + 1,
            " of ",
            AdminState.pages,
            size="2",
        ),
        rx.spacer(),
        rx.button(
            "Previous", size="1", variant="soft", on_click=AdminState.move(-1), id="admin-prev"
        ),
        rx.button("Next", size="1", variant="soft", on_click=AdminState.move(1), id="admin-next"),
        width="100%",
        align="center",
    )


def _limit_input(name: str, label: str) -> rx.Component:
    return rx.vstack(
        rx.text(label, as_="label", size="2", weight="medium", html_for=name),
        rx.input(
            name=name,
            id=name,
            default_value=AdminState.editing[name].to(str),
            placeholder="the plan's number",
            width="100%",
        ),
        rx.cond(
            AdminState.field_errors.contains(name),
            rx.text(AdminState.field_errors[name].to(str), color_scheme="red", size="1"),
        ),
        spacing="1",
        width="100%",
    )


def _edit_dialog() -> rx.Component:
    return rx.dialog.root(
        rx.dialog.content(
            rx.dialog.title("Plan of ", AdminState.editing["name"].to(str)),
            rx.dialog.description(
                "Blank: the tier's number (unlimited while plans are off). "
                "'unlimited' or -1: no limit. Changes are written to the organization's audit log.",
                size="2",
            ),
            rx.form(
                rx.vstack(
                    rx.text("Tier", size="2", weight="medium"),
                    rx.select(
                        TIERS,
                        name="tier",
                        default_value=AdminState.editing["tier"].to(str),
                        id="tier",
                    ),
                    *[_limit_input(name, label) for name, label in LIMIT_FIELDS],
                    rx.hstack(
                        rx.dialog.close(rx.button("Cancel", variant="soft", type="button")),
                        rx.button("Save", type="submit", id="admin-save-plan"),
                        justify="end",
                        width="100%",
                    ),
                    spacing="3",
                ),
                on_submit=AdminState.save,
                reset_on_submit=False,
                key=AdminState.editing["id"].to(str),
            ),
            max_width="480px",
        ),
        open=AdminState.editing.length() > 0,
        on_open_change=AdminState.close,
    )


def admin_page() -> rx.Component:
    return shell(
        rx.vstack(
            error_callout(AdminState.error, id_="admin-error"),
            rx.cond(
                AdminState.is_instance_admin,
                rx.vstack(
                    _plans_note(),
                    _search(),
                    data_table(
                        ["Organization", "Tier", "Members", "Agents", "Limits (* set here)", ""],
                        AdminState.rows,
                        _org_row,
                        id_="admin-orgs",
                    ),
                    _pager(),
                    _edit_dialog(),
                    spacing="4",
                    width="100%",
                ),
            ),
            spacing="4",
            width="100%",
        ),
        title="Instance admin",
    )
