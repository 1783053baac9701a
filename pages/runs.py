"""Runs list and run pages (layout only)."""

from __future__ import annotations

import reflex as rx

from pages.components import data_table, empty_state, error_callout, shell
from pages.playground import _trace_item
from state.runs import RunDetailState as D
from state.runs import RunsState as R

STATUSES = ["all", "queued", "running", "succeeded", "failed", "cancelled", "timed_out"]
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


def runs_page() -> rx.Component:
    return shell(
        rx.flex(
            rx.select.root(
                rx.select.trigger(placeholder="Agent"),
                rx.select.content(
                    rx.select.item("All agents", value="all"),
                    rx.foreach(R.agent_options, lambda a: rx.select.item(a["name"], value=a["id"])),
                ),
                value=R.agent_filter,
                on_change=lambda v: R.set_filter("agent_filter", v),
            ),
            rx.select(
                STATUSES,
                value=R.status_filter,
                on_change=lambda v: R.set_filter("status_filter", v),
                id="status-filter",
            ),
            rx.select(
                ["24h", "7d", "30d", "all"],
                value=R.range_filter,
                on_change=lambda v: R.set_filter("range_filter", v),
            ),
            spacing="3",
            wrap="wrap",
        ),
        error_callout(R.error),
        rx.box(height="12px"),
        rx.cond(
            R.rows.length() == 0,
            empty_state(
                "list",
                "No runs match",
                "Runs appear here when agents are run from the playground, a schedule or the API.",
            ),
            data_table(
                ["When", "Agent", "Status", "Input", "Latency", "Tokens", "Cost"],
                R.rows,
                _row,
                id_="runs-table",
            ),
        ),
        rx.hstack(
            rx.text(
                R.total, " runs · page ", R.page + 1, " of ", R.pages, size="2", color_scheme="gray"
            ),
            rx.spacer(),
            rx.button(
                "Previous", size="1", variant="soft", on_click=R.move(-1), disabled=R.page == 0
            ),
            rx.button(
                "Next", size="1", variant="soft", on_click=R.move(1), disabled=R.page + 1 >= R.pages
            ),
            width="100%",
            margin_top="12px",
        ),
        title="Runs",
    )


def _fact(label: str, value: rx.Var) -> rx.Component:
    return rx.vstack(
        rx.text(label, size="1", color_scheme="gray"),
        rx.text(value, size="2", weight="medium"),
        spacing="0",
    )


def _origin() -> rx.Component:
    """Which version ran, and for a replay the run it repeats."""
    return rx.fragment(
        rx.cond(
            D.run["version"] != "",
            rx.badge("version ", D.run["version"], variant="soft", id="run-version"),
            rx.badge("version deleted", variant="soft", color_scheme="gray", id="run-version"),
        ),
        rx.cond(
            D.run["replay_of"] != "",
            rx.link(
                rx.hstack(rx.icon("rotate-ccw", size=12), "replay of an earlier run", spacing="1"),
                href="/run?id=" + D.run["replay_of"],
                size="1",
                id="run-replay-of",
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
                    on_click=D.decide(a["id"], False),
                    id="run-deny",
                ),
                rx.button("Approve", size="1", on_click=D.decide(a["id"], True), id="run-approve"),
                spacing="2",
            ),
            width="100%",
        ),
        icon="hand",
        color_scheme="amber",
        width="100%",
        class_name="run-approval",
    )


def run_page() -> rx.Component:
    return shell(
        rx.cond(
            ~D.loaded,
            rx.center(rx.spinner(size="3"), padding="48px"),
            rx.cond(
                D.error != "",
                empty_state("circle-x", "Run not found", D.error),
                rx.vstack(
                    rx.hstack(
                        status_badge(D.run["status"]),
                        rx.link(D.run["agent"], href="/agent?id=" + D.run["agent_id"]),
                        rx.text(D.run["created"], size="1", color_scheme="gray"),
                        _origin(),
                        rx.spacer(),
                        rx.button(
                            rx.icon("rotate-ccw", size=14),
                            "Replay",
                            size="1",
                            variant="soft",
                            on_click=D.replay,
                            id="replay-run",
                        ),
                        rx.cond(
                            D.live,
                            rx.button(
                                "Cancel",
                                color_scheme="red",
                                size="1",
                                on_click=D.cancel,
                                id="cancel-run",
                            ),
                        ),
                        width="100%",
                        align="center",
                        wrap="wrap",
                    ),
                    rx.flex(
                        _fact("Latency", D.run["latency"]),
                        _fact("Tokens", D.run["tokens"]),
                        _fact("Cost", D.run["cost"]),
                        spacing="6",
                        wrap="wrap",
                    ),
                    rx.card(
                        rx.text("Input", size="1", color_scheme="gray"),
                        rx.text(D.run["input"], white_space="pre-wrap"),
                        width="100%",
                    ),
                    rx.cond(
                        D.run["output"] != "",
                        rx.card(
                            rx.text("Output", size="1", color_scheme="gray"),
                            rx.text(D.run["output"], white_space="pre-wrap", id="run-output"),
                            width="100%",
                        ),
                    ),
                    rx.cond(
                        D.run["error"] != "",
                        rx.callout(
                            D.run["error"],
                            icon="circle-x",
                            color_scheme="red",
                            width="100%",
                            id="run-error",
                        ),
                    ),
                    rx.foreach(D.approvals, _approval),
                    rx.heading("Trace", size="3"),
                    rx.foreach(D.steps, _trace_item),
                    rx.cond(
                        D.streaming_text != "",
                        rx.text(D.streaming_text, white_space="pre-wrap", size="2"),
                    ),
                    spacing="3",
                    width="100%",
                ),
            ),
        ),
        title="Run",
    )
