"""Money over REST: Stripe's webhook, the org's plan, selling (Connect) and buying.

HTTP only: every rule lives in `services.billing`; errors become statuses in `api/errors.py`.

    POST /api/v1/stripe/webhook                   Stripe's events (signed; no API key)
    GET  /api/v1/billing                          the org's plan, and the plans on offer
    POST /api/v1/billing/checkout                 {"tier": "pro"}: a Checkout URL (admin)
    POST /api/v1/billing/portal                   the customer portal's URL (admin)
    GET  /api/v1/billing/seller                   the org's Stripe Connect state
    POST /api/v1/billing/seller/onboarding        Stripe's onboarding URL (admin)
    GET  /api/v1/billing/earnings                 the org's sales, fees and payouts
    GET  /api/v1/billing/service-payouts/{id}     one monthly transfer of service-run earnings
    POST /api/v1/marketplace/listings/{id}/buy    a purchase with its Checkout URL (201)
    GET  /api/v1/billing/purchases/{id}           the org's purchase (licence) state
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated

import anyio.to_thread
from fastapi import APIRouter, Header, Request
from pydantic import BaseModel

from agent_platform.db import session_scope
from agent_platform.models import Purchase
from services.billing import connect, earnings, events, plans, purchases, service_payouts

from .v1 import AdminActor, ApiActor, RequestSession, WriteActor

router = APIRouter(prefix="/api/v1", tags=["billing"])
MAX_EVENT_BYTES = 512_000


class ReceivedOut(BaseModel):
    received: bool
    duplicate: bool


@router.post("/stripe/webhook", response_model=ReceivedOut)
async def stripe_webhook(
    request: Request, stripe_signature: Annotated[str | None, Header()] = None
) -> ReceivedOut:
    body = await request.body()
    if len(body) > MAX_EVENT_BYTES:
        raise events.BadSignature("The body is too large for a Stripe event.")

    def store() -> bool:
        with session_scope() as session:
            return events.receive(session, body, stripe_signature) is None

    duplicate = await anyio.to_thread.run_sync(store)
    return ReceivedOut(received=True, duplicate=duplicate)


class PlanOut(BaseModel):
    tier: str
    current: bool
    purchasable: bool


class BillingOut(BaseModel):
    configured: bool
    enforced: bool
    tier: str
    status: str
    has_customer: bool
    plans: list[PlanOut]


class UrlOut(BaseModel):
    url: str


class CheckoutIn(BaseModel):
    tier: str


@router.get("/billing", response_model=BillingOut)
def billing(session: RequestSession, actor: ApiActor) -> BillingOut:
    found = plans.overview(session, actor)
    return BillingOut(
        configured=found.configured,
        enforced=found.enforced,
        tier=found.tier,
        status=found.status,
        has_customer=found.has_customer,
        plans=[
            PlanOut(tier=p.tier, current=p.current, purchasable=p.purchasable) for p in found.plans
        ],
    )


@router.post("/billing/checkout", response_model=UrlOut)
def plan_checkout(session: RequestSession, actor: AdminActor, body: CheckoutIn) -> UrlOut:
    return UrlOut(url=plans.start_plan_checkout(session, actor, body.tier))


@router.post("/billing/portal", response_model=UrlOut)
def portal(session: RequestSession, actor: AdminActor) -> UrlOut:
    return UrlOut(url=plans.portal_url(session, actor))


class SellerOut(BaseModel):
    configured: bool
    connected: bool
    charges_enabled: bool
    payouts_enabled: bool
    details_submitted: bool
    message: str


def _seller_out(state: connect.SellerState) -> SellerOut:
    return SellerOut(
        configured=state.configured,
        connected=state.account_id is not None,
        charges_enabled=state.charges_enabled,
        payouts_enabled=state.payouts_enabled,
        details_submitted=state.details_submitted,
        message=state.message,
    )


@router.get("/billing/seller", response_model=SellerOut)
def seller(session: RequestSession, actor: ApiActor) -> SellerOut:
    return _seller_out(connect.seller_state(session, actor))


@router.post("/billing/seller/onboarding", response_model=UrlOut)
def onboarding(session: RequestSession, actor: AdminActor) -> UrlOut:
    return UrlOut(url=connect.start_onboarding(session, actor))


class SaleOut(BaseModel):
    purchase_id: str
    listing_id: str
    listing_title: str
    amount_cents: int
    fee_cents: int
    net_cents: int
    refunded: bool
    currency: str
    paid_at: datetime | None


class PayoutOut(BaseModel):
    id: str
    amount_cents: int
    currency: str
    status: str
    arrival_date: datetime | None


class ServiceMonthOut(BaseModel):
    month: str
    runs: int
    gross_cents: int
    fee_cents: int
    net_cents: int
    paid_cents: int


class EarningsOut(BaseModel):
    gross_cents: int
    fees_cents: int
    refunded_cents: int
    net_cents: int
    paid_out_cents: int
    sales: list[SaleOut]
    payouts: list[PayoutOut]
    service_runs: int
    service_gross_cents: int
    service_fees_cents: int
    service_net_cents: int
    service_paid_cents: int
    service_months: list[ServiceMonthOut]


class ServicePayoutOut(BaseModel):
    id: str
    month: str
    runs: int
    gross_cents: int
    fee_cents: int
    amount_cents: int
    currency: str
    stripe_transfer_id: str
    created_at: datetime


@router.get("/billing/earnings", response_model=EarningsOut)
def seller_earnings(session: RequestSession, actor: ApiActor) -> EarningsOut:
    found = earnings.earnings(session, actor)
    return EarningsOut(
        gross_cents=found.gross_cents,
        fees_cents=found.fees_cents,
        refunded_cents=found.refunded_cents,
        net_cents=found.net_cents,
        paid_out_cents=found.paid_out_cents,
        sales=[
            SaleOut(
                purchase_id=str(s.purchase_id),
                listing_id=str(s.listing_id),
                listing_title=s.listing_title,
                amount_cents=s.amount_cents,
                fee_cents=s.fee_cents,
                net_cents=s.net_cents,
                refunded=s.refunded,
                currency=s.currency,
                paid_at=s.paid_at,
            )
            for s in found.sales
        ],
        payouts=[
            PayoutOut(
                id=p.id,
                amount_cents=p.amount_cents,
                currency=p.currency,
                status=p.status,
                arrival_date=p.arrival_date,
            )
            for p in found.payouts
        ],
        service_runs=found.service_runs,
        service_gross_cents=found.service_gross_cents,
        service_fees_cents=found.service_fees_cents,
        service_net_cents=found.service_net_cents,
        service_paid_cents=found.service_paid_cents,
        service_months=[
            ServiceMonthOut(
                month=m.month,
                runs=m.runs,
                gross_cents=m.gross_cents,
                fee_cents=m.fee_cents,
                net_cents=m.net_cents,
                paid_cents=m.paid_cents,
            )
            for m in found.service_months
        ],
    )


@router.get("/billing/service-payouts/{payout_id}", response_model=ServicePayoutOut)
def service_payout(
    session: RequestSession, actor: ApiActor, payout_id: uuid.UUID
) -> ServicePayoutOut:
    row = service_payouts.get_payout(session, actor, payout_id)
    return ServicePayoutOut(
        id=str(row.id),
        month=row.month,
        runs=row.runs,
        gross_cents=row.gross_cents,
        fee_cents=row.fee_cents,
        amount_cents=row.amount_cents,
        currency=row.currency,
        stripe_transfer_id=row.stripe_transfer_id,
        created_at=row.created_at,
    )


class PurchaseOut(BaseModel):
    id: str
    listing_id: str | None  # null once the listing is gone (its seller's org was deleted)
    status: str
    amount_cents: int
    currency: str
    checkout_url: str | None


def _purchase_out(purchase: Purchase) -> PurchaseOut:
    return PurchaseOut(
        id=str(purchase.id),
        listing_id=str(purchase.listing_id) if purchase.listing_id else None,
        status=purchase.status.value,
        amount_cents=purchase.amount_cents,
        currency=purchase.currency,
        checkout_url=purchase.checkout_url if purchase.status == "pending" else None,
    )


@router.post("/marketplace/listings/{listing_id}/buy", response_model=PurchaseOut, status_code=201)
def buy(session: RequestSession, actor: WriteActor, listing_id: uuid.UUID) -> PurchaseOut:
    return _purchase_out(purchases.buy_listing(session, actor, listing_id))


@router.get("/billing/purchases/{purchase_id}", response_model=PurchaseOut)
def purchase(session: RequestSession, actor: ApiActor, purchase_id: uuid.UUID) -> PurchaseOut:
    return _purchase_out(purchases.get_purchase(session, actor, purchase_id))
