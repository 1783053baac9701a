"""A seller's earnings: sales of its listings, runs of its service listings, the platform's
fees, and Stripe's payouts.

Sales and fees are our own purchase rows (the seller's organization only: another
organization's sales do not exist for it). Payouts are what Stripe reports for the seller's
connected account through `payout.*` events; a payout's newest event wins, and a finished one
(paid, failed, canceled) is not reopened by a late `payout.created`. Service-run revenue, by
month, and its monthly transfers come from services/billing/service_payouts.py.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlmodel import Session, col, select

from agent_platform.models import (
    MarketplaceListing,
    Purchase,
    PurchaseStatus,
    SellerAccount,
    SellerPayout,
)
from services.access import Actor
from services.billing.service_payouts import ServiceMonth, seller_months

FINISHED = ("paid", "failed", "canceled")


@dataclass(frozen=True)
class Sale:
    purchase_id: uuid.UUID
    listing_id: uuid.UUID
    listing_title: str
    amount_cents: int
    fee_cents: int
    net_cents: int
    refunded: bool
    currency: str
    paid_at: datetime | None


@dataclass(frozen=True)
class Payout:
    id: str
    amount_cents: int
    currency: str
    status: str
    arrival_date: datetime | None


@dataclass(frozen=True)
class Earnings:
    gross_cents: int
    fees_cents: int
    refunded_cents: int
    net_cents: int
    paid_out_cents: int
    sales: list[Sale]
    payouts: list[Payout]
    # runs of the seller's service listings (billed to their buyers), and what was transferred
    service_runs: int
    service_gross_cents: int
    service_fees_cents: int
    service_net_cents: int
    service_paid_cents: int
    service_months: list[ServiceMonth]


def earnings(session: Session, actor: Actor, *, limit: int = 100) -> Earnings:
    rows = session.exec(
        select(Purchase, MarketplaceListing)
        .join(MarketplaceListing, col(MarketplaceListing.id) == Purchase.listing_id)
        .where(
            Purchase.seller_org_id == actor.org_id,
            col(Purchase.status).in_([PurchaseStatus.PAID, PurchaseStatus.REFUNDED]),
        )
        .order_by(col(Purchase.paid_at).desc())
    ).all()
    sales: list[Sale] = []
    gross = fees = refunded = 0
    for purchase, listing in rows:
        # a fully refunded sale returns the platform's fee too (refund_application_fee)
        fee = 0 if purchase.status == PurchaseStatus.REFUNDED else purchase.fee_cents
        gross += purchase.amount_cents
        fees += fee
        refunded += purchase.refunded_cents
        sales.append(
            Sale(
                purchase.id,
                listing.id,
                listing.title,
                purchase.amount_cents,
                fee,
                purchase.amount_cents - fee - purchase.refunded_cents,
                purchase.status == PurchaseStatus.REFUNDED,
                purchase.currency,
                purchase.paid_at,
            )
        )
    payouts = session.exec(
        select(SellerPayout)
        .where(SellerPayout.org_id == actor.org_id)
        .order_by(col(SellerPayout.created_at).desc())
        .limit(limit)
    ).all()
    months = seller_months(session, actor.org_id)
    return Earnings(
        gross_cents=gross,
        fees_cents=fees,
        refunded_cents=refunded,
        net_cents=gross - fees - refunded,
        paid_out_cents=sum(p.amount_cents for p in payouts if p.status == "paid"),
        sales=sales[:limit],
        payouts=[
            Payout(p.id, p.amount_cents, p.currency, p.status, p.arrival_date) for p in payouts
        ],
        service_runs=sum(m.runs for m in months),
        service_gross_cents=sum(m.gross_cents for m in months),
        service_fees_cents=sum(m.fee_cents for m in months),
        service_net_cents=sum(m.net_cents for m in months),
        service_paid_cents=sum(m.paid_cents for m in months),
        service_months=months[:limit],
    )


def apply_payout(
    session: Session, account_id: str | None, payout: Any, *, event_created: int
) -> bool:
    """Record a connected account's payout; False if the account is not one of our sellers
    or the event is older than what we have."""
    if not account_id:
        return False
    seller = session.exec(
        select(SellerAccount).where(col(SellerAccount.stripe_account_id) == account_id)
    ).first()
    if seller is None:
        return False
    row = session.get(SellerPayout, str(payout.get("id")))
    status = str(payout.get("status") or "")
    if row is not None:
        if event_created < row.state_at:
            return False
        if row.status in FINISHED and status not in FINISHED:
            return False
    else:
        row = SellerPayout(id=str(payout.get("id")), org_id=seller.org_id, amount_cents=0)
    arrival = payout.get("arrival_date")
    row.amount_cents = int(payout.get("amount") or 0)
    row.currency = str(payout.get("currency") or "usd")
    row.status = status
    row.arrival_date = datetime.fromtimestamp(int(arrival), UTC) if arrival else None
    row.state_at = event_created
    session.add(row)
    return True
