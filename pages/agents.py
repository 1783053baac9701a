"""Agents list and agent editor pages (layout only)."""

from __future__ import annotations

import reflex as rx

from pages.components import empty_state, error_callout, field, shell
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


def _create_dialog() -> rx.Component:
    return rx.dialog.root(
        rx.dialog.trigger(rx.button(rx.icon("plus", size=16), "New agent", id="new-agent")),
        rx.dialog.content(
            rx.dialog.title("New agent"),
            error_callout(A.create_error, id_="create-agent-error"),
            rx.form(
                rx.vstack(
                    field("Name", "name", A.create_fields, placeholder="Support assistant"),
                    field("Description", "description", A.create_fields),
                    field(
                        "Model (<provider>/<model>)",
                        "model",
                        A.create_fields,
                        placeholder="openai/gpt-4o-mini",
                    ),
                    rx.text("Instructions", size="2", weight="medium"),
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
        ),
        open=A.create_open,
        on_open_change=A.set_create_open,
    )


def _agent_row(a: rx.Var) -> rx.Component:
    return rx.table.row(
        rx.table.cell(
            rx.link(a["name"], href="/agent?id=" + a["id"], weight="medium"),
            rx.text(a["description"], size="1", color_scheme="gray"),
        ),
        rx.table.cell(rx.code(a["model"])),
        rx.table.cell(rx.badge(a["status"])),
        rx.table.cell(a["updated"]),
        rx.table.cell(
            rx.link(
                rx.button("Chat", size="1", variant="soft"), href="/playground?agent=" + a["id"]
            )
        ),
    )


def agents_page() -> rx.Component:
    return shell(
        rx.flex(
            rx.form(
                rx.hstack(
                    rx.input(name="q", placeholder="Search agents", id="agent-search"),
                    rx.button("Search", type="submit", variant="soft"),
                ),
                on_submit=A.apply_search,
            ),
            rx.select(
                ["active", "draft", "published", "archived"],
                value=A.status_filter,
                on_change=A.set_status_filter,
            ),
            rx.spacer(),
            _create_dialog(),
            spacing="3",
            wrap="wrap",
            width="100%",
        ),
        error_callout(A.error),
        rx.box(height="16px"),
        rx.cond(
            A.rows.length() == 0,
            empty_state(
                "bot",
                "No agents yet",
                "Create an agent, give it a model and instructions, and chat with it.",
            ),
            rx.box(
                rx.table.root(
                    rx.table.header(
                        rx.table.row(
                            *[
                                rx.table.column_header_cell(h)
                                for h in ["Agent", "Model", "Status", "Edited", ""]
                            ]
                        )
                    ),
                    rx.table.body(rx.foreach(A.rows, _agent_row)),
                    variant="surface",
                    width="100%",
                    id="agents-table",
                ),
                overflow_x="auto",
            ),
        ),
        rx.hstack(
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
            rx.button(
                "Previous", size="1", variant="soft", on_click=A.move(-1), disabled=A.page == 0
            ),
            rx.button(
                "Next", size="1", variant="soft", on_click=A.move(1), disabled=A.page + 1 >= A.pages
            ),
            width="100%",
            margin_top="12px",
        ),
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
        key=E.agent_id + E.versions.length().to_string(),
    )
    side = rx.vstack(
        rx.heading("Versions", size="3"),
        rx.foreach(
            E.versions,
            lambda v: rx.hstack(
                rx.badge("v", v["version"]),
                rx.text(v["created"], size="1"),
                rx.code(v["model"], size="1"),
                spacing="2",
            ),
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
        min_width="220px",
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
                    rx.hstack(rx.heading(E.name, size="5", id="agent-name"), rx.badge(E.status)),
                    rx.foreach(
                        E.warnings,
                        lambda w: rx.callout(
                            w, icon="triangle-alert", color_scheme="amber", width="100%"
                        ),
                    ),
                    error_callout(E.error, id_="agent-error"),
                    rx.flex(
                        rx.box(form, flex="1", min_width="0"),
                        side,
                        spacing="6",
                        direction=rx.breakpoints(initial="column", md="row"),
                        width="100%",
                    ),
                    spacing="4",
                    width="100%",
                ),
            ),
        ),
        title="Agent",
    )
