"""The Tests page: suites, a suite's cases and runs, live progress, results, quality chart.
Layout only; every action is a TestsState event that calls one service."""

from __future__ import annotations

import reflex as rx

from pages.components import confirm_dialog, data_table, empty_state, error_callout, shell
from state.tests import ASSERTION_TYPES, TestsState

CAN_WRITE = TestsState.permissions.contains("agents.write")
KINDS = {
    "functional": "Functional",
    "safety": "Safety",
    "quality": "Quality",
    "regression": "Regression",
}


# --- the list ---------------------------------------------------------------------------


def _toolbar() -> rx.Component:
    return rx.flex(
        rx.select.root(
            rx.select.trigger(placeholder="All agents", id="tests-agent"),
            rx.select.content(
                rx.foreach(
                    TestsState.agent_options,
                    lambda a: rx.select.item(a["name"], value=a["id"]),
                )
            ),
            value=TestsState.agent_filter,
            on_change=TestsState.filter_agent,
        ),
        rx.input(
            placeholder="Search suites",
            value=TestsState.search,
            on_change=TestsState.set_search,
            debounce_timeout=300,
            id="tests-search",
            max_width="240px",
        ),
        rx.spacer(),
        rx.cond(
            CAN_WRITE,
            rx.flex(
                rx.button(
                    rx.icon("sparkles", size=16),
                    rx.cond(TestsState.generating, "Generating…", "Generate tests"),
                    on_click=TestsState.generate_tests,
                    loading=TestsState.generating,
                    variant="soft",
                    id="tests-generate",
                ),
                rx.button(
                    rx.icon("shield-check", size=16),
                    "Safety suite",
                    on_click=TestsState.safety_suite,
                    variant="soft",
                    id="tests-safety",
                ),
                rx.button(
                    "Import YAML",
                    on_click=TestsState.toggle_import,
                    variant="soft",
                    id="tests-import",
                ),
                rx.button(
                    rx.icon("plus", size=16),
                    "New suite",
                    on_click=TestsState.toggle_new_suite,
                    id="tests-new-suite",
                ),
                gap="2",
                wrap="wrap",
            ),
        ),
        gap="3",
        wrap="wrap",
        align="center",
        width="100%",
    )


def _suite_row(row: rx.Var) -> rx.Component:
    return rx.table.row(
        rx.table.cell(
            rx.link(
                row["name"],
                on_click=TestsState.open_suite(row["id"]),
                cursor="pointer",
                id="suite-" + row["name"].to(str),
            ),
        ),
        rx.table.cell(row["agent"]),
        rx.table.cell(rx.badge(row["kind"])),
        rx.table.cell(
            row["cases"],
            rx.cond(
                row["drafts"] != "",
                rx.badge(row["drafts"] + " drafts", color_scheme="amber", margin_left="6px"),
            ),
        ),
        rx.table.cell(row["last"]),
        rx.table.cell(row["score"]),
    )


def _suite_list() -> rx.Component:
    return rx.cond(
        TestsState.loading,
        rx.center(rx.spinner(size="3"), padding="48px"),
        rx.cond(
            TestsState.rows.length() > 0,
            rx.vstack(
                data_table(
                    ["Suite", "Agent", "Kind", "Cases", "Last run", "Score"],
                    TestsState.rows,
                    _suite_row,
                    id_="suites-table",
                ),
                rx.hstack(
                    rx.button(
                        "Previous",
                        on_click=TestsState.move(-1),
                        variant="soft",
                        disabled=TestsState.page == 0,
                    ),
                    rx.text("Page ", TestsState.page + 1, " of ", TestsState.pages, size="2"),
                    rx.button(
                        "Next",
                        on_click=TestsState.move(1),
                        variant="soft",
                        disabled=TestsState.page + 1 >= TestsState.pages,
                    ),
                    align="center",
                ),
                width="100%",
            ),
            empty_state(
                "flask-conical",
                "No test suites yet",
                "Choose an agent, then generate tests from what it does, add the built-in "
                "safety suite, import a promptfoo YAML file, or write a suite yourself.",
            ),
        ),
    )


def _footer(cancel: object, label: str, confirm: object, confirm_id: str) -> rx.Component:
    """Every dialog of the page ends the same way: Cancel, then its one action."""
    return rx.hstack(
        rx.button("Cancel", variant="soft", on_click=cancel),
        rx.button(label, on_click=confirm, id=confirm_id),
        justify="end",
        width="100%",
    )


# --- dialogs ------------------------------------------------------------------------------


def _new_suite_dialog() -> rx.Component:
    return rx.dialog.root(
        rx.dialog.content(
            rx.dialog.title("New test suite"),
            rx.vstack(
                error_callout(TestsState.error, id_="new-suite-error"),
                rx.text("Agent", size="2", weight="medium"),
                rx.select.root(
                    rx.select.trigger(width="100%", id="new-suite-agent"),
                    rx.select.content(
                        rx.foreach(
                            TestsState.agent_options,
                            lambda a: rx.select.item(a["name"], value=a["id"]),
                        )
                    ),
                    value=TestsState.new_suite["agent_id"],
                    on_change=lambda v: TestsState.set_new_suite("agent_id", v),
                ),
                rx.text("Name", size="2", weight="medium"),
                rx.input(
                    value=TestsState.new_suite["name"],
                    id="new-suite-name",
                    width="100%",
                    on_change=lambda v: TestsState.set_new_suite("name", v),
                ),
                rx.text("Kind", size="2", weight="medium"),
                rx.select.root(
                    rx.select.trigger(width="100%", id="new-suite-kind"),
                    rx.select.content(*[rx.select.item(v, value=k) for k, v in KINDS.items()]),
                    value=TestsState.new_suite["kind"],
                    on_change=lambda v: TestsState.set_new_suite("kind", v),
                ),
                _footer(
                    TestsState.toggle_new_suite,
                    "Create",
                    TestsState.create_suite,
                    "new-suite-create",
                ),
                spacing="2",
            ),
            max_width="480px",
        ),
        open=TestsState.new_suite_open,
        on_open_change=lambda _o: TestsState.toggle_new_suite(),
    )


def _import_dialog() -> rx.Component:
    return rx.dialog.root(
        rx.dialog.content(
            rx.dialog.title("Import a promptfoo-style suite"),
            rx.vstack(
                rx.text(
                    "Paste the YAML (description, defaultTest, tests with vars and assert). "
                    "It becomes a suite of the agent chosen above.",
                    size="2",
                ),
                error_callout(TestsState.error, id_="import-error"),
                rx.input(
                    placeholder="Suite name (default: the file's description)",
                    value=TestsState.import_name,
                    on_change=TestsState.set_import_name,
                    width="100%",
                    id="import-name",
                ),
                rx.text_area(
                    value=TestsState.import_text,
                    on_change=TestsState.set_import_text,
                    rows="14",
                    width="100%",
                    font_family="monospace",
                    id="import-yaml",
                ),
                _footer(
                    TestsState.toggle_import, "Import", TestsState.import_suite, "import-submit"
                ),
                spacing="2",
            ),
            max_width="640px",
        ),
        open=TestsState.import_open,
        on_open_change=lambda _o: TestsState.toggle_import(),
    )


def _assertion_row(row: rx.Var, index: rx.Var) -> rx.Component:
    return rx.flex(
        rx.select.root(
            rx.select.trigger(width="180px"),
            rx.select.content(*[rx.select.item(t, value=t) for t in ASSERTION_TYPES]),
            value=row["type"],
            on_change=lambda v: TestsState.set_assertion(index, "type", v),
        ),
        rx.input(
            placeholder="value (one per line for lists)",
            value=row["value"],
            on_change=lambda v: TestsState.set_assertion(index, "value", v),
            flex="1",
            min_width="160px",
        ),
        rx.input(
            placeholder="threshold",
            value=row["threshold"],
            width="100px",
            on_change=lambda v: TestsState.set_assertion(index, "threshold", v),
        ),
        rx.icon_button(
            rx.icon("x", size=14),
            variant="ghost",
            on_click=TestsState.remove_assertion(index),
            aria_label="Remove",
        ),
        gap="2",
        wrap="wrap",
        width="100%",
    )


def _case_dialog() -> rx.Component:
    return rx.dialog.root(
        rx.dialog.content(
            rx.dialog.title("New case"),
            rx.vstack(
                error_callout(TestsState.case_error, id_="case-error"),
                rx.input(
                    placeholder="Description",
                    value=TestsState.case_form["name"],
                    on_change=lambda v: TestsState.set_case_field("name", v),
                    width="100%",
                    id="case-name",
                ),
                rx.text_area(
                    placeholder="The message the agent gets",
                    value=TestsState.case_form["message"],
                    rows="3",
                    width="100%",
                    on_change=lambda v: TestsState.set_case_field("message", v),
                    id="case-message",
                ),
                rx.text_area(
                    placeholder="Reference answer (optional, shown beside the actual)",
                    value=TestsState.case_form["expected"],
                    rows="2",
                    width="100%",
                    on_change=lambda v: TestsState.set_case_field("expected", v),
                ),
                rx.input(
                    placeholder="Tags, comma separated",
                    value=TestsState.case_form["tags"],
                    on_change=lambda v: TestsState.set_case_field("tags", v),
                    width="100%",
                ),
                rx.text("Assertions", size="2", weight="bold"),
                rx.foreach(TestsState.case_assertions, _assertion_row),
                rx.button(
                    rx.icon("plus", size=14),
                    "Add assertion",
                    variant="ghost",
                    on_click=TestsState.add_assertion,
                ),
                _footer(TestsState.toggle_case, "Save case", TestsState.save_case, "case-save"),
                spacing="2",
            ),
            max_width="720px",
        ),
        open=TestsState.case_open,
        on_open_change=lambda _o: TestsState.toggle_case(),
    )


# --- one suite ------------------------------------------------------------------------------


def _case_row(row: rx.Var) -> rx.Component:
    return rx.table.row(
        rx.table.cell(
            rx.text(row["name"], weight="medium"),
            rx.text(row["tags"], size="1", color_scheme="gray"),
        ),
        rx.table.cell(row["message"]),
        rx.table.cell(rx.text(row["assertions"], size="1")),
        rx.table.cell(
            rx.cond(
                row["status"] == "draft",
                rx.cond(
                    CAN_WRITE,
                    rx.hstack(
                        rx.button(
                            "Accept",
                            size="1",
                            on_click=TestsState.decide_case(row["id"], True),
                            class_name="case-accept",
                        ),
                        rx.button(
                            "Reject",
                            size="1",
                            variant="soft",
                            color_scheme="gray",
                            on_click=TestsState.decide_case(row["id"], False),
                        ),
                    ),
                    rx.badge("draft", color_scheme="amber"),
                ),
                rx.badge(
                    row["status"],
                    color_scheme=rx.cond(row["status"] == "accepted", "green", "gray"),
                ),
            ),
        ),
        rx.table.cell(
            rx.cond(
                CAN_WRITE,
                rx.icon_button(
                    rx.icon("trash-2", size=14),
                    variant="ghost",
                    color_scheme="red",
                    aria_label="Delete case",
                    on_click=TestsState.delete_case(row["id"]),
                ),
            ),
        ),
    )


def _progress() -> rx.Component:
    return rx.cond(
        TestsState.run_id != "",
        rx.vstack(
            rx.hstack(
                rx.badge(
                    TestsState.run["status"],
                    id="suite-run-status",
                    color_scheme=rx.match(
                        TestsState.run["status"],
                        ("passed", "green"),
                        ("failed", "red"),
                        ("running", "blue"),
                        "gray",
                    ),
                ),
                rx.text(
                    TestsState.run["done"], " / ", TestsState.run["total"], " runs graded", size="2"
                ),
                rx.text(TestsState.run["summary"], size="2", color_scheme="gray"),
                rx.text(TestsState.run["cost"], size="2", color_scheme="gray"),
                rx.cond(
                    TestsState.run_open,
                    rx.button(
                        "Cancel",
                        size="1",
                        variant="soft",
                        color_scheme="red",
                        on_click=TestsState.cancel_run,
                        id="suite-run-cancel",
                    ),
                ),
                wrap="wrap",
                align="center",
            ),
            rx.progress(value=TestsState.progress, width="100%", id="suite-run-progress"),
            rx.cond(
                TestsState.run["error"] != "",
                rx.text(TestsState.run["error"], color_scheme="orange", size="2"),
            ),
            width="100%",
        ),
    )


def _result_row(row: rx.Var) -> rx.Component:
    return rx.table.row(
        rx.table.cell(row["case"]),
        rx.table.cell(
            rx.badge(
                row["verdict"],
                color_scheme=rx.match(row["verdict"], ("pass", "green"), ("fail", "red"), "gray"),
            ),
            rx.text(row["overruled"], size="1", color_scheme="gray"),
        ),
        rx.table.cell(row["score"]),
        rx.table.cell(rx.text(row["expected"], size="1")),
        rx.table.cell(rx.text(row["actual"], size="1", class_name="result-actual")),
        rx.table.cell(rx.text(row["reasons"], size="1")),
        rx.table.cell(
            rx.hstack(
                rx.cond(
                    row["run"] != "",
                    rx.link("Trace", href="/run?id=" + row["run"].to(str), size="1"),
                ),
                rx.cond(
                    CAN_WRITE & (row["verdict"] != "—"),
                    rx.button(
                        rx.cond(row["verdict"] == "pass", "Mark fail", "Mark pass"),
                        size="1",
                        variant="ghost",
                        on_click=TestsState.overrule(row["id"], row["verdict"] != "pass"),
                    ),
                ),
                wrap="wrap",
            ),
        ),
    )


def _chart() -> rx.Component:
    return rx.cond(
        TestsState.chart.length() > 1,
        rx.box(
            rx.recharts.line_chart(
                rx.recharts.line(data_key="score", is_animation_active=False),
                rx.recharts.x_axis(data_key="label"),
                rx.recharts.y_axis(domain=[0, 1]),
                rx.recharts.graphing_tooltip(),
                data=TestsState.chart,
                height=200,
            ),
            width="100%",
            id="suite-score-chart",
        ),
    )


def _setting(label: str, key: str, **props: object) -> rx.Component:
    return rx.vstack(
        rx.text(label, size="2", weight="medium"),
        rx.input(
            value=TestsState.settings[key],
            on_change=lambda v: TestsState.set_setting(key, v),
            width="100%",
            id=f"setting-{key}",
            **props,
        ),
        spacing="1",
        width="100%",
    )


def _flag(label: str, key: str) -> rx.Component:
    return rx.checkbox(
        label,
        checked=TestsState.settings[key] != "",
        on_change=lambda v: TestsState.set_setting(key, v),
        id=f"setting-{key}",
    )


def _settings_dialog() -> rx.Component:
    return rx.dialog.root(
        rx.dialog.content(
            rx.dialog.title("Suite settings"),
            rx.vstack(
                error_callout(TestsState.settings_error, id_="settings-error"),
                _setting("Name", "name"),
                rx.grid(
                    _setting("Repeats per case", "repeat", type="number"),
                    _setting("Passes needed", "pass_k", type="number"),
                    _setting("Share of cases that must pass (0–1)", "pass_threshold"),
                    _setting("Budget per run (USD, empty: none)", "budget_usd"),
                    columns=rx.breakpoints(initial="1", sm="2"),
                    spacing="3",
                    width="100%",
                ),
                _setting(
                    "Judge models (comma separated; empty: the agent's model)", "judge_models"
                ),
                _flag("Run on every new version of the agent", "run_on_new_version"),
                _flag("Require a passing run before publishing", "required_for_publish"),
                _setting("Alert when the score falls below (0–1)", "alert_below"),
                _setting("Alert webhook URL (optional)", "alert_webhook_url"),
                _footer(
                    TestsState.toggle_settings, "Save", TestsState.save_settings, "settings-save"
                ),
                spacing="3",
            ),
            max_width="560px",
        ),
        open=TestsState.settings_open,
        on_open_change=lambda _o: TestsState.toggle_settings(),
    )


def _schedule_box() -> rx.Component:
    return rx.cond(
        CAN_WRITE,
        rx.flex(
            rx.input(
                placeholder="Cron, e.g. 0 6 * * *",
                value=TestsState.schedule_cron,
                on_change=TestsState.set_schedule_cron,
                id="suite-schedule-cron",
                max_width="200px",
            ),
            rx.button(
                "Schedule", variant="soft", on_click=TestsState.schedule_suite, id="suite-schedule"
            ),
            gap="2",
            align="center",
        ),
    )


def _suite_detail() -> rx.Component:
    return rx.vstack(
        rx.hstack(
            rx.button(
                rx.icon("arrow-left", size=16),
                "All suites",
                variant="ghost",
                on_click=TestsState.close_suite,
            ),
            rx.heading(TestsState.suite["name"], size="5", id="suite-name"),
            rx.badge(TestsState.suite["kind"]),
            align="center",
            wrap="wrap",
        ),
        rx.text(
            "Repeats ",
            TestsState.suite["repeat"],
            " (pass at ",
            TestsState.suite["pass_k"],
            ") · judged by ",
            TestsState.suite["judges"],
            " · budget ",
            TestsState.suite["budget"],
            size="2",
            color_scheme="gray",
        ),
        error_callout(TestsState.suite_error, id_="suite-error"),
        rx.flex(
            rx.cond(
                CAN_WRITE,
                rx.button(
                    rx.icon("play", size=16),
                    "Run suite",
                    on_click=TestsState.run_suite,
                    id="suite-run",
                    disabled=TestsState.run_open,
                ),
            ),
            rx.cond(
                CAN_WRITE,
                rx.button(
                    rx.icon("plus", size=16),
                    "Add case",
                    variant="soft",
                    on_click=TestsState.toggle_case,
                    id="case-add",
                ),
            ),
            rx.button(
                "Export YAML", variant="soft", on_click=TestsState.export_suite, id="suite-export"
            ),
            rx.cond(
                CAN_WRITE,
                rx.button(
                    "Settings",
                    variant="soft",
                    on_click=TestsState.toggle_settings,
                    id="suite-settings",
                ),
            ),
            _schedule_box(),
            rx.cond(
                CAN_WRITE,
                confirm_dialog(
                    rx.button("Delete suite", variant="soft", color_scheme="red"),
                    "Delete this suite?",
                    "Its cases and run history go with it.",
                    TestsState.delete_suite,
                    confirm_id="suite-delete-confirm",
                ),
            ),
            gap="2",
            wrap="wrap",
        ),
        _progress(),
        rx.cond(
            TestsState.results.length() > 0,
            data_table(
                ["Case", "Verdict", "Score", "Expected", "Actual", "Why", ""],
                TestsState.results,
                _result_row,
                id_="results-table",
                size="1",
            ),
        ),
        _chart(),
        rx.heading("Cases", size="4"),
        rx.cond(
            TestsState.cases.length() > 0,
            data_table(
                ["Case", "Message", "Assertions", "Status", ""],
                TestsState.cases,
                _case_row,
                id_="cases-table",
                size="1",
            ),
            rx.text("No cases yet: add one, or generate them from the agent.", color_scheme="gray"),
        ),
        rx.cond(
            TestsState.runs.length() > 0,
            rx.vstack(
                rx.heading("Recent runs", size="4"),
                data_table(
                    ["When", "Status", "Score", "Cases", "Trigger"],
                    TestsState.runs,
                    lambda r: rx.table.row(
                        rx.table.cell(
                            rx.link(
                                r["when"], on_click=TestsState.open_run(r["id"]), cursor="pointer"
                            )
                        ),
                        rx.table.cell(r["status"]),
                        rx.table.cell(r["score"]),
                        rx.table.cell(r["cases"]),
                        rx.table.cell(r["trigger"]),
                    ),
                    id_="suite-runs-table",
                    size="1",
                ),
                width="100%",
            ),
        ),
        width="100%",
        spacing="3",
    )


def _alerts() -> rx.Component:
    return rx.cond(
        TestsState.alerts.length() > 0,
        rx.vstack(
            rx.heading("Quality alerts", size="4"),
            rx.foreach(
                TestsState.alerts,
                lambda a: rx.callout(
                    rx.text(
                        a["message"],
                        " · ",
                        a["when"],
                        " ",
                        rx.text(a["delivery"], as_="span", color_scheme="gray"),
                    ),
                    icon="triangle-alert",
                    color_scheme="amber",
                    size="1",
                    width="100%",
                ),
            ),
            width="100%",
            id="quality-alerts",
        ),
    )


def _rule_row(row: rx.Var) -> rx.Component:
    return rx.table.row(
        rx.table.cell(row["name"]),
        rx.table.cell(row["share"]),
        rx.table.cell(rx.text(row["assertions"], size="1")),
        rx.table.cell(row["alert"]),
        rx.table.cell(
            rx.cond(
                CAN_WRITE,
                rx.icon_button(
                    rx.icon("trash-2", size=14),
                    variant="ghost",
                    color_scheme="red",
                    aria_label="Delete rule",
                    on_click=TestsState.delete_rule(row["id"]),
                ),
            ),
        ),
    )


def _online_rules() -> rx.Component:
    """Online evaluation of the chosen agent's production runs."""
    field = TestsState.rule_form
    return rx.cond(
        TestsState.agent_filter != "",
        rx.vstack(
            rx.heading("Online evaluation", size="4"),
            rx.text(
                "Score a share of this agent's production runs with checks that need no "
                "reference answer; a low score raises an alert.",
                size="2",
                color_scheme="gray",
            ),
            rx.cond(
                TestsState.rules.length() > 0,
                data_table(
                    ["Rule", "Share", "Checks", "Alert", ""],
                    TestsState.rules,
                    _rule_row,
                    id_="rules-table",
                    size="1",
                ),
            ),
            rx.cond(
                CAN_WRITE,
                rx.flex(
                    rx.input(
                        placeholder="Rule name",
                        value=field["name"],
                        id="rule-name",
                        on_change=lambda v: TestsState.set_rule_field("name", v),
                    ),
                    rx.input(
                        placeholder="Share 0–1",
                        value=field["sample_rate"],
                        width="90px",
                        on_change=lambda v: TestsState.set_rule_field("sample_rate", v),
                    ),
                    rx.select.root(
                        rx.select.trigger(width="160px"),
                        rx.select.content(*[rx.select.item(t, value=t) for t in ASSERTION_TYPES]),
                        value=field["type"],
                        on_change=lambda v: TestsState.set_rule_field("type", v),
                    ),
                    rx.input(
                        placeholder="value",
                        value=field["value"],
                        on_change=lambda v: TestsState.set_rule_field("value", v),
                    ),
                    rx.input(
                        placeholder="Alert below",
                        value=field["alert_below"],
                        width="110px",
                        on_change=lambda v: TestsState.set_rule_field("alert_below", v),
                    ),
                    rx.input(
                        placeholder="Alert webhook URL (optional)",
                        value=field["webhook"],
                        on_change=lambda v: TestsState.set_rule_field("webhook", v),
                    ),
                    rx.button("Add rule", on_click=TestsState.add_rule, id="rule-add"),
                    gap="2",
                    wrap="wrap",
                    width="100%",
                ),
            ),
            error_callout(TestsState.rule_error, id_="rule-error"),
            width="100%",
        ),
    )


def tests_page() -> rx.Component:
    return shell(
        _toolbar(),
        rx.cond(
            TestsState.generate_note != "",
            rx.callout(TestsState.generate_note, icon="info", id="generate-note", width="100%"),
        ),
        rx.cond(
            TestsState.suite_id == "",
            rx.vstack(
                error_callout(TestsState.error, id_="tests-error"),
                _alerts(),
                _suite_list(),
                _online_rules(),
                width="100%",
                spacing="4",
            ),
            _suite_detail(),
        ),
        _new_suite_dialog(),
        _import_dialog(),
        _case_dialog(),
        _settings_dialog(),
        title="Tests",
    )
