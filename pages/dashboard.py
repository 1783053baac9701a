"""Dashboard page (layout only): range, stat cards, runs by status, costs, top agents, failures.

The same page serves one agent at /dashboard?agent=<id>.
"""

from __future__ import annotations

import reflex as rx

from pages.components import empty_state, error_callout, shell
from pages.runs import status_badge
from state.dashboard import STATUSES, DashboardState

BAR_COLORS = {
    "succeeded": ("green", "Succeeded"),
    "failed": ("red", "Failed"),
    "timed_out": ("orange", "Timed out"),
    "cancelled": ("gray", "Cancelled"),
    "running": ("blue", "Running"),
    "queued": ("violet", "Queued"),
}


def _header() -> rx.Component:
    return rx.flex(
        rx.cond(
            DashboardState.agent_id != "",
            rx.vstack(
                rx.heading(DashboardState.agent_name, size="5", id="dashboard-agent-name"),
                rx.hstack(
                    rx.link("Open agent", href="/agent?id=" + DashboardState.agent_id, size="2"),
                    rx.link("All agents", href="/dashboard", size="2"),
                    spacing="3",
                ),
                spacing="1",
            ),
        ),
        rx.spacer(),
        rx.hstack(
            rx.cond(
                DashboardState.live,
                rx.badge(rx.icon("radio", size=12), "Live", color_scheme="green", id="live"),
                rx.cond(
                    DashboardState.paused,
                    rx.button(
                        rx.icon("play", size=12),
                        "Resume live updates",
                        size="1",
                        variant="soft",
                        on_click=DashboardState.resume,
                        id="resume-live",
                    ),
                ),
            ),
            rx.cond(
                DashboardState.updated_at != "",
                rx.text("Updated ", DashboardState.updated_at, size="1", color_scheme="gray"),
            ),
            align="center",
            spacing="2",
            wrap="wrap",
        ),
        rx.segmented_control.root(
            rx.segmented_control.item("24 h", value="24h"),
            rx.segmented_control.item("7 d", value="7d"),
            rx.segmented_control.item("30 d", value="30d"),
            value=DashboardState.range_key,
            on_change=DashboardState.set_range,
            id="dashboard-range",
        ),
        align="center",
        spacing="3",
        wrap="wrap",
        width="100%",
        margin_bottom="16px",
    )


def _stat(label: str, key: str) -> rx.Component:
    return rx.card(
        rx.text(label, size="1", color_scheme="gray"),
        rx.text(DashboardState.stats[key], size="5", weight="bold", id=f"stat-{key}"),
        min_width="120px",
        flex="1",
    )


def _stats() -> rx.Component:
    return rx.flex(
        _stat("Runs", "runs"),
        _stat("Success rate", "success"),
        _stat("Latency p50", "p50"),
        _stat("p95", "p95"),
        _stat("p99", "p99"),
        _stat("Tokens", "tokens"),
        _stat("Cost", "cost"),
        spacing="3",
        wrap="wrap",
        width="100%",
    )


def _chart() -> rx.Component:
    return rx.card(
        rx.text("Runs over time", size="2", weight="medium"),
        rx.box(
            rx.recharts.bar_chart(
                rx.recharts.cartesian_grid(stroke_dasharray="3 3", vertical=False),
                rx.recharts.x_axis(data_key="label", font_size=11),
                rx.recharts.y_axis(allow_decimals=False, font_size=11, width=40),
                rx.recharts.graphing_tooltip(),
                rx.recharts.legend(),
                *[
                    rx.recharts.bar(
                        data_key=status,
                        name=BAR_COLORS[status][1],
                        stack_id="runs",
                        fill=rx.color(BAR_COLORS[status][0], 9),
                        is_animation_active=False,
                    )
                    for status in STATUSES
                ],
                data=DashboardState.chart,
                height=280,
                width="100%",
            ),
            width="100%",
            height="280px",
        ),
        width="100%",
        id="runs-chart",
    )


def _table(title: str, headers: list[str], rows: rx.Var, cells, table_id: str) -> rx.Component:
    return rx.card(
        rx.text(title, size="2", weight="medium"),
        rx.cond(
            rows.length() == 0,
            rx.text("Nothing in this range.", size="2", color_scheme="gray"),
            rx.box(
                rx.table.root(
                    rx.table.header(
                        rx.table.row(*[rx.table.column_header_cell(h) for h in headers])
                    ),
                    rx.table.body(rx.foreach(rows, lambda r: rx.table.row(*cells(r)))),
                    size="1",
                    width="100%",
                    id=table_id,
                ),
                overflow_x="auto",
            ),
        ),
        width="100%",
    )


def _usage_cells(r: rx.Var) -> list[rx.Component]:
    return [
        rx.table.cell(rx.code(r["name"])),
        rx.table.cell(r["calls"]),
        rx.table.cell(r["tokens"]),
        rx.table.cell(r["cost"]),
    ]


def _agent_cells(r: rx.Var) -> list[rx.Component]:
    return [
        rx.table.cell(
            rx.cond(
                r["id"] != "",
                rx.link(r["name"], href="/dashboard?agent=" + r["id"]),
                rx.text(r["name"], color_scheme="gray"),
            )
        ),
        rx.table.cell(r["runs"]),
        rx.table.cell(r["cost"]),
    ]


def _failure(f: rx.Var) -> rx.Component:
    return rx.link(
        rx.card(
            rx.flex(
                status_badge(f["status"]),
                rx.text(f["agent"], size="2", weight="medium"),
                rx.spacer(),
                rx.text(f["when"], size="1", color_scheme="gray"),
                spacing="2",
                align="center",
                wrap="wrap",
            ),
            rx.text(f["error"], size="1", color_scheme="red", word_break="break-word"),
            width="100%",
        ),
        href="/run?id=" + f["id"],
        underline="none",
        width="100%",
        class_name="dashboard-failure",
    )


def _figures() -> rx.Component:
    usage = ["Model", "Calls", "Tokens", "Cost"]
    return rx.vstack(
        _stats(),
        _chart(),
        rx.grid(
            _table("Cost by model", usage, DashboardState.by_model, _usage_cells, "cost-by-model"),
            _table(
                "Cost by provider",
                ["Provider", "Calls", "Tokens", "Cost"],
                DashboardState.by_provider,
                _usage_cells,
                "cost-by-provider",
            ),
            rx.cond(
                DashboardState.agent_id == "",
                _table(
                    "Top agents by runs",
                    ["Agent", "Runs", "Cost"],
                    DashboardState.top_runs,
                    _agent_cells,
                    "top-by-runs",
                ),
            ),
            rx.cond(
                DashboardState.agent_id == "",
                _table(
                    "Top agents by cost",
                    ["Agent", "Runs", "Cost"],
                    DashboardState.top_cost,
                    _agent_cells,
                    "top-by-cost",
                ),
            ),
            columns=rx.breakpoints(initial="1", md="2"),
            spacing="3",
            width="100%",
        ),
        rx.heading("Recent failures", size="3", margin_top="8px"),
        rx.cond(
            DashboardState.failures.length() == 0,
            rx.text("No failed runs in this range.", size="2", color_scheme="gray"),
            rx.vstack(rx.foreach(DashboardState.failures, _failure), spacing="2", width="100%"),
        ),
        spacing="4",
        width="100%",
    )


def dashboard_page() -> rx.Component:
    return shell(
        rx.box(
            _header(),
            error_callout(DashboardState.error, id_="dashboard-error"),
            rx.cond(
                ~DashboardState.loaded,
                rx.center(rx.spinner(size="3"), padding="48px", id="dashboard-loading"),
                rx.cond(
                    DashboardState.total_runs == 0,
                    rx.cond(
                        DashboardState.error != "",
                        rx.fragment(),
                        empty_state(
                            "activity",
                            "No runs in this range",
                            "Runs, success rate, latency and cost appear here once agents run "
                            "from the playground, a schedule or the API.",
                        ),
                    ),
                    _figures(),
                ),
            ),
            on_unmount=DashboardState.leave,
            width="100%",
        ),
        title="Dashboard",
    )
