"""Sellers onboard with Stripe Connect: one connected account per organization.

The account is created once (idempotency key from the org id, so a retry after a timeout or a
rolled-back commit gets the same account), then Stripe's hosted onboarding is opened through
an account link. Whether the account can take charges comes from Stripe: the
`account.updated` webhook refreshes it, and the seller's "check again" asks Stripe directly.
A paid listing is shown to buyers only while its seller's account can take charges
(`services.marketplace.listings.visible_listings`).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from sqlmodel import Session, col, select

from agent_platform.models import ListingKind, MarketplaceListing, SellerAccount
from agent_platform.models.base import utcnow
from agent_platform.settings import get_settings
from services import audit
from services.access import Actor, Permission, require
from services.billing import stripe_api
from services.errors import Unavailable


@dataclass(frozen=True)
class SellerState:
    configured: bool  # Stripe is set up on this instance
    account_id: str | None
    charges_enabled: bool
    payouts_enabled: bool
    details_submitted: bool

    @property
    def message(self) -> str:
        if not self.configured:
            return "Payments are off on this instance: every listing is free."
        if self.account_id is None:
            return "Set up payouts with Stripe to sell paid listings."
        if not self.charges_enabled:
            return (
                "Stripe cannot take payments for you yet: finish onboarding. Your paid "
                "listings stay hidden from buyers until then."
            )
        return "Your Stripe account takes payments; your paid listings are live."


def seller_account(session: Session, org_id: uuid.UUID) -> SellerAccount | None:
    return session.get(SellerAccount, org_id)


def can_take_charges(session: Session, org_id: uuid.UUID) -> bool:
    account = seller_account(session, org_id)
    return stripe_api.stripe_configured() and account is not None and account.charges_enabled


def hidden_from_buyers(session: Session, listing: MarketplaceListing) -> str:
    """Why buyers do not see this (paid or service) listing, in words; "" when they can."""
    if listing.price_cents == 0 and listing.kind == ListingKind.TEMPLATE:
        return ""
    if not stripe_api.stripe_configured():
        return "Payments are off on this instance: buyers do not see paid or service listings."
    if not can_take_charges(session, listing.publisher_org_id):
        return (
            "Buyers do not see this listing until your Stripe account takes payments: "
            "set up payouts under Billing."
        )
    return ""


def seller_state(session: Session, actor: Actor) -> SellerState:
    account = seller_account(session, actor.org_id)
    return SellerState(
        configured=stripe_api.stripe_configured(),
        account_id=account.stripe_account_id if account else None,
        charges_enabled=bool(account and account.charges_enabled),
        payouts_enabled=bool(account and account.payouts_enabled),
        details_submitted=bool(account and account.details_submitted),
    )


def _create_account(org_id: uuid.UUID) -> Any:
    params: Any = {
        "controller": {
            "stripe_dashboard": {"type": "express"},
            "fees": {"payer": "application"},
            "losses": {"payments": "application"},
        },
        "capabilities": {"card_payments": {"requested": True}, "transfers": {"requested": True}},
        "metadata": {"org_id": str(org_id)},
    }
    return stripe_api.call(
        "create your seller account",
        lambda c: c.v1.accounts.create(params, stripe_api.options(f"connect-account-{org_id}")),
    )


def start_onboarding(session: Session, actor: Actor) -> str:
    """The URL of Stripe's hosted onboarding for the actor's organization (an owner or admin)."""
    require(actor, Permission.ORG_MANAGE)
    if not stripe_api.stripe_configured():
        raise Unavailable("Payments are off on this instance: Stripe is not configured.")
    account = seller_account(session, actor.org_id)
    if account is None:
        created = _create_account(actor.org_id)
        account = SellerAccount(org_id=actor.org_id, stripe_account_id=created.id)
        apply_account(session, created.to_dict(), account)
        audit.record(
            session,
            "billing.seller_account_created",
            org_id=actor.org_id,
            actor_id=actor.user_id,
            target_type="org",
            target_id=actor.org_id,
        )
    base = get_settings().resolved_base_url.rstrip("/")
    link_params: Any = {
        "account": account.stripe_account_id,
        "refresh_url": f"{base}/billing?onboarding=refresh",
        "return_url": f"{base}/billing?onboarding=done",
        "type": "account_onboarding",
    }
    link = stripe_api.call("open onboarding", lambda c: c.v1.account_links.create(link_params))
    return str(link.url)


def refresh_seller(session: Session, actor: Actor) -> SellerState:
    """Ask Stripe for the account's current state (the seller's "check again")."""
    account = seller_account(session, actor.org_id)
    if account is not None and stripe_api.stripe_configured():
        refresh_account(session, account.stripe_account_id)
    return seller_state(session, actor)


def refresh_account(session: Session, stripe_account_id: str) -> SellerAccount | None:
    """Read the account from Stripe and store what it says now. Used for `account.updated`:
    the current state from Stripe is right whatever order the events arrived in."""
    account = session.exec(
        select(SellerAccount).where(col(SellerAccount.stripe_account_id) == stripe_account_id)
    ).first()
    if account is None:
        return None
    current = stripe_api.call(
        "read your seller account", lambda c: c.v1.accounts.retrieve(stripe_account_id)
    )
    apply_account(session, current.to_dict(), account)
    return account


def apply_account(session: Session, stripe_account: dict[str, Any], account: SellerAccount) -> None:
    was = account.charges_enabled
    account.charges_enabled = bool(stripe_account.get("charges_enabled"))
    account.payouts_enabled = bool(stripe_account.get("payouts_enabled"))
    account.details_submitted = bool(stripe_account.get("details_submitted"))
    account.updated_at = utcnow()
    session.add(account)
    session.flush()
    if was != account.charges_enabled:
        audit.record(
            session,
            "billing.seller_charges_changed",
            org_id=account.org_id,
            actor_id=None,
            target_type="org",
            target_id=account.org_id,
            charges_enabled=account.charges_enabled,
        )
