"""The editor's form over an agent's config: model, instructions, limits, tools, hand-offs,
integration grants, knowledge, memory and output. Layout only; `AgentEditorState.save` reads it."""

from __future__ import annotations

import reflex as rx

from state.agent_editor import AgentEditorState


def _grant_row(g: rx.Var) -> rx.Component:
    """One action on one connection: granted or not, and whether a person must approve."""
    granted = AgentEditorState.grants.contains(g["key"])
    return rx.flex(
        rx.checkbox(
            rx.text(g["action"], weight="medium"),
            checked=granted,
            on_change=lambda on: AgentEditorState.toggle_grant(g["key"], on),
            id="grant-" + g["connection"] + "-" + g["action"],
        ),
        rx.text("on " + g["connection"], size="2", color_scheme="gray"),
        rx.cond(
            granted,
            rx.checkbox(
                "ask a person first",
                checked=AgentEditorState.grant_approvals.contains(g["key"]),
                on_change=lambda on: AgentEditorState.toggle_grant_approval(g["key"], on),
                size="1",
                id="approval-" + g["connection"] + "-" + g["action"],
            ),
        ),
        spacing="3",
        align="center",
        wrap="wrap",
    )


def _labeled(label: str, control: rx.Component, error_key: str) -> rx.Component:
    return rx.vstack(
        rx.text(label, size="2", weight="medium"),
        control,
        rx.cond(
            AgentEditorState.field_errors.contains(error_key),
            rx.text(AgentEditorState.field_errors[error_key], color_scheme="red", size="1"),
        ),
        spacing="1",
        width="100%",
    )


def _input(label: str, key: str, **props) -> rx.Component:
    return _labeled(
        label,
        rx.input(
            name=key,
            id=f"cfg-{key}",
            default_value=AgentEditorState.form[key],
            width="100%",
            **props,
        ),
        key,
    )


def _name_and_models() -> rx.Component:
    return rx.grid(
        _labeled(
            "Name",
            rx.input(
                name="name",
                default_value=AgentEditorState.name,
                id="cfg-name",
                width="100%",
            ),
            "name",
        ),
        _labeled(
            "Description",
            rx.input(name="description", default_value=AgentEditorState.description, width="100%"),
            "description",
        ),
        _input("Model (<provider>/<model>)", "model"),
        _input("Fallback models (comma-separated)", "fallback_models"),
        columns=rx.breakpoints(initial="1", md="2"),
        spacing="3",
        width="100%",
    )


def _instructions() -> rx.Component:
    return _labeled(
        "Instructions ({{variables}} are filled from the run's input)",
        rx.text_area(
            name="instructions",
            default_value=AgentEditorState.form["instructions"],
            rows="6",
            width="100%",
            id="cfg-instructions",
        ),
        "instructions",
    )


def _limits() -> rx.Component:
    return rx.grid(
        _input("Temperature", "temperature"),
        _input("Max output tokens", "max_output_tokens"),
        _input("Max steps", "max_steps"),
        _input("Timeout (s)", "timeout_seconds"),
        _input("Max spend per run, USD (empty: none)", "max_spend_per_run_usd"),
        columns=rx.breakpoints(initial="2", md="5"),
        spacing="3",
        width="100%",
    )


def _tools() -> tuple[rx.Component, ...]:
    """Built-in tools, and the other agents this one may hand a task to."""
    return (
        rx.heading("Tools", size="3"),
        rx.flex(
            rx.foreach(
                AgentEditorState.available_tools,
                lambda t: rx.checkbox(
                    t,
                    checked=AgentEditorState.tools.contains(t),
                    on_change=lambda on: AgentEditorState.toggle_tool(t, on),
                    id="tool-" + t,
                ),
            ),
            spacing="4",
            wrap="wrap",
        ),
        rx.cond(
            AgentEditorState.available_agents.length() > 0,
            rx.vstack(
                rx.heading("Hand off to other agents", size="3"),
                rx.flex(
                    rx.foreach(
                        AgentEditorState.available_agents,
                        lambda a: rx.checkbox(
                            a["name"],
                            checked=AgentEditorState.agent_tools.contains(a["id"]),
                            on_change=lambda on: AgentEditorState.toggle_agent_tool(a["id"], on),
                        ),
                    ),
                    spacing="4",
                    wrap="wrap",
                ),
            ),
        ),
    )


def _integration_actions() -> tuple[rx.Component, ...]:
    return (
        rx.heading("Integration actions", size="3"),
        rx.cond(
            AgentEditorState.available_grants.length() == 0,
            rx.text(
                "No connections yet. ",
                rx.link("Connect a service", href="/integrations"),
                size="2",
            ),
            rx.vstack(
                rx.foreach(AgentEditorState.available_grants, _grant_row),
                spacing="2",
                width="100%",
                id="grants",
            ),
        ),
    )


def _knowledge() -> tuple[rx.Component, ...]:
    return (
        rx.heading("Knowledge", size="3"),
        rx.cond(
            AgentEditorState.available_collections.length() == 0,
            rx.text(
                "No knowledge collections yet. ",
                rx.link("Create one", href="/knowledge"),
                size="2",
            ),
            rx.flex(
                rx.foreach(
                    AgentEditorState.available_collections,
                    lambda c: rx.checkbox(
                        c,
                        checked=AgentEditorState.collections.contains(c),
                        on_change=lambda on: AgentEditorState.toggle_collection(c, on),
                    ),
                ),
                spacing="4",
                wrap="wrap",
            ),
        ),
    )


def _memory_and_output() -> tuple[rx.Component, ...]:
    """Conversation memory, and whether the answer is text or JSON of a schema."""
    return (
        rx.grid(
            _labeled(
                "Conversation memory",
                rx.select(
                    ["on", "off"],
                    name="conversation",
                    default_value=AgentEditorState.form["conversation"],
                ),
                "memory",
            ),
            _input("Messages kept", "window"),
            _labeled(
                "Output",
                rx.select(
                    ["text", "json"],
                    name="output_format",
                    default_value=AgentEditorState.form["output_format"],
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
                default_value=AgentEditorState.form["json_schema"],
                rows="4",
                width="100%",
                font_family="monospace",
            ),
            "json_schema",
        ),
    )


def _form_buttons() -> rx.Component:
    return rx.hstack(
        rx.button("Save", type="submit", size="3", id="save-agent"),
        rx.link(
            rx.button("Open playground", variant="soft", size="3", type="button"),
            href="/playground?agent=" + AgentEditorState.agent_id,
            id="open-playground",
        ),
        spacing="3",
    )


def config_form() -> rx.Component:
    """Keyed by agent and version, so a save or restore re-renders it with the new values."""
    return rx.form(
        rx.vstack(
            _name_and_models(),
            _instructions(),
            _limits(),
            *_tools(),
            *_integration_actions(),
            *_knowledge(),
            *_memory_and_output(),
            _form_buttons(),
            spacing="4",
            width="100%",
        ),
        on_submit=AgentEditorState.save,
        reset_on_submit=False,
        key=AgentEditorState.agent_id + "-v" + AgentEditorState.current_version,
    )
