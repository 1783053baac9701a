"""Buying a paid template listing: Stripe Checkout with a destination charge.

The buyer's "Buy" makes a pending `Purchase` and a Checkout Session for it: the money goes to
the seller's connected account (`transfer_data.destination`) minus the platform's fee
(`application_fee_amount`, MARKETPLACE_FEE_PERCENT of the price). The session is created
inside the buyer's transaction with an idempotency key from the purchase id: if that
transaction rolls back, nobody holds the session's URL and Stripe lets it expire.

Nothing is owned on the redirect back from Checkout: the licence is granted, and the listing
installed, when the `checkout.session.completed` webhook is processed (`fulfil_checkout`). A
full refund (`charge.refunded`) revokes the licence. Events may come late or out of order: a
refund that arrives before its sale is deferred on the sale's payment intent and applied the
moment the sale is, so the sale is then never installed; a replay of a sale already paid or
refunded changes nothing.
"""

from __future__ import annotations

import logging
import uuid
from datetime import timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from sqlmodel import Session, col, select

from agent_platform.models import (
    EventStatus,
    ListingKind,
    MarketplaceListing,
    Membership,
    Purchase,
    PurchaseStatus,
    Role,
    StripeEvent,
)
from agent_platform.models.base import utcnow
from agent_platform.settings import get_settings
from services import audit
from services.access import Actor, require_role
from services.billing import connect, stripe_api
from services.billing.licences import licensed
from services.errors import Conflict, DomainError, Forbidden, Invalid, NotFound, Unavailable
from services.marketplace import installs
from services.marketplace.listings import get_listing

log = logging.getLogger(__name__)
# Checkout Sessions live 24 hours; a pending purchase younger than this reuses its session.
REUSE_SESSION_FOR = timedelta(hours=23)


def fee_cents(price_cents: int) -> int:
    percent = Decimal(str(get_settings().marketplace_fee_percent))
    fee = (Decimal(price_cents) * percent / 100).quantize(Decimal(1), rounding=ROUND_HALF_UP)
    return min(int(fee), price_cents)


def get_purchase(session: Session, actor: Actor, purchase_id: uuid.UUID) -> Purchase:
    """The buyer's own purchase; another organization's is NotFound."""
    found = session.exec(
        select(Purchase).where(col(Purchase.id) == purchase_id, Purchase.org_id == actor.org_id)
    ).first()
    if found is None:
        raise NotFound("Purchase not found.")
    return found


def _open_purchase(session: Session, actor: Actor, listing_id: uuid.UUID) -> Purchase | None:
    return session.exec(
        select(Purchase)
        .where(
            Purchase.org_id == actor.org_id,
            Purchase.listing_id == listing_id,
            col(Purchase.status) == PurchaseStatus.PENDING,
            col(Purchase.created_at) > utcnow() - REUSE_SESSION_FOR,
            col(Purchase.checkout_url).is_not(None),
        )
        .order_by(col(Purchase.created_at).desc())
    ).first()


def buy_listing(session: Session, actor: Actor, listing_id: uuid.UUID) -> Purchase:
    """A pending purchase with its Checkout URL (`checkout_url`) for the buyer to pay at."""
    require_role(actor, Role.BUILDER)
    listing = get_listing(session, actor, listing_id)
    if listing.publisher_org_id == actor.org_id:
        raise Conflict("This is your own listing: its agent is already in your organization.")
    if listing.kind == ListingKind.SERVICE:
        raise Forbidden(
            "This is a service listing: it runs on the seller's version and is billed per run, "
            "which this instance does not offer yet."
        )
    if listing.price_cents == 0:
        raise Invalid("This listing is free: install it instead.")
    if licensed(session, actor.org_id, listing.id):
        raise Conflict("Your organization bought this listing already: install it.")
    seller = connect.seller_account(session, listing.publisher_org_id)
    if seller is None or not connect.can_take_charges(session, listing.publisher_org_id):
        raise Unavailable("The seller cannot take payments right now; try again later.")
    reuse = _open_purchase(session, actor, listing.id)
    if reuse is not None:
        return reuse
    purchase = Purchase(
        org_id=actor.org_id,
        listing_id=listing.id,
        seller_org_id=listing.publisher_org_id,
        buyer_id=actor.user_id,
        amount_cents=listing.price_cents,
        fee_cents=fee_cents(listing.price_cents),
        currency=listing.currency,
    )
    session.add(purchase)
    session.flush()
    checkout = _checkout_session(purchase, listing, seller.stripe_account_id)
    purchase.checkout_session_id = str(checkout.id)
    purchase.checkout_url = str(checkout.url)
    session.add(purchase)
    audit.record(
        session,
        "billing.checkout_started",
        org_id=actor.org_id,
        actor_id=actor.user_id,
        target_type="listing",
        target_id=listing.id,
        purchase_id=str(purchase.id),
        amount_cents=purchase.amount_cents,
    )
    return purchase


def _checkout_session(purchase: Purchase, listing: MarketplaceListing, destination: str) -> Any:
    base = get_settings().resolved_base_url.rstrip("/")
    reference = {"purchase_id": str(purchase.id), "org_id": str(purchase.org_id)}
    params: Any = {
        "mode": "payment",
        "client_reference_id": str(purchase.id),
        "line_items": [
            {
                "quantity": 1,
                "price_data": {
                    "currency": purchase.currency,
                    "unit_amount": purchase.amount_cents,
                    "product_data": {"name": listing.title[:120]},
                },
            }
        ],
        "payment_intent_data": {
            "application_fee_amount": purchase.fee_cents,
            "transfer_data": {"destination": destination},
            "metadata": reference,
        },
        "metadata": reference,
        "success_url": f"{base}/marketplace/listing?id={listing.id}&purchase={purchase.id}",
        "cancel_url": f"{base}/marketplace/listing?id={listing.id}",
    }
    return stripe_api.call(
        "open the checkout",
        lambda c: c.v1.checkout.sessions.create(
            params, stripe_api.options(f"checkout-{purchase.id}")
        ),
    )


# --- webhooks (processed by services.billing.events, off the request) ---------------------


def _purchase_of_session(session: Session, checkout: Any) -> Purchase | None:
    reference = (checkout.get("metadata") or {}).get("purchase_id") or checkout.get(
        "client_reference_id"
    )
    try:
        purchase_id = uuid.UUID(str(reference))
    except ValueError:
        return None
    return session.exec(
        select(Purchase).where(col(Purchase.id) == purchase_id).with_for_update()
    ).first()


def fulfil_checkout(session: Session, checkout: Any) -> EventStatus:
    """`checkout.session.completed` / `.async_payment_succeeded`: grant the licence, then
    install as the buyer. Idempotent: a purchase already paid or refunded is left alone."""
    purchase = _purchase_of_session(session, checkout)
    if purchase is None or checkout.get("mode") != "payment":
        return EventStatus.IGNORED
    if not _is_purchase_session(purchase, checkout):
        return EventStatus.IGNORED
    if checkout.get("payment_status") not in ("paid", "no_payment_required"):
        return EventStatus.PROCESSED  # an async payment: its own event says when it succeeds
    if purchase.status in (PurchaseStatus.PAID, PurchaseStatus.REFUNDED):
        return EventStatus.PROCESSED
    purchase.status = PurchaseStatus.PAID
    purchase.paid_at = utcnow()
    purchase.payment_intent_id = checkout.get("payment_intent") or None
    session.add(purchase)
    session.flush()
    audit.record(
        session,
        "billing.purchase_paid",
        org_id=purchase.org_id,
        actor_id=None,
        target_type="listing",
        target_id=purchase.listing_id,
        purchase_id=str(purchase.id),
    )
    if _apply_deferred_refunds(session, purchase):
        return EventStatus.PROCESSED
    _install_for_buyer(session, purchase)
    return EventStatus.PROCESSED


def _is_purchase_session(purchase: Purchase, checkout: Any) -> bool:
    """The session we opened for this purchase, for its price: the metadata alone could name
    any purchase (a session made elsewhere on the platform account, for another amount)."""
    same = (
        purchase.checkout_session_id is not None
        and checkout.get("id") == purchase.checkout_session_id
        and checkout.get("amount_total") == purchase.amount_cents
    )
    if not same:
        log.warning("checkout %s does not match purchase %s", checkout.get("id"), purchase.id)
    return same


def _install_for_buyer(session: Session, purchase: Purchase) -> None:
    """The normal install, for the organization that paid (as the buyer while they are still
    a member; a purchase made with an API key has no person). If it cannot happen now (a plan
    limit, say), the licence stands and they install from the listing page."""
    if purchase.listing_id is None:  # the listing is gone (its seller's organization was deleted)
        return
    member = session.exec(
        select(Membership.user_id).where(
            Membership.org_id == purchase.org_id, Membership.user_id == purchase.buyer_id
        )
    ).first()
    actor = Actor(user_id=member, org_id=purchase.org_id, role=Role.BUILDER)
    try:
        with session.begin_nested():
            if installs.install_of(session, actor, purchase.listing_id) is None:
                installs.install_listing(session, actor, purchase.listing_id)
    except DomainError as exc:
        audit.record(
            session,
            "billing.install_after_purchase_failed",
            org_id=purchase.org_id,
            actor_id=None,
            target_type="listing",
            target_id=purchase.listing_id,
            reason=exc.message,
        )


def expire_checkout(session: Session, checkout: Any) -> EventStatus:
    purchase = _purchase_of_session(session, checkout)
    if purchase is None:
        return EventStatus.IGNORED
    if purchase.status == PurchaseStatus.PENDING:
        purchase.status = PurchaseStatus.EXPIRED
        session.add(purchase)
    return EventStatus.PROCESSED


def apply_refund(session: Session, charge: Any) -> EventStatus:
    """`charge.refunded`: a full refund revokes the licence (a partial one is recorded).
    A charge whose sale we have not seen yet is DEFERRED on its payment intent."""
    payment_intent = charge.get("payment_intent")
    if not payment_intent:
        return EventStatus.IGNORED
    purchase = session.exec(
        select(Purchase).where(col(Purchase.payment_intent_id) == payment_intent).with_for_update()
    ).first()
    if purchase is None:
        return EventStatus.DEFERRED
    _refund(session, purchase, charge)
    return EventStatus.PROCESSED


def _refund(session: Session, purchase: Purchase, charge: Any) -> None:
    purchase.refunded_cents = max(purchase.refunded_cents, int(charge.get("amount_refunded") or 0))
    if charge.get("refunded") and purchase.status != PurchaseStatus.REFUNDED:
        purchase.status = PurchaseStatus.REFUNDED
        purchase.refunded_at = utcnow()
        audit.record(
            session,
            "billing.licence_revoked",
            org_id=purchase.org_id,
            actor_id=None,
            target_type="listing",
            target_id=purchase.listing_id,
            purchase_id=str(purchase.id),
            reason="refunded",
        )
    session.add(purchase)
    session.flush()


def _apply_deferred_refunds(session: Session, purchase: Purchase) -> bool:
    """Apply refunds that arrived before this sale; True if the purchase ended refunded."""
    if not purchase.payment_intent_id:
        return False
    waiting = session.exec(
        select(StripeEvent)
        .where(
            col(StripeEvent.waiting_for) == purchase.payment_intent_id,
            col(StripeEvent.status) == EventStatus.DEFERRED,
        )
        .order_by(col(StripeEvent.stripe_created))
    ).all()
    for event in waiting:
        _refund(session, purchase, event.payload["data"]["object"])
        event.status = EventStatus.PROCESSED
        event.waiting_for = None
        event.processed_at = utcnow()
        session.add(event)
    return purchase.status == PurchaseStatus.REFUNDED
