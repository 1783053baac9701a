"""Money: sellers' Stripe accounts, purchases (a paid one is the buying org's licence), the
organization's plan subscription, sellers' payouts, and every Stripe webhook event received.

Why events are stored: Stripe retries a delivery until it gets a 2xx and may send an event
twice, late, or after a newer one. The row, keyed on Stripe's own event id, is what makes a
replay a no-op and lets a job process it off the request; `stripe_created` (the event's time
at Stripe) is what the handlers compare instead of trusting arrival order.
"""

from __future__ import annotations

import enum
import uuid
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from agent_platform.models.base import (
    created_field,
    enum_field,
    fk,
    id_field,
    json_field,
    time_field,
)


class PurchaseStatus(enum.StrEnum):
    PENDING = "pending"  # a Checkout Session is open; nothing is owned yet
    PAID = "paid"  # the licence: the buying organization may install
    REFUNDED = "refunded"  # the licence is revoked
    EXPIRED = "expired"  # the Checkout Session ended unpaid


class EventStatus(enum.StrEnum):
    RECEIVED = "received"  # stored, its job queued
    PROCESSED = "processed"
    DEFERRED = "deferred"  # about something we do not know yet (a refund before its sale)
    IGNORED = "ignored"  # a type we do not act on
    FAILED = "failed"  # the last attempt raised; the job retries


class SellerAccount(SQLModel, table=True):
    """An organization's Stripe Connect account: where its sales are paid."""

    __tablename__ = "stripe_seller_accounts"
    org_id: uuid.UUID = Field(
        sa_column=sa.Column(
            sa.Uuid(), sa.ForeignKey("organizations.id", ondelete="CASCADE"), primary_key=True
        )
    )
    stripe_account_id: str = Field(max_length=64, unique=True)
    charges_enabled: bool = False
    payouts_enabled: bool = False
    details_submitted: bool = False
    created_at: datetime = created_field()
    updated_at: datetime = created_field()


class Purchase(SQLModel, table=True):
    __tablename__ = "marketplace_purchases"
    __table_args__ = (sa.Index("ix_marketplace_purchases_org_listing", "org_id", "listing_id"),)
    id: uuid.UUID = id_field()
    org_id: uuid.UUID = fk("organizations.id", ondelete="CASCADE", index=False)  # the buyer
    # a purchase outlives its listing and the seller's organization: the buyer's record of
    # what it paid and was refunded stays (the ids become null)
    listing_id: uuid.UUID | None = fk(
        "marketplace_listings.id", ondelete="SET NULL", nullable=True, index=False
    )
    seller_org_id: uuid.UUID | None = fk("organizations.id", ondelete="SET NULL", nullable=True)
    buyer_id: uuid.UUID | None = fk("users.id", ondelete="SET NULL", nullable=True, index=False)
    amount_cents: int
    fee_cents: int
    currency: str = Field(default="usd", max_length=3)
    status: PurchaseStatus = enum_field(PurchaseStatus, PurchaseStatus.PENDING)
    checkout_session_id: str | None = Field(default=None, max_length=255, unique=True)
    checkout_url: str | None = Field(default=None, sa_type=sa.Text, nullable=True)
    payment_intent_id: str | None = Field(default=None, max_length=255, index=True)
    refunded_cents: int = 0
    created_at: datetime = created_field()
    paid_at: datetime | None = time_field()
    refunded_at: datetime | None = time_field()


class OrgSubscription(SQLModel, table=True):
    """An organization's plan as Stripe bills it; `customer.subscription.*` events set it."""

    __tablename__ = "org_subscriptions"
    org_id: uuid.UUID = Field(
        sa_column=sa.Column(
            sa.Uuid(), sa.ForeignKey("organizations.id", ondelete="CASCADE"), primary_key=True
        )
    )
    stripe_customer_id: str = Field(max_length=64, unique=True)
    subscription_id: str | None = Field(default=None, max_length=64)
    status: str = Field(default="", max_length=30)  # Stripe's: active, past_due, canceled, …
    plan: str = Field(default="", max_length=20)
    state_at: int = 0  # `created` of the newest event applied (seconds, Stripe's clock)
    current_period_end: datetime | None = time_field()
    updated_at: datetime = created_field()


class SellerPayout(SQLModel, table=True):
    """A payout from Stripe to a seller's bank (from `payout.*` events of the connected account)."""

    __tablename__ = "stripe_payouts"
    id: str = Field(primary_key=True, max_length=64)  # Stripe's payout id
    org_id: uuid.UUID = fk("organizations.id", ondelete="CASCADE")
    amount_cents: int
    currency: str = Field(default="usd", max_length=3)
    status: str = Field(default="", max_length=20)
    arrival_date: datetime | None = time_field()
    state_at: int = 0
    created_at: datetime = created_field()


class ServicePayout(SQLModel, table=True):
    """One month of a seller's service-run earnings sent to its connected account (a Stripe
    transfer). One row per (seller, month): the row is what makes the monthly job pay once."""

    __tablename__ = "service_payouts"
    __table_args__ = (sa.UniqueConstraint("org_id", "month", name="uq_service_payouts_org_month"),)
    id: uuid.UUID = id_field()
    org_id: uuid.UUID = fk("organizations.id", ondelete="CASCADE", index=False)  # the seller
    month: str = Field(max_length=7)  # "YYYY-MM" (UTC) of the runs it pays
    runs: int
    gross_cents: int
    fee_cents: int
    amount_cents: int  # gross - fee: what was transferred
    currency: str = Field(default="usd", max_length=3)
    stripe_transfer_id: str = Field(max_length=64)
    created_at: datetime = created_field()


class StripeEvent(SQLModel, table=True):
    __tablename__ = "stripe_events"
    __table_args__ = (sa.Index("ix_stripe_events_status", "status", "received_at"),)
    id: str = Field(primary_key=True, max_length=255)  # Stripe's event id: the dedupe key
    type: str = Field(max_length=100)
    account: str | None = Field(default=None, max_length=64)  # a connected account's event
    stripe_created: int
    payload: dict[str, Any] = json_field()
    status: EventStatus = enum_field(EventStatus, EventStatus.RECEIVED)
    waiting_for: str | None = Field(default=None, max_length=255, index=True)
    attempts: int = 0
    error: str = Field(default="", max_length=500)
    received_at: datetime = created_field()
    processed_at: datetime | None = time_field()
