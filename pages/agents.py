"""Agents list and agent editor pages (layout only)."""

from __future__ import annotations

import reflex as rx

from pages.components import empty_state, error_callout, field, shell
from state.agents import SORTS, STATUSES
from state.agents import AgentEditorState as E
from state.agents import AgentsState as A


def _grant_row(g: rx.Var) -> rx.Component:
    """One action on one connection: granted or not, and whether a person must approve."""
    granted = E.grants.contains(g["key"])
    return rx.flex(
        rx.checkbox(
            rx.text(g["action"], weight="medium"),
            checked=granted,
            on_change=lambda on: E.toggle_grant(g["key"], on),
            id="grant-" + g["connection"] + "-" + g["action"],
        ),
        rx.text("on " + g["connection"], size="2", color_scheme="gray"),
        rx.cond(
            granted,
            rx.checkbox(
                "ask a person first",
                checked=E.grant_approvals.contains(g["key"]),
                on_change=lambda on: E.toggle_grant_approval(g["key"], on),
                size="1",
                id="approval-" + g["connection"] + "-" + g["action"],
            ),
        ),
        spacing="3",
        align="center",
        wrap="wrap",
    )


def _template_card(t: rx.Var) -> rx.Component:
    return rx.radio_cards.item(
        rx.hstack(
            rx.icon(t["icon"], size=20),
            rx.vstack(
                rx.text(t["name"], weight="medium", size="2"),
                rx.text(t["description"], size="1", color_scheme="gray"),
                spacing="0",
                align="start",
            ),
            align="center",
            spacing="3",
            width="100%",
        ),
        value=t["key"],
        id="template-" + t["key"],
    )


def _create_dialog() -> rx.Component:
    return rx.dialog.root(
        rx.dialog.trigger(rx.button(rx.icon("plus", size=16), "New agent", id="new-agent")),
        rx.dialog.content(
            rx.dialog.title("New agent"),
            error_callout(A.create_error, id_="create-agent-error"),
            rx.form(
                rx.vstack(
                    rx.text("Start from", size="2", weight="medium"),
                    rx.radio_cards.root(
                        rx.foreach(A.templates, _template_card),
                        value=A.template,
                        on_value_change=A.set_template,
                        columns=rx.breakpoints(initial="1", sm="2"),
                        width="100%",
                    ),
                    field("Name", "name", A.create_fields, placeholder="Support assistant"),
                    field("Description", "description", A.create_fields),
                    field(
                        "Model (<provider>/<model>; empty: your first configured model)",
                        "model",
                        A.create_fields,
                        placeholder="openai/gpt-4o-mini",
                    ),
                    rx.text(
                        rx.cond(
                            A.template == "blank",
                            "Instructions",
                            "Instructions (empty: the template's)",
                        ),
                        as_="label",
                        html_for="instructions",
                        size="2",
                        weight="medium",
                    ),
                    rx.text_area(name="instructions", id="instructions", rows="4", width="100%"),
                    rx.hstack(
                        rx.dialog.close(rx.button("Cancel", variant="soft", type="button")),
                        rx.button("Create", type="submit", id="create-agent-submit"),
                        justify="end",
                        width="100%",
                    ),
                    spacing="3",
                ),
                on_submit=A.create,
                reset_on_submit=False,
            ),
            max_width="640px",
        ),
        open=A.create_open,
        on_open_change=A.set_create_open,
    )


def _delete_dialog() -> rx.Component:
    return rx.alert_dialog.root(
        rx.alert_dialog.content(
            rx.alert_dialog.title("Delete ", A.delete_name, "?"),
            rx.alert_dialog.description(
                "The agent and its versions are deleted; this cannot be undone. Its runs are "
                "kept and show as “(deleted agent)”. To keep it, archive it instead.",
                size="2",
            ),
            rx.flex(
                rx.alert_dialog.cancel(rx.button("Cancel", variant="soft", id="delete-cancel")),
                rx.alert_dialog.action(
                    rx.button(
                        "Delete", color_scheme="red", on_click=A.confirm_delete, id="delete-confirm"
                    )
                ),
                spacing="3",
                justify="end",
                margin_top="16px",
            ),
        ),
        open=A.delete_id != "",
        on_open_change=A.set_delete_open,
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
            rx.menu.item(rx.icon("copy", size=14), "Duplicate", on_click=A.duplicate(a["id"])),
            rx.cond(
                archived,
                rx.menu.item(
                    rx.icon("archive-restore", size=14),
                    "Unarchive",
                    on_click=A.unarchive(a["id"]),
                ),
                rx.menu.item(rx.icon("archive", size=14), "Archive", on_click=A.archive(a["id"])),
            ),
            rx.cond(
                A.can_delete,
                rx.fragment(
                    rx.menu.separator(),
                    rx.menu.item(
                        rx.icon("trash-2", size=14),
                        "Delete…",
                        color="red",
                        on_click=A.ask_delete(a["id"], a["name"]),
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
                    default_value=A.search,
                    aria_label="Search agents",
                ),
                rx.button(rx.icon("search", size=14), "Search", type="submit", variant="soft"),
            ),
            on_submit=A.apply_search,
            reset_on_submit=False,
        ),
        rx.select.root(
            rx.select.trigger(aria_label="Status", id="status-filter"),
            rx.select.content(
                *[rx.select.item(s.capitalize(), value=s) for s in STATUSES],
            ),
            value=A.status_filter,
            on_change=A.set_status_filter,
        ),
        rx.select.root(
            rx.select.trigger(aria_label="Sort by", id="sort-agents"),
            rx.select.content(
                *[rx.select.item("Sort: " + label, value=key) for key, label in SORTS.items()],
            ),
            value=A.sort,
            on_change=A.set_sort,
        ),
        rx.spacer(),
        _create_dialog(),
        spacing="3",
        wrap="wrap",
        width="100%",
    )


def _agents_table() -> rx.Component:
    return rx.box(
        rx.table.root(
            rx.table.header(
                rx.table.row(
                    *[
                        rx.table.column_header_cell(h)
                        for h in ["Agent", "Model", "Status", "Last run", "Edited", ""]
                    ]
                )
            ),
            rx.table.body(rx.foreach(A.rows, _agent_row)),
            variant="surface",
            width="100%",
            id="agents-table",
        ),
        overflow_x="auto",
        width="100%",
    )


def _empty() -> rx.Component:
    return rx.cond(
        A.filtered,
        rx.vstack(
            empty_state("search-x", "No agents match", "Try another search or status."),
            rx.button("Clear filters", variant="soft", on_click=A.clear_filters),
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
        error_callout(A.error, id_="agents-error"),
        rx.box(height="16px"),
        rx.cond(
            ~A.loaded,
            rx.center(rx.spinner(size="3"), padding="48px", id="agents-loading"),
            rx.cond(A.rows.length() == 0, rx.cond(A.error == "", _empty()), _agents_table()),
        ),
        rx.flex(
            rx.text(
                A.total,
                " agents · page ",
                A.page + 1,
                " of ",
                A.pages,
                size="2",
                color_scheme="gray",
            ),
            rx.spacer(),
            rx.hstack(
                rx.button(
                    "Previous",
                    size="1",
                    variant="soft",
                    on_click=A.move(-1),
                    disabled=A.page == 0,
                    id="agents-previous",
                ),
                rx.button(
                    "Next",
                    size="1",
                    variant="soft",
                    on_click=A.move(1),
                    disabled=A.page + 1 >= A.pages,
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


def _labeled(label: str, control: rx.Component, error_key: str) -> rx.Component:
    return rx.vstack(
        rx.text(label, size="2", weight="medium"),
        control,
        rx.cond(
            E.field_errors.contains(error_key),
            rx.text(E.field_errors[error_key], color_scheme="red", size="1"),
        ),
        spacing="1",
        width="100%",
    )


def _input(label: str, key: str, **props) -> rx.Component:  # type: ignore[no-untyped-def]
    return _labeled(
        label,
        rx.input(name=key, id=f"cfg-{key}", default_value=E.form[key], width="100%", **props),
        key,
    )


def editor_page() -> rx.Component:
    form = rx.form(
        rx.vstack(
            rx.grid(
                _labeled(
                    "Name",
                    rx.input(name="name", default_value=E.name, id="cfg-name", width="100%"),
                    "name",
                ),
                _labeled(
                    "Description",
                    rx.input(name="description", default_value=E.description, width="100%"),
                    "description",
                ),
                _input("Model (<provider>/<model>)", "model"),
                _input("Fallback models (comma-separated)", "fallback_models"),
                columns=rx.breakpoints(initial="1", md="2"),
                spacing="3",
                width="100%",
            ),
            _labeled(
                "Instructions ({{variables}} are filled from the run's input)",
                rx.text_area(
                    name="instructions",
                    default_value=E.form["instructions"],
                    rows="6",
                    width="100%",
                    id="cfg-instructions",
                ),
                "instructions",
            ),
            rx.grid(
                _input("Temperature", "temperature"),
                _input("Max output tokens", "max_output_tokens"),
                _input("Max steps", "max_steps"),
                _input("Timeout (s)", "timeout_seconds"),
                columns=rx.breakpoints(initial="2", md="4"),
                spacing="3",
                width="100%",
            ),
            rx.heading("Tools", size="3"),
            rx.flex(
                rx.foreach(
                    E.available_tools,
                    lambda t: rx.checkbox(
                        t,
                        checked=E.tools.contains(t),
                        on_change=lambda on: E.toggle_tool(t, on),
                        id="tool-" + t,
                    ),
                ),
                spacing="4",
                wrap="wrap",
            ),
            rx.cond(
                E.available_agents.length() > 0,
                rx.vstack(
                    rx.heading("Hand off to other agents", size="3"),
                    rx.flex(
                        rx.foreach(
                            E.available_agents,
                            lambda a: rx.checkbox(
                                a["name"],
                                checked=E.agent_tools.contains(a["id"]),
                                on_change=lambda on: E.toggle_agent_tool(a["id"], on),
                            ),
                        ),
                        spacing="4",
                        wrap="wrap",
                    ),
                ),
            ),
            rx.heading("Integration actions", size="3"),
            rx.cond(
                E.available_grants.length() == 0,
                rx.text(
                    "No connections yet. ",
                    rx.link("Connect a service", href="/integrations"),
                    size="2",
                ),
                rx.vstack(
                    rx.foreach(E.available_grants, _grant_row),
                    spacing="2",
                    width="100%",
                    id="grants",
                ),
            ),
            rx.heading("Knowledge", size="3"),
            rx.cond(
                E.available_collections.length() == 0,
                rx.text(
                    "No knowledge collections yet. ",
                    rx.link("Create one", href="/knowledge"),
                    size="2",
                ),
                rx.flex(
                    rx.foreach(
                        E.available_collections,
                        lambda c: rx.checkbox(
                            c,
                            checked=E.collections.contains(c),
                            on_change=lambda on: E.toggle_collection(c, on),
                        ),
                    ),
                    spacing="4",
                    wrap="wrap",
                ),
            ),
            rx.grid(
                _labeled(
                    "Conversation memory",
                    rx.select(
                        ["on", "off"], name="conversation", default_value=E.form["conversation"]
                    ),
                    "memory",
                ),
                _input("Messages kept", "window"),
                _labeled(
                    "Output",
                    rx.select(
                        ["text", "json"],
                        name="output_format",
                        default_value=E.form["output_format"],
                    ),
                    "format",
                ),
                columns=rx.breakpoints(initial="1", md="3"),
                spacing="3",
                width="100%",
            ),
            _labeled(
                "JSON schema of the answer (when output is json)",
                rx.text_area(
                    name="json_schema",
                    default_value=E.form["json_schema"],
                    rows="4",
                    width="100%",
                    font_family="monospace",
                ),
                "json_schema",
            ),
            rx.hstack(
                rx.button("Save", type="submit", size="3", id="save-agent"),
                rx.link(
                    rx.button("Open playground", variant="soft", size="3", type="button"),
                    href="/playground?agent=" + E.agent_id,
                    id="open-playground",
                ),
                spacing="3",
            ),
            spacing="4",
            width="100%",
        ),
        on_submit=E.save,
        reset_on_submit=False,
        key=E.agent_id + "-v" + E.current_version,
    )
    side = rx.vstack(
        rx.heading("Versions", size="3"),
        rx.vstack(
            rx.foreach(E.versions, _version_row),
            spacing="2",
            width="100%",
            max_height="420px",
            overflow_y="auto",
            id="versions",
        ),
        rx.heading("Recent runs", size="3", margin_top="16px"),
        rx.cond(
            E.recent_runs.length() == 0,
            rx.text("No runs yet.", size="2", color_scheme="gray"),
            rx.foreach(
                E.recent_runs,
                lambda r: rx.link(
                    rx.hstack(rx.badge(r["status"]), rx.text(r["when"], size="1")),
                    href="/run?id=" + r["id"],
                ),
            ),
        ),
        min_width="240px",
        max_width=rx.breakpoints(initial="100%", md="280px"),
        spacing="2",
    )
    return shell(
        rx.cond(
            ~E.loaded,
            rx.center(rx.spinner(size="3"), padding="48px"),
            rx.cond(
                E.not_found,
                empty_state(
                    "bot-off",
                    "Agent not found",
                    "It may have been deleted, or belongs to another organization.",
                ),
                rx.vstack(
                    _header(),
                    _problems(),
                    error_callout(E.error, id_="agent-error"),
                    rx.flex(
                        rx.box(form, flex="1", min_width="0"),
                        side,
                        spacing="6",
                        direction=rx.breakpoints(initial="column", md="row"),
                        width="100%",
                    ),
                    _compare(),
                    spacing="4",
                    width="100%",
                ),
            ),
        ),
        title="Agent",
    )


def _header() -> rx.Component:
    published = E.status == "published"
    return rx.flex(
        rx.heading(E.name, size="5", id="agent-name"),
        rx.badge(E.status, id="agent-status"),
        rx.cond(
            E.current_version != "", rx.badge("version ", E.current_version, variant="outline")
        ),
        rx.spacer(),
        rx.link(
            rx.button("Open canvas", variant="soft", size="2", tab_index=-1),
            href="/builder?id=" + E.agent_id,
            id="open-builder",
        ),
        rx.link(
            rx.button("Dashboard", variant="soft", size="2", tab_index=-1),
            href="/dashboard?agent=" + E.agent_id,
            id="open-dashboard",
        ),
        rx.cond(
            published,
            rx.button(
                "Unpublish", variant="soft", size="2", on_click=E.unpublish, id="unpublish-agent"
            ),
            rx.cond(
                E.status != "archived",
                rx.button(
                    rx.icon("rocket", size=14),
                    "Publish",
                    size="2",
                    on_click=E.publish,
                    disabled=E.problems.length() > 0,
                    id="publish-agent",
                ),
            ),
        ),
        spacing="3",
        align="center",
        wrap="wrap",
        width="100%",
    )


def _problems() -> rx.Component:
    return rx.cond(
        E.problems.length() > 0,
        rx.callout.root(
            rx.callout.icon(rx.icon("triangle-alert")),
            rx.vstack(
                rx.text(
                    rx.cond(
                        E.status == "published",
                        "Published, but it would not pass the publish check now:",
                        "Not ready to publish:",
                    ),
                    weight="medium",
                ),
                rx.unordered_list(rx.foreach(E.problems, lambda p: rx.list_item(p))),
                spacing="1",
            ),
            color_scheme="amber",
            width="100%",
            id="publish-problems",
        ),
    )


def _version_row(v: rx.Var) -> rx.Component:
    return rx.flex(
        rx.badge("v", v["version"], variant=rx.cond(v["current"] == "yes", "solid", "soft")),
        rx.vstack(
            rx.text(v["author"], size="1", weight="medium", title=v["email"]),
            rx.text(v["created"], " · ", v["model"], size="1", color_scheme="gray"),
            spacing="0",
            min_width="0",
            flex="1",
        ),
        rx.cond(
            v["current"] == "yes",
            rx.text("current", size="1", color_scheme="gray"),
            rx.button(
                "Restore",
                size="1",
                variant="soft",
                on_click=E.restore(v["version"]),
                aria_label="Restore version " + v["version"],
                id="restore-v" + v["version"],
            ),
        ),
        spacing="2",
        align="center",
        width="100%",
    )


DIFF_COLORS = {"added": "grass", "removed": "red", "changed": "amber"}


def _diff_cell(text: rx.Var) -> rx.Component:
    return rx.table.cell(
        rx.text(text, size="1", white_space="pre-wrap", word_break="break-word"),
        max_width="420px",
    )


def _diff_row(r: rx.Var) -> rx.Component:
    background = rx.match(
        r["kind"],
        *[(kind, rx.color(color, 3)) for kind, color in DIFF_COLORS.items()],
        "transparent",
    )
    return rx.table.row(
        rx.table.cell(
            rx.code(r["path"], size="1"),
            rx.cond(r["kind"] != "same", rx.text(r["kind"], size="1", color_scheme="gray")),
        ),
        _diff_cell(r["old"]),
        _diff_cell(r["new"]),
        background=background,
        custom_attrs={"data-kind": r["kind"]},
    )


def _compare() -> rx.Component:
    return rx.cond(
        E.version_numbers.length() > 1,
        rx.vstack(
            rx.heading("Compare versions", size="3"),
            rx.flex(
                rx.select(
                    E.version_numbers,
                    value=E.diff_a,
                    on_change=E.set_diff_a,
                    aria_label="Older version",
                    id="diff-a",
                ),
                rx.icon("arrow-right", size=16),
                rx.select(
                    E.version_numbers,
                    value=E.diff_b,
                    on_change=E.set_diff_b,
                    aria_label="Newer version",
                    id="diff-b",
                ),
                rx.button(
                    rx.icon("git-compare", size=14),
                    "Compare",
                    variant="soft",
                    on_click=E.compare,
                    id="compare-versions",
                ),
                rx.checkbox(
                    "Only changes",
                    checked=E.diff_changes_only,
                    on_change=E.set_diff_changes_only,
                    id="diff-only-changes",
                ),
                spacing="3",
                align="center",
                wrap="wrap",
            ),
            rx.cond(
                E.diff_old != "",
                rx.box(
                    rx.table.root(
                        rx.table.header(
                            rx.table.row(
                                rx.table.column_header_cell("Field"),
                                rx.table.column_header_cell("Version ", E.diff_old),
                                rx.table.column_header_cell("Version ", E.diff_new),
                            )
                        ),
                        rx.table.body(
                            rx.foreach(E.diff_rows, _diff_row),
                            rx.cond(
                                E.diff_rows.length() == 0,
                                rx.table.row(
                                    rx.table.cell("The two versions are the same.", col_span=3)
                                ),
                            ),
                        ),
                        size="1",
                        variant="surface",
                        width="100%",
                    ),
                    overflow_x="auto",
                    width="100%",
                    id="diff-table",
                ),
            ),
            spacing="3",
            width="100%",
            id="compare",
        ),
    )
