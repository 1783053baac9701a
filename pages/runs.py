"""Runs list and run pages (layout only)."""

from __future__ import annotations

import reflex as rx

from pages.components import data_table, empty_state, error_callout, shell
from pages.trace import trace_step
from state.runs import RANGES, STATUS_CHOICES, RunDetailState, RunsState

COLORS = {"succeeded": "green", "failed": "red", "running": "blue", "queued": "gray"}


def status_badge(status: rx.Var) -> rx.Component:
    return rx.badge(
        status,
        color_scheme=rx.match(
            status,
            ("succeeded", "green"),
            ("failed", "red"),
            ("timed_out", "red"),
            ("running", "blue"),
            ("cancelled", "orange"),
            "gray",
        ),
    )


def _row(r: rx.Var) -> rx.Component:
    return rx.table.row(
        rx.table.cell(rx.link(r["when"], href="/run?id=" + r["id"])),
        rx.table.cell(r["agent"]),
        rx.table.cell(status_badge(r["status"])),
        rx.table.cell(rx.text(r["input"], size="1")),
        rx.table.cell(r["latency"]),
        rx.table.cell(r["tokens"]),
        rx.table.cell(r["cost"]),
    )


def _filters() -> rx.Component:
    """Agent, status and time range; each change reloads the first page."""
    return rx.flex(
        rx.select.root(
            rx.select.trigger(placeholder="Agent", id="agent-filter"),
            rx.select.content(
                rx.select.item("All agents", value="all"),
                rx.foreach(
                    RunsState.agent_options, lambda a: rx.select.item(a["name"], value=a["id"])
                ),
            ),
            value=RunsState.agent_filter,
            on_change=lambda v: RunsState.set_filter("agent_filter", v),
        ),
        rx.select(
            STATUS_CHOICES,
            value=RunsState.status_filter,
            on_change=lambda v: RunsState.set_filter("status_filter", v),
            id="status-filter",
        ),
        rx.select(
            list(RANGES),
            value=RunsState.range_filter,
            on_change=lambda v: RunsState.set_filter("range_filter", v),
            id="range-filter",
        ),
        spacing="3",
        wrap="wrap",
    )


def _runs_table() -> rx.Component:
    return rx.cond(
        RunsState.rows.length() == 0,
        empty_state(
            "list",
            "No runs match",
            "Runs appear here when agents are run from the playground, a schedule or the API.",
        ),
        data_table(
            ["When", "Agent", "Status", "Input", "Latency", "Tokens", "Cost"],
            RunsState.rows,
            _row,
            id_="runs-table",
        ),
    )


def _pager() -> rx.Component:
    return rx.hstack(
        rx.text(
            RunsState.total,
            " runs · page ",
            RunsState.page + 1,
            " of ",
            RunsState.pages,
            size="2",
            color_scheme="gray",
        ),
        rx.spacer(),
        rx.button(
            "Previous",
            size="1",
            variant="soft",
            on_click=RunsState.move(-1),
            disabled=RunsState.page == 0,
        ),
        rx.button(
            "Next",
            size="1",
            variant="soft",
            on_click=RunsState.move(1),
            disabled=RunsState.page + 1 >= RunsState.pages,
        ),
        width="100%",
        margin_top="12px",
    )


def runs_page() -> rx.Component:
    return shell(
        _filters(),
        error_callout(RunsState.error),
        rx.box(height="12px"),
        _runs_table(),
        _pager(),
        title="Runs",
    )


def _fact(label: str, value: rx.Var) -> rx.Component:
    return rx.vstack(
        rx.text(label, size="1", color_scheme="gray"),
        rx.text(value, size="2", weight="medium"),
        spacing="0",
    )


def _origin() -> rx.Component:
    """Which version ran, for a replay the run it repeats, for a test run its suite run."""
    return rx.fragment(
        rx.cond(
            RunDetailState.run["version"] != "",
            rx.badge("version ", RunDetailState.run["version"], variant="soft", id="run-version"),
            rx.badge("version deleted", variant="soft", color_scheme="gray", id="run-version"),
        ),
        rx.cond(
            RunDetailState.run["replay_of"] != "",
            rx.link(
                rx.hstack(rx.icon("rotate-ccw", size=12), "replay of an earlier run", spacing="1"),
                href="/run?id=" + RunDetailState.run["replay_of"],
                size="1",
                id="run-replay-of",
            ),
        ),
        rx.cond(
            RunDetailState.run["suite_run"] != "",
            rx.link(
                rx.badge(
                    rx.icon("flask-conical", size=12),
                    "test run: not in statistics or the bill",
                    color_scheme="violet",
                    variant="soft",
                ),
                href=RunDetailState.run["suite_run"],
                id="run-test-run",
            ),
        ),
    )


def _approval(a: rx.Var) -> rx.Component:
    return rx.callout(
        rx.vstack(
            rx.text("The agent wants to run ", rx.code(a["action"]), ". Approve?"),
            rx.code_block(a["arguments"], language="json", width="100%"),
            rx.hstack(
                rx.button(
                    "Decline",
                    color_scheme="red",
                    variant="soft",
                    size="1",
                    on_click=RunDetailState.decide(a["id"], False),
                    id="run-deny",
                ),
                rx.button(
                    "Approve",
                    size="1",
                    on_click=RunDetailState.decide(a["id"], True),
                    id="run-approve",
                ),
                spacing="2",
            ),
            width="100%",
        ),
        icon="hand",
        color_scheme="amber",
        width="100%",
        class_name="run-approval",
    )


def _run_header() -> rx.Component:
    """Status, agent, when, which version; Replay, and Cancel while it runs."""
    return rx.hstack(
        status_badge(RunDetailState.run["status"]),
        rx.link(
            RunDetailState.run["agent"],
            href="/agent?id=" + RunDetailState.run["agent_id"],
        ),
        rx.text(RunDetailState.run["created"], size="1", color_scheme="gray"),
        _origin(),
        rx.spacer(),
        rx.button(
            rx.icon("rotate-ccw", size=14),
            "Replay",
            size="1",
            variant="soft",
            on_click=RunDetailState.replay,
            id="replay-run",
        ),
        rx.cond(
            RunDetailState.live,
            rx.button(
                "Cancel",
                color_scheme="red",
                size="1",
                on_click=RunDetailState.cancel,
                id="cancel-run",
            ),
        ),
        width="100%",
        align="center",
        wrap="wrap",
    )


def _facts() -> rx.Component:
    return rx.flex(
        _fact("Latency", RunDetailState.run["latency"]),
        _fact("Tokens", RunDetailState.run["tokens"]),
        _fact("Cost", RunDetailState.run["cost"]),
        spacing="6",
        wrap="wrap",
    )


def _input_and_outcome() -> tuple[rx.Component, ...]:
    """What the run was asked, and what it answered or why it failed."""
    return (
        rx.card(
            rx.text("Input", size="1", color_scheme="gray"),
            rx.text(RunDetailState.run["input"], white_space="pre-wrap"),
            width="100%",
        ),
        rx.cond(
            RunDetailState.run["output"] != "",
            rx.card(
                rx.text("Output", size="1", color_scheme="gray"),
                rx.text(
                    RunDetailState.run["output"],
                    white_space="pre-wrap",
                    id="run-output",
                ),
                width="100%",
            ),
        ),
        rx.cond(
            RunDetailState.run["error"] != "",
            rx.callout(
                RunDetailState.run["error"],
                icon="circle-x",
                color_scheme="red",
                width="100%",
                id="run-error",
            ),
        ),
    )


def _trace() -> tuple[rx.Component, ...]:
    """Every step so far, then the answer still arriving."""
    return (
        rx.heading("Trace", size="3"),
        rx.foreach(RunDetailState.steps, trace_step),
        rx.cond(
            RunDetailState.streaming_text != "",
            rx.text(RunDetailState.streaming_text, white_space="pre-wrap", size="2"),
        ),
    )


def run_page() -> rx.Component:
    return shell(
        rx.cond(
            ~RunDetailState.loaded,
            rx.center(rx.spinner(size="3"), padding="48px"),
            rx.cond(
                RunDetailState.error != "",
                empty_state("circle-x", "Run not found", RunDetailState.error),
                rx.vstack(
                    _run_header(),
                    _facts(),
                    *_input_and_outcome(),
                    rx.foreach(RunDetailState.approvals, _approval),
                    *_trace(),
                    spacing="3",
                    width="100%",
                ),
            ),
        ),
        title="Run",
    )
