"""Usage page: this month's usage against the plan's limits, and the monthly spend cap."""

from __future__ import annotations

import reflex as rx

from pages.components import empty_state, error_callout, shell
from state.usage import UsageState


def _meter(m: rx.Var) -> rx.Component:
    return rx.card(
        rx.vstack(
            rx.text(m["label"], size="2", color_scheme="gray"),
            rx.hstack(
                rx.text(m["used"], size="5", weight="bold", class_name="meter-used"),
                rx.text("of ", m["limit"], size="2", color_scheme="gray"),
                align="baseline",
                spacing="2",
                wrap="wrap",
            ),
            rx.cond(
                m["percent"] != "",
                rx.progress(value=m["percent"].to(int), max=100, width="100%"),
            ),
            spacing="2",
            width="100%",
        ),
        id=f"meter-{m['key']}",
    )


def _figure(label: str, value: rx.Var, id_: str) -> rx.Component:
    return rx.card(
        rx.text(label, size="2", color_scheme="gray"),
        rx.text(value, size="5", weight="bold", id=id_),
    )


def _spend_cap() -> rx.Component:
    return rx.vstack(
        rx.heading("Monthly spend cap", size="4"),
        rx.cond(
            UsageState.spend_cap != "",
            rx.vstack(
                rx.text(
                    UsageState.cost,
                    " of ",
                    UsageState.spend_cap,
                    " this month",
                    size="2",
                    id="spend-cap-used",
                ),
                rx.progress(value=UsageState.spend_percent, max=100, width="100%"),
                width="100%",
                max_width="420px",
            ),
            rx.text("No cap: runs are never refused for spend.", size="2", color_scheme="gray"),
        ),
        rx.text(
            "New runs are refused once this month's spend reaches the cap; alerts go out at "
            "80 % and 100 % (here, on the Tests page's alerts, and to the webhook if set).",
            size="1",
            color_scheme="gray",
        ),
        rx.cond(
            UsageState.is_admin,
            rx.form(
                rx.vstack(
                    rx.text(
                        "Cap in USD a month (empty: no cap)",
                        as_="label",
                        size="2",
                        html_for="monthly_spend_cap",
                    ),
                    rx.input(
                        name="monthly_spend_cap",
                        id="monthly_spend_cap",
                        default_value=UsageState.cap_input,
                        placeholder="e.g. 50",
                        input_mode="decimal",
                        width="100%",
                        key=UsageState.cap_input,
                    ),
                    rx.text(
                        "Alert webhook URL (optional)",
                        as_="label",
                        size="2",
                        html_for="alert_webhook_url",
                    ),
                    rx.input(
                        name="alert_webhook_url",
                        id="alert_webhook_url",
                        default_value=UsageState.webhook_input,
                        placeholder="https://hooks.example.com/…",
                        width="100%",
                        key=UsageState.webhook_input,
                    ),
                    rx.cond(
                        UsageState.cap_error != "",
                        rx.text(
                            UsageState.cap_error, color_scheme="red", size="1", id="spend-cap-error"
                        ),
                    ),
                    rx.button(
                        "Save", type="submit", loading=UsageState.saving, id="save-spend-cap"
                    ),
                    spacing="2",
                    width="100%",
                    max_width="420px",
                ),
                on_submit=UsageState.save_cap,
                width="100%",
            ),
            rx.text("Only owners and admins change the cap.", size="1", color_scheme="gray"),
        ),
        spacing="3",
        width="100%",
    )


def _loaded() -> rx.Component:
    return rx.vstack(
        rx.hstack(
            rx.badge(UsageState.plan, size="3", id="usage-plan"),
            rx.text(UsageState.month, " (UTC)", size="2", color_scheme="gray"),
            rx.cond(
                UsageState.upgrade != "",
                rx.text(UsageState.upgrade, size="2", id="usage-upgrade"),
            ),
            spacing="3",
            align="center",
            wrap="wrap",
        ),
        rx.cond(
            UsageState.nothing_yet,
            empty_state(
                "gauge",
                "Nothing used yet this month",
                "Runs, tokens and cost appear here as your agents run.",
            ),
        ),
        rx.grid(
            rx.foreach(UsageState.meters, _meter),
            columns=rx.breakpoints(initial="1", sm="2", md="4"),
            spacing="3",
            width="100%",
        ),
        rx.grid(
            _figure("Tokens", UsageState.tokens, "usage-tokens"),
            _figure("Cost", UsageState.cost, "usage-cost"),
            _figure(
                "Test runs (in cost, not in the run limit)", UsageState.test_runs, "usage-test-runs"
            ),
            columns=rx.breakpoints(initial="1", sm="3"),
            spacing="3",
            width="100%",
        ),
        _spend_cap(),
        rx.cond(
            UsageState.alerts.length() > 0,
            rx.vstack(
                rx.heading("Spend alerts", size="4"),
                rx.foreach(
                    UsageState.alerts,
                    lambda a: rx.callout(
                        rx.text(
                            a["message"], " ", rx.text(a["at"], as_="span", color_scheme="gray")
                        ),
                        icon="bell",
                        color_scheme="amber",
                        size="1",
                        width="100%",
                    ),
                ),
                width="100%",
                id="spend-alerts",
            ),
        ),
        spacing="5",
        width="100%",
        id="usage-loaded",
    )


def usage_page() -> rx.Component:
    return shell(
        rx.cond(
            UsageState.loading,
            rx.center(rx.spinner(size="3"), padding="48px", id="usage-loading"),
            rx.cond(
                UsageState.error != "",
                error_callout(UsageState.error, id_="usage-error"),
                _loaded(),
            ),
        ),
        title="Usage",
    )
