"""The editor's version sections: the history list (with restore) and the comparison of two
versions. Layout only; the diff itself is `services.agent_versions.diff_versions`."""

from __future__ import annotations

import reflex as rx

from state.agent_editor import AgentEditorState


def version_row(v: rx.Var) -> rx.Component:
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
                on_click=AgentEditorState.restore(v["version"]),
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


def _version_pickers() -> rx.Component:
    """Which two versions to compare, and whether to show only what changed."""
    return rx.flex(
        rx.select(
            AgentEditorState.version_numbers,
            value=AgentEditorState.diff_a,
            on_change=AgentEditorState.set_diff_a,
            aria_label="Older version",
            id="diff-a",
        ),
        rx.icon("arrow-right", size=16),
        rx.select(
            AgentEditorState.version_numbers,
            value=AgentEditorState.diff_b,
            on_change=AgentEditorState.set_diff_b,
            aria_label="Newer version",
            id="diff-b",
        ),
        rx.button(
            rx.icon("git-compare", size=14),
            "Compare",
            variant="soft",
            on_click=AgentEditorState.compare,
            id="compare-versions",
        ),
        rx.checkbox(
            "Only changes",
            checked=AgentEditorState.diff_changes_only,
            on_change=AgentEditorState.set_diff_changes_only,
            id="diff-only-changes",
        ),
        spacing="3",
        align="center",
        wrap="wrap",
    )


def _diff_table() -> rx.Component:
    """Field by field, the older version beside the newer one."""
    return rx.box(
        rx.table.root(
            rx.table.header(
                rx.table.row(
                    rx.table.column_header_cell("Field"),
                    rx.table.column_header_cell("Version ", AgentEditorState.diff_old),
                    rx.table.column_header_cell("Version ", AgentEditorState.diff_new),
                )
            ),
            rx.table.body(
                rx.foreach(AgentEditorState.diff_rows, _diff_row),
                rx.cond(
                    AgentEditorState.diff_rows.length() == 0,
                    rx.table.row(rx.table.cell("The two versions are the same.", col_span=3)),
                ),
            ),
            size="1",
            variant="surface",
            width="100%",
        ),
        overflow_x="auto",
        width="100%",
        id="diff-table",
    )


def compare_versions() -> rx.Component:
    return rx.cond(
        AgentEditorState.version_numbers.length() > 1,
        rx.vstack(
            rx.heading("Compare versions", size="3"),
            _version_pickers(),
            rx.cond(AgentEditorState.diff_old != "", _diff_table()),
            spacing="3",
            width="100%",
            id="compare",
        ),
    )
