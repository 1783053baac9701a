"""Billing page: the plan (upgrade, Stripe's portal) and selling (onboarding, earnings)."""

from __future__ import annotations

import reflex as rx

from pages.components import error_callout, shell
from state.billing import BillingState


def _plan_button(p: rx.Var) -> rx.Component:
    return rx.cond(
        p["current"] == "yes",
        rx.badge("Current: ", p["tier"], size="2", color_scheme="green"),
        rx.cond(
            p["purchasable"] == "yes",
            rx.button(
                "Choose ",
                p["tier"],
                on_click=BillingState.choose_plan(p["tier"]),
                variant="soft",
                id=f"plan-{p['tier']}",
            ),
        ),
    )


def _plan() -> rx.Component:
    return rx.vstack(
        rx.heading("Plan", size="4"),
        rx.hstack(
            rx.badge(BillingState.tier, size="3", id="billing-tier"),
            rx.cond(BillingState.status != "", rx.text(BillingState.status, size="2")),
            rx.cond(
                BillingState.enforced,
                rx.text("The plan's limits apply.", size="2", color_scheme="gray"),
                rx.text("No plan limits on this instance.", size="2", color_scheme="gray"),
            ),
            spacing="3",
            align="center",
            wrap="wrap",
        ),
        rx.cond(
            BillingState.configured,
            rx.cond(
                BillingState.is_admin,
                rx.hstack(
                    rx.foreach(BillingState.plans, _plan_button),
                    rx.cond(
                        BillingState.has_customer,
                        rx.button(
                            "Manage billing",
                            on_click=BillingState.open_portal,
                            id="billing-portal",
                        ),
                    ),
                    wrap="wrap",
                    spacing="2",
                ),
                rx.text("Owners and admins change the plan.", size="2", color_scheme="gray"),
            ),
            rx.text(
                "Payments are off on this instance: everything is free.",
                size="2",
                id="billing-off",
            ),
        ),
        spacing="3",
        width="100%",
    )


def _figure(label: str, key: str) -> rx.Component:
    return rx.card(
        rx.text(label, size="2", color_scheme="gray"),
        rx.text(BillingState.figures[key], size="5", weight="bold", id=f"earnings-{key}"),
    )


def _table(headers: list[str], rows: rx.Var, cells: list[str], id_: str) -> rx.Component:
    return rx.table.root(
        rx.table.header(rx.table.row(*[rx.table.column_header_cell(h) for h in headers])),
        rx.table.body(
            rx.foreach(rows, lambda r: rx.table.row(*[rx.table.cell(r[c]) for c in cells]))
        ),
        width="100%",
        id=id_,
    )


def _selling() -> rx.Component:
    return rx.vstack(
        rx.heading("Selling", size="4"),
        rx.text(BillingState.seller_message, size="2", id="seller-message"),
        rx.cond(
            BillingState.configured & BillingState.is_admin,
            rx.hstack(
                rx.cond(
                    ~BillingState.seller_charges,
                    rx.button(
                        rx.cond(
                            BillingState.seller_connected,
                            "Continue onboarding",
                            "Set up payouts with Stripe",
                        ),
                        on_click=BillingState.onboard,
                        id="seller-onboard",
                    ),
                ),
                rx.cond(
                    BillingState.seller_connected,
                    rx.button(
                        "Check again",
                        variant="soft",
                        on_click=BillingState.check_seller,
                        id="seller-check",
                    ),
                ),
                spacing="2",
            ),
        ),
        rx.grid(
            _figure("Sales", "gross"),
            _figure("Platform fees", "fees"),
            _figure("Refunded", "refunded"),
            _figure("Earned", "net"),
            _figure("Paid out", "paid_out"),
            _figure("Service runs earned", "service_net"),
            columns=rx.breakpoints(initial="2", md="6"),
            spacing="3",
            width="100%",
        ),
        rx.cond(
            BillingState.sales.length() > 0,
            _table(
                ["Listing", "Price", "Fee", "Earned", "State", "Paid"],
                BillingState.sales,
                ["title", "amount", "fee", "net", "state", "at"],
                "earnings-sales",
            ),
            rx.text("No sales yet.", size="2", color_scheme="gray"),
        ),
        rx.cond(
            BillingState.service_months.length() > 0,
            _table(
                ["Service runs", "Runs", "Billed", "Fee", "Earned", "Transferred"],
                BillingState.service_months,
                ["month", "runs", "gross", "fee", "net", "paid"],
                "earnings-service-runs",
            ),
        ),
        rx.cond(
            BillingState.payouts.length() > 0,
            _table(
                ["Payout", "Amount", "Status", "Arrives"],
                BillingState.payouts,
                ["id", "amount", "status", "arrives"],
                "earnings-payouts",
            ),
        ),
        spacing="3",
        width="100%",
    )


def billing_page() -> rx.Component:
    return shell(
        rx.cond(
            BillingState.loading,
            rx.center(rx.spinner(size="3"), padding="48px", id="billing-loading"),
            rx.vstack(
                error_callout(BillingState.error, id_="billing-error"),
                rx.cond(
                    BillingState.notice != "",
                    rx.callout(BillingState.notice, icon="info", id="billing-notice"),
                ),
                _plan(),
                _selling(),
                spacing="5",
                width="100%",
                id="billing-loaded",
            ),
        ),
        title="Billing",
    )
