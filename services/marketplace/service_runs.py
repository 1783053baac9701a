"""Service listings: an organization subscribes, then runs the seller's listed version.

No copy is made. The subscription (one per organization and listing) is the buyer's right to
run the listing's latest listed version, and carries the most one run may spend, which the
subscriber sets (required, more than $0) and may change. A run is an ordinary run of the
buyer's organization, read through the buyer's normal run reads, counted against its plan and
spend cap and stopped cleanly at that budget; the engine runs it on the seller's models and
knowledge and keeps the seller's instructions, model and tools' settings out of its steps
(services/runtime/service_steps.py). A priced service is billed per succeeded run as Stripe
metered usage (services/billing/usage.py, after the run's commit), so with Stripe on a priced
service needs the buyer's organization to have a Stripe customer (a plan checkout makes one).

Who may: the listing must be one the organization can see (services/marketplace/listings.py:
without Stripe, service listings are hidden), it must be a service, and not the org's own.
Running needs the subscription: any other organization gets NotFound, as for a listing that
does not exist.
"""

from __future__ import annotations

import uuid
from decimal import Decimal

from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select
from sqlmodel.sql.expression import SelectOfScalar

from agent_platform.models import (
    AgentVersion,
    Execution,
    ListingKind,
    MarketplaceListing,
    OrgSubscription,
    Role,
    ServiceSubscription,
)
from agent_platform.models.base import utcnow
from services import audit, runs, spend
from services.access import Actor, require_role
from services.billing.stripe_api import stripe_configured
from services.errors import Conflict, Invalid, NotFound
from services.marketplace.listings import get_listing, latest_version


def visible_subscriptions(actor: Actor) -> SelectOfScalar[ServiceSubscription]:
    return select(ServiceSubscription).where(ServiceSubscription.org_id == actor.org_id)


def subscription_of(
    session: Session, actor: Actor, listing_id: uuid.UUID
) -> ServiceSubscription | None:
    return session.exec(
        visible_subscriptions(actor).where(col(ServiceSubscription.listing_id) == listing_id)
    ).first()


def _max_spend(value: Decimal | str | float | None) -> Decimal:
    amount = spend.parse_usd(value, what="The maximum spend per run")
    if amount is None:
        raise Invalid("Set the most one run may spend (in dollars, e.g. 0.50).")
    return amount


def _service(session: Session, actor: Actor, listing_id: uuid.UUID) -> MarketplaceListing:
    listing = get_listing(session, actor, listing_id)
    if listing.kind != ListingKind.SERVICE:
        raise Invalid("This listing is a template: install it to get your own copy.")
    return listing


def subscribe(
    session: Session,
    actor: Actor,
    listing_id: uuid.UUID,
    *,
    max_spend_per_run_usd: Decimal | str | float | None,
) -> ServiceSubscription:
    require_role(actor, Role.BUILDER)
    amount = _max_spend(max_spend_per_run_usd)
    listing = _service(session, actor, listing_id)
    if listing.publisher_org_id == actor.org_id:
        raise Conflict("This is your own service: run its agent in your organization.")
    if (
        listing.price_cents > 0
        and stripe_configured()
        and session.get(OrgSubscription, actor.org_id) is None
    ):
        raise Invalid(
            "This service is billed per run: set up billing for your organization first "
            "(Billing, choose a plan)."
        )
    row = ServiceSubscription(
        org_id=actor.org_id,
        listing_id=listing.id,
        max_spend_per_run_usd=amount,
        subscribed_by_id=actor.user_id,
    )
    try:
        with session.begin_nested():
            session.add(row)
            session.flush()
    except IntegrityError as exc:
        raise Conflict("Your organization subscribed to this service already.") from exc
    audit.record(
        session,
        "marketplace.subscribed",
        org_id=actor.org_id,
        actor_id=actor.user_id,
        target_type="listing",
        target_id=listing.id,
        max_spend_per_run_usd=str(amount),
    )
    return row


def _own_subscription(
    session: Session, actor: Actor, listing_id: uuid.UUID
) -> tuple[MarketplaceListing, ServiceSubscription]:
    listing = get_listing(session, actor, listing_id)
    row = subscription_of(session, actor, listing.id)
    if row is None:
        raise NotFound("Your organization has not subscribed to this service.")
    return listing, row


def set_max_spend(
    session: Session,
    actor: Actor,
    listing_id: uuid.UUID,
    max_spend_per_run_usd: Decimal | str | float | None,
) -> ServiceSubscription:
    require_role(actor, Role.BUILDER)
    amount = _max_spend(max_spend_per_run_usd)
    listing, row = _own_subscription(session, actor, listing_id)
    row.max_spend_per_run_usd = amount
    row.updated_at = utcnow()
    session.add(row)
    audit.record(
        session,
        "marketplace.subscription_updated",
        org_id=actor.org_id,
        actor_id=actor.user_id,
        target_type="listing",
        target_id=listing.id,
        max_spend_per_run_usd=str(amount),
    )
    return row


def unsubscribe(session: Session, actor: Actor, listing_id: uuid.UUID) -> None:
    require_role(actor, Role.BUILDER)
    listing, row = _own_subscription(session, actor, listing_id)
    session.delete(row)
    audit.record(
        session,
        "marketplace.unsubscribed",
        org_id=actor.org_id,
        actor_id=actor.user_id,
        target_type="listing",
        target_id=listing.id,
    )


def start_service_run(
    session: Session,
    actor: Actor,
    listing_id: uuid.UUID,
    *,
    message: str,
    variables: dict[str, str] | None = None,
) -> Execution:
    """A run of the listing's latest listed version, in the actor's organization, with the
    subscription's maximum spend as its budget; enqueued after the caller's commit."""
    require_role(actor, Role.BUILDER)
    listing, row = _own_subscription(session, actor, listing_id)
    listed = latest_version(session, listing)
    version_id = listed.agent_version_id
    version = session.get(AgentVersion, version_id) if version_id is not None else None
    if version is None:
        raise Invalid("The seller's agent behind this service no longer exists.")
    return runs.start_pinned_run(
        session,
        actor,
        version,
        message=message,
        variables=variables,
        budget_usd=row.max_spend_per_run_usd,
        service_listing_id=listing.id,
        service_price_cents=listing.price_cents,
    )
