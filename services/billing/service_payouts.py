"""Sellers are paid for the runs of their service listings: once a month, by a Stripe transfer.

A succeeded run of a priced service listing is billed to its buyer at the price it started
with (services/billing/usage.py). Its seller earns that price minus the platform's fee
(MARKETPLACE_FEE_PERCENT of the month's total, rounded half up like a sale's fee). After a
month ends (UTC), the periodic job transfers each seller's month to its connected account
(`transfers.create`, idempotency key `service-payout-<seller org>-<YYYY-MM>`) and records it as
one `service_payouts` row per seller and month: the row is what makes a second run pay nothing.
A seller whose account cannot receive payouts yet is skipped and paid on a later run.

Each (seller, month) is paid in its own transaction (the job wrapper commits each), so one
seller's failure never rolls back another's recorded transfer.
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlmodel import Session, col, select

from agent_platform.models import (
    Execution,
    ExecutionStatus,
    MarketplaceListing,
    SellerAccount,
    ServicePayout,
)
from agent_platform.models.base import utcnow
from services.access import Actor
from services.billing import stripe_api
from services.billing.purchases import fee_cents
from services.errors import NotFound

log = logging.getLogger(__name__)
CURRENCY = "usd"  # the metered price's currency (one unit is $0.01)


@dataclass(frozen=True)
class ServiceMonth:
    """One month of a seller's service-run earnings."""

    month: str  # "YYYY-MM", UTC
    runs: int
    gross_cents: int
    fee_cents: int
    net_cents: int
    paid_cents: int  # transferred to the seller (0 until the month is paid)


def month_of(at: datetime) -> str:
    return at.astimezone(UTC).strftime("%Y-%m")


def _billed_runs(
    session: Session, *, seller_org_id: uuid.UUID | None, before: datetime | None
) -> dict[tuple[uuid.UUID, str], tuple[int, int]]:
    """(seller org, month) → (runs, gross cents) of the succeeded, priced service runs."""
    query = (
        select(
            MarketplaceListing.publisher_org_id,
            Execution.finished_at,
            Execution.service_price_cents,
            MarketplaceListing.price_cents,
        )
        .join(MarketplaceListing, col(MarketplaceListing.id) == Execution.service_listing_id)
        .where(
            col(Execution.service_listing_id).is_not(None),
            Execution.status == ExecutionStatus.SUCCEEDED,
            col(Execution.finished_at).is_not(None),
        )
    )
    if seller_org_id is not None:
        query = query.where(MarketplaceListing.publisher_org_id == seller_org_id)
    if before is not None:
        query = query.where(col(Execution.finished_at) < before)
    totals: dict[tuple[uuid.UUID, str], tuple[int, int]] = {}
    for seller, finished_at, run_price, listing_price in session.exec(query).all():
        price = run_price if run_price is not None else listing_price
        if price <= 0 or finished_at is None:
            continue
        key = (seller, month_of(finished_at))
        runs, gross = totals.get(key, (0, 0))
        totals[key] = (runs + 1, gross + price)
    return totals


def seller_months(session: Session, org_id: uuid.UUID) -> list[ServiceMonth]:
    """The seller's own service-run earnings by month, newest first (its org id only)."""
    paid = {
        p.month: p.amount_cents
        for p in session.exec(select(ServicePayout).where(ServicePayout.org_id == org_id)).all()
    }
    months: list[ServiceMonth] = []
    for (_, month), (runs, gross) in _billed_runs(
        session, seller_org_id=org_id, before=None
    ).items():
        fee = fee_cents(gross)
        months.append(ServiceMonth(month, runs, gross, fee, gross - fee, paid.get(month, 0)))
    return sorted(months, key=lambda m: m.month, reverse=True)


def get_payout(session: Session, actor: Actor, payout_id: uuid.UUID) -> ServicePayout:
    """One of the actor's organization's service payouts; another organization's is not found."""
    row = session.get(ServicePayout, payout_id)
    if row is None or row.org_id != actor.org_id:
        raise NotFound("Payout not found.")
    return row


def _month_start(now: datetime) -> datetime:
    at = now.astimezone(UTC)
    return datetime(at.year, at.month, 1, tzinfo=UTC)


def due_payouts(session: Session, *, now: datetime | None = None) -> list[tuple[uuid.UUID, str]]:
    """(seller org, month) of every ended month with billed runs and no payout yet."""
    if not stripe_api.stripe_configured():
        return []
    totals = _billed_runs(session, seller_org_id=None, before=_month_start(now or utcnow()))
    done = {
        (org_id, month)
        for org_id, month in session.exec(select(ServicePayout.org_id, ServicePayout.month)).all()
    }
    return sorted(key for key in totals if key not in done)


def pay_month(session: Session, org_id: uuid.UUID, month: str) -> ServicePayout | None:
    """Transfer one seller's month to its connected account and record it; None when there is
    nothing to pay, it was paid, or the seller's account cannot receive payouts yet."""
    if not stripe_api.stripe_configured():
        return None
    existing = session.exec(
        select(ServicePayout).where(ServicePayout.org_id == org_id, ServicePayout.month == month)
    ).first()
    if existing is not None:
        return None
    account = session.get(SellerAccount, org_id)
    if account is None or not account.payouts_enabled:
        log.info(
            "service payout %s %s waits: the seller's account cannot receive payouts", org_id, month
        )
        return None
    runs, gross = _billed_runs(session, seller_org_id=org_id, before=None).get(
        (org_id, month), (0, 0)
    )
    fee = fee_cents(gross)
    amount = gross - fee
    if amount <= 0:
        return None
    params: Any = {
        "amount": amount,
        "currency": CURRENCY,
        "destination": account.stripe_account_id,
        "description": f"Service runs {month}",
        "metadata": {"org_id": str(org_id), "month": month, "runs": str(runs)},
    }
    key = f"service-payout-{org_id}-{month}"
    transfer = stripe_api.call(
        "pay a seller for its service runs",
        lambda c: c.v1.transfers.create(params, stripe_api.options(key)),
    )
    row = ServicePayout(
        org_id=org_id,
        month=month,
        runs=runs,
        gross_cents=gross,
        fee_cents=fee,
        amount_cents=amount,
        currency=CURRENCY,
        stripe_transfer_id=str(transfer.id),
    )
    session.add(row)
    session.flush()
    return row
