"""Billing page: the organization's plan (upgrade, Stripe's portal) and, for sellers, Stripe
Connect onboarding and earnings (sales, service runs, fees, payouts). Rules are in
services.billing."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import reflex as rx

from services.access import Permission
from services.billing import connect, earnings, plans
from services.errors import DomainError
from state.base import SessionState, format_utc


def _money(cents: int, currency: str = "usd") -> str:
    sign = "-" if cents < 0 else ""
    symbol = "$" if currency.lower() == "usd" else f"{currency.upper()} "
    return f"{sign}{symbol}{abs(cents) / 100:,.2f}"


class BillingState(SessionState):
    loading: bool = True
    error: str = ""
    configured: bool = False
    enforced: bool = False
    tier: str = ""
    status: str = ""
    has_customer: bool = False
    plans: list[dict[str, str]] = []  # tier, current ("yes"/""), purchasable ("yes"/"")
    seller_message: str = ""
    seller_connected: bool = False
    seller_charges: bool = False
    figures: dict[str, str] = {}
    sales: list[dict[str, str]] = []
    payouts: list[dict[str, str]] = []
    service_months: list[dict[str, str]] = []  # month, runs, gross, fee, net, paid
    notice: str = ""

    @rx.var
    def is_admin(self) -> bool:
        return Permission.ORG_MANAGE.value in self.permissions

    @rx.event
    def load(self) -> rx.event.EventSpec | None:
        if not self._load_identity():
            return rx.redirect("/login?next=/billing")
        back = self.router.url.query_parameters.get("onboarding", "")
        self.notice = "Welcome back from Stripe: your account's state is below." if back else ""
        self.loading, self.error = True, ""
        try:
            self._refresh(refresh_seller=bool(back))
        except DomainError as exc:
            self.error = exc.message
        finally:
            self.loading = False
        return None

    def _refresh(self, *, refresh_seller: bool = False) -> None:
        with self.acting() as (session, _user, actor):
            overview = plans.overview(session, actor)
            seller = (
                connect.refresh_seller(session, actor)
                if refresh_seller
                else connect.seller_state(session, actor)
            )
            found = earnings.earnings(session, actor)
        self.configured, self.enforced = overview.configured, overview.enforced
        self.tier, self.status = overview.tier, overview.status
        self.has_customer = overview.has_customer
        self.plans = [
            {
                "tier": p.tier,
                "current": "yes" if p.current else "",
                "purchasable": "yes" if p.purchasable else "",
            }
            for p in overview.plans
        ]
        self.seller_message = seller.message
        self.seller_connected = seller.account_id is not None
        self.seller_charges = seller.charges_enabled
        self.figures = {
            "gross": _money(found.gross_cents),
            "fees": _money(found.fees_cents),
            "refunded": _money(found.refunded_cents),
            "net": _money(found.net_cents),
            "paid_out": _money(found.paid_out_cents),
            "service_net": _money(found.service_net_cents),
            "service_paid": _money(found.service_paid_cents),
        }
        self.sales = [
            {
                "title": s.listing_title,
                "amount": _money(s.amount_cents, s.currency),
                "fee": _money(s.fee_cents, s.currency),
                "net": _money(s.net_cents, s.currency),
                "state": "refunded" if s.refunded else "paid",
                "at": format_utc(s.paid_at) if s.paid_at else "",
            }
            for s in found.sales
        ]
        self.payouts = [
            {
                "id": p.id,
                "amount": _money(p.amount_cents, p.currency),
                "status": p.status,
                "arrives": format_utc(p.arrival_date) if p.arrival_date else "",
            }
            for p in found.payouts
        ]
        self.service_months = [
            {
                "month": m.month,
                "runs": str(m.runs),
                "gross": _money(m.gross_cents),
                "fee": _money(m.fee_cents),
                "net": _money(m.net_cents),
                "paid": _money(m.paid_cents) if m.paid_cents else "not yet",
            }
            for m in found.service_months
        ]

    def _to_stripe(self, make_url: Callable[[Any, Any], str]) -> rx.event.EventSpec | None:
        """Run a service that answers a Stripe URL (committed first), then go there."""
        self.error = ""
        try:
            with self.acting() as (session, _user, actor):
                url = make_url(session, actor)
        except DomainError as exc:
            self.error = exc.message
            return None
        return rx.redirect(url, is_external=True)

    @rx.event
    def choose_plan(self, tier: str) -> rx.event.EventSpec | None:
        return self._to_stripe(lambda s, a: plans.start_plan_checkout(s, a, tier))

    @rx.event
    def open_portal(self) -> rx.event.EventSpec | None:
        return self._to_stripe(plans.portal_url)

    @rx.event
    def onboard(self) -> rx.event.EventSpec | None:
        return self._to_stripe(connect.start_onboarding)

    @rx.event
    def check_seller(self) -> None:
        try:
            self._refresh(refresh_seller=True)
        except DomainError as exc:
            self.error = exc.message
