"""The visual builder page: palette + canvas, the selected node's settings, a test panel
(layout only)."""

from __future__ import annotations

import reflex as rx

from pages.components import empty_state, error_callout, shell
from pages.flow_canvas import flow_canvas
from pages.live_log import live_log
from pages.model_picker import model_picker
from state.builder import TEST_OUTPUT_ID, BuilderState


def _model_panel() -> rx.Component:
    return rx.form(
        rx.vstack(
            rx.text("Model", as_="label", size="2", weight="medium", html_for="node_model"),
            rx.input(
                name="model",
                id="node_model",
                default_value=BuilderState.selected_settings["model"],
                placeholder="openai/gpt-4o-mini",
                width="100%",
                key=BuilderState.selected + "-model",
                custom_attrs={"list": "model-choices", "autoComplete": "off"},
            ),
            model_picker(BuilderState, list_id="model-choices"),
            rx.text(
                "Fallbacks (comma-separated)",
                as_="label",
                size="2",
                weight="medium",
                html_for="node_fallbacks",
            ),
            rx.input(
                name="fallback_models",
                id="node_fallbacks",
                default_value=BuilderState.selected_settings["fallback_models"],
                width="100%",
                key=BuilderState.selected + "-fallbacks",
            ),
            rx.button("Apply", type="submit", size="2", id="node-apply"),
            width="100%",
        ),
        on_submit=BuilderState.set_model,
        reset_on_submit=False,
        width="100%",
    )


def _instructions_panel() -> rx.Component:
    return rx.vstack(
        rx.text("Instructions", as_="label", size="2", weight="medium", html_for="node_text"),
        rx.text_area(
            id="node_text",
            default_value=BuilderState.selected_settings["text"],
            on_blur=BuilderState.set_instructions,
            rows="10",
            width="100%",
            key=BuilderState.selected + "-text",
        ),
        rx.text("Applied when you leave the field.", size="1", color_scheme="gray"),
        width="100%",
    )


def _integration_panel() -> rx.Component:
    return rx.vstack(
        rx.text("Connection", as_="label", size="2", weight="medium"),
        rx.select.root(
            rx.select.trigger(
                placeholder="Choose a connection", id="node_connection", width="100%"
            ),
            rx.select.content(
                rx.foreach(
                    BuilderState.connections,
                    lambda c: rx.select.item(c["name"] + " (" + c["provider"] + ")", value=c["id"]),
                )
            ),
            value=BuilderState.selected_settings["connection"],
            on_change=BuilderState.set_connection,
        ),
        rx.checkbox(
            "Ask a person before it runs",
            checked=BuilderState.selected_settings["approval"] == "on",
            on_change=BuilderState.set_approval,
            id="node_approval",
        ),
        width="100%",
    )


def side_panel() -> rx.Component:
    return rx.card(
        rx.cond(
            BuilderState.selected == "",
            rx.vstack(
                rx.heading("Build", size="3"),
                rx.text(
                    "Drag tools, knowledge, integration actions and agents from the palette onto "
                    "the canvas, then connect each to the model. Select a node to edit it; "
                    "Delete or Backspace removes it.",
                    size="2",
                    color_scheme="gray",
                ),
                id="side-panel-empty",
            ),
            rx.vstack(
                rx.hstack(
                    rx.badge(BuilderState.selected_kind),
                    rx.text(BuilderState.selected_title, weight="medium"),
                    wrap="wrap",
                ),
                rx.text(BuilderState.selected_settings["help"], size="1", color_scheme="gray"),
                rx.cond(
                    BuilderState.selected_settings["problem"] != "",
                    rx.callout(
                        BuilderState.selected_settings["problem"],
                        icon="triangle-alert",
                        color_scheme="red",
                        size="1",
                        id="node-problem",
                    ),
                ),
                rx.match(
                    BuilderState.selected_kind,
                    ("model", _model_panel()),
                    ("instructions", _instructions_panel()),
                    ("integration", _integration_panel()),
                    rx.fragment(),
                ),
                width="100%",
                id="side-panel",
            ),
        ),
        width=["100%", "100%", "280px"],
        flex_shrink="0",
    )


def test_panel() -> rx.Component:
    return rx.card(
        rx.vstack(
            rx.heading("Test", size="3"),
            rx.text(
                "Runs the draft (unsaved changes are saved as a new version first).",
                size="1",
                color_scheme="gray",
            ),
            rx.form(
                rx.hstack(
                    rx.input(
                        name="test_message",
                        id="test-message",
                        placeholder="Ask the agent…",
                        width="100%",
                    ),
                    rx.button(
                        "Run",
                        type="submit",
                        loading=BuilderState.test_running,
                        id="test-run",
                        size="2",
                    ),
                    width="100%",
                ),
                on_submit=BuilderState.run_test,
                reset_on_submit=True,
                width="100%",
            ),
            rx.foreach(
                BuilderState.test_steps, lambda s: rx.text(s, size="1", class_name="test-step")
            ),
            # the answer grows in the browser; the server sends only new pieces (state/live.py)
            live_log(
                id=TEST_OUTPUT_ID,
                stream_id="test-output",
                done_id="test-output",
                bubbles=False,
                on_gap=BuilderState.resync_test,
            ),
            rx.cond(
                BuilderState.test_run_id != "",
                rx.link(
                    "Open run",
                    href="/run?id=" + BuilderState.test_run_id,
                    size="1",
                    id="test-run-link",
                ),
            ),
            width="100%",
        ),
        width=["100%", "100%", "280px"],
        flex_shrink="0",
        id="test-panel",
    )


def builder_content() -> rx.Component:
    return rx.vstack(
        rx.flex(
            rx.heading(BuilderState.agent_name, size="5", id="builder-agent-name"),
            rx.badge("version " + BuilderState.version, id="builder-version"),
            rx.cond(
                BuilderState.dirty,
                rx.badge("unsaved changes", color_scheme="amber", id="builder-dirty"),
            ),
            rx.spacer(),
            rx.link("Form editor", href="/agent?id=" + BuilderState.agent_id, size="2"),
            rx.link("Playground", href="/playground?agent=" + BuilderState.agent_id, size="2"),
            rx.link("Dashboard", href="/dashboard?agent=" + BuilderState.agent_id, size="2"),
            rx.button(
                "Save", on_click=BuilderState.save, id="builder-save", disabled=~BuilderState.dirty
            ),
            spacing="3",
            align="center",
            wrap="wrap",
            width="100%",
        ),
        error_callout(BuilderState.error, id_="builder-error"),
        rx.cond(
            BuilderState.problem_list.length() > 0,
            rx.callout(
                rx.vstack(
                    rx.text("Not ready to publish:", weight="medium"),
                    rx.foreach(BuilderState.problem_list, lambda p: rx.text("• " + p, size="1")),
                    spacing="1",
                ),
                icon="triangle-alert",
                color_scheme="amber",
                width="100%",
                id="builder-problems",
            ),
        ),
        rx.flex(
            rx.box(
                flow_canvas(
                    graph=BuilderState.graph,
                    details=BuilderState.details,
                    palette=BuilderState.palette,
                    read_only=False,
                    on_graph_change=BuilderState.graph_changed,
                    on_select=BuilderState.select,
                    key=BuilderState.graph_key.to_string(),
                ),
                height=["520px", "560px", "620px"],
                flex=["none", "none", "1"],  # in the stacked (column) layout flex=1 would
                # collapse the canvas to nothing
                min_width="0",
                width="100%",
                border=f"1px solid {rx.color('gray', 6)}",
                border_radius="8px",
                padding="6px",
                id="canvas",
            ),
            rx.flex(side_panel(), test_panel(), direction="column", gap="3"),
            gap="3",
            width="100%",
            direction=rx.breakpoints(initial="column", md="row"),
        ),
        width="100%",
        spacing="3",
    )


def builder_page() -> rx.Component:
    return shell(
        rx.cond(
            ~BuilderState.loaded,
            rx.center(rx.spinner(size="3"), padding="48px"),
            rx.cond(
                BuilderState.agent_id == "",
                empty_state("circle-x", "Agent not found", BuilderState.error),
                builder_content(),
            ),
        ),
        title="Builder",
    )
