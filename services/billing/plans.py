"""Organization plans (starter, pro, team, enterprise) as Stripe subscriptions.

An owner or admin upgrades through Checkout in subscription mode (the plan's price id comes
from STRIPE_PLAN_PRICES) and manages payment details, invoices and cancelling in Stripe's
customer portal. The organization's tier follows the `customer.subscription.*` events: the
newest event (Stripe's `created`) wins, so a late older event cannot undo a newer state, and
a deleted subscription stays deleted (its id never comes back). The tier's limits apply only
with BILLING_ENABLED (services/organizations.py `limits_for`).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlmodel import Session, col, select

from agent_platform.models import Organization, OrgSubscription, Tier
from agent_platform.models.base import utcnow
from agent_platform.settings import get_settings
from services import audit
from services.access import Actor, Permission, require
from services.billing import stripe_api
from services.errors import Invalid, NotFound, Unavailable

ACTIVE = ("active", "trialing", "past_due")


@dataclass(frozen=True)
class PlanChoice:
    tier: str
    current: bool
    purchasable: bool  # a Stripe price is configured for it


@dataclass(frozen=True)
class BillingOverview:
    configured: bool
    enforced: bool  # BILLING_ENABLED: the tier's limits apply
    tier: str
    status: str
    has_customer: bool
    plans: list[PlanChoice]


def overview(session: Session, actor: Actor) -> BillingOverview:
    org = session.get(Organization, actor.org_id)
    if org is None:
        raise NotFound("Organization not found.")
    row = session.get(OrgSubscription, actor.org_id)
    prices = get_settings().stripe_plan_prices
    return BillingOverview(
        configured=stripe_api.stripe_configured(),
        enforced=get_settings().billing_enabled,
        tier=org.tier.value,
        status=row.status if row else "",
        has_customer=row is not None,
        plans=[PlanChoice(t.value, t == org.tier, t.value in prices) for t in Tier],
    )


def _customer(session: Session, actor: Actor) -> OrgSubscription:
    row = session.get(OrgSubscription, actor.org_id)
    if row is not None:
        return row
    org = session.get(Organization, actor.org_id)
    if org is None:
        raise NotFound("Organization not found.")
    params: Any = {"name": org.name, "metadata": {"org_id": str(org.id)}}
    customer = stripe_api.call(
        "create your billing account",
        lambda c: c.v1.customers.create(params, stripe_api.options(f"org-customer-{org.id}")),
    )
    row = OrgSubscription(org_id=org.id, stripe_customer_id=str(customer.id))
    session.add(row)
    session.flush()
    return row


def start_plan_checkout(session: Session, actor: Actor, tier: str) -> str:
    """The Checkout URL for subscribing the organization to `tier`."""
    require(actor, Permission.ORG_MANAGE)
    if not stripe_api.stripe_configured():
        raise Unavailable("Plans are not sold on this instance: everything is free.")
    price = get_settings().stripe_plan_prices.get(tier)
    if not price:
        raise Invalid(f"The {tier} plan cannot be bought here; ask the instance's owner.")
    row = _customer(session, actor)
    if row.subscription_id and row.status in ACTIVE:
        raise Invalid("Your organization has a plan already: change it in the billing portal.")
    base = get_settings().resolved_base_url.rstrip("/")
    params: Any = {
        "mode": "subscription",
        "customer": row.stripe_customer_id,
        "client_reference_id": str(actor.org_id),
        "line_items": [{"price": price, "quantity": 1}],
        "subscription_data": {"metadata": {"org_id": str(actor.org_id), "tier": tier}},
        "success_url": f"{base}/billing?plan=started",
        "cancel_url": f"{base}/billing",
    }
    # One key per org, plan and hour: a double click is one session; a later retry a new one.
    key = f"plan-{actor.org_id}-{tier}-{int(utcnow().timestamp()) // 3600}"
    checkout = stripe_api.call(
        "open the checkout",
        lambda c: c.v1.checkout.sessions.create(params, stripe_api.options(key)),
    )
    audit.record(
        session,
        "billing.plan_checkout_started",
        org_id=actor.org_id,
        actor_id=actor.user_id,
        target_type="org",
        target_id=actor.org_id,
        tier=tier,
    )
    return str(checkout.url)


def portal_url(session: Session, actor: Actor) -> str:
    require(actor, Permission.ORG_MANAGE)
    row = session.get(OrgSubscription, actor.org_id)
    if row is None or not stripe_api.stripe_configured():
        raise Invalid("Your organization has no billing account yet: choose a plan first.")
    params: Any = {
        "customer": row.stripe_customer_id,
        "return_url": f"{get_settings().resolved_base_url.rstrip('/')}/billing",
    }
    portal = stripe_api.call(
        "open the billing portal", lambda c: c.v1.billing_portal.sessions.create(params)
    )
    return str(portal.url)


def _tier_of(subscription: Any) -> Tier | None:
    tiers = {t.value: t for t in Tier}
    by_price = {v: k for k, v in get_settings().stripe_plan_prices.items()}
    for item in (subscription.get("items") or {}).get("data") or []:
        name = by_price.get(str((item.get("price") or {}).get("id")), "")
        if name in tiers:
            return tiers[name]
    return tiers.get(str((subscription.get("metadata") or {}).get("tier")))


def _row_of(session: Session, subscription: Any) -> OrgSubscription | None:
    customer = subscription.get("customer")
    row = session.exec(
        select(OrgSubscription)
        .where(col(OrgSubscription.stripe_customer_id) == customer)
        .with_for_update()
    ).first()
    if row is not None:
        return row
    org_id = (subscription.get("metadata") or {}).get("org_id")
    try:
        org = session.get(Organization, uuid.UUID(str(org_id)))
    except ValueError:
        return None
    if org is None or not customer:
        return None
    row = OrgSubscription(org_id=org.id, stripe_customer_id=str(customer))
    session.add(row)
    session.flush()
    return row


def apply_subscription(
    session: Session, subscription: Any, *, event_created: int, deleted: bool
) -> bool:
    """Set the organization's tier from a subscription event; False if it changed nothing
    (an older event than one applied, an event of a subscription that was deleted)."""
    row = _row_of(session, subscription)
    if row is None:
        return False
    sub_id = str(subscription.get("id"))
    status = "canceled" if deleted else str(subscription.get("status") or "")
    same = row.subscription_id == sub_id
    if same and row.status == "canceled" and not deleted:
        return False  # a deleted subscription never comes back
    if event_created < row.state_at and (same or status not in ACTIVE):
        return False  # older than what we know
    if not same and row.subscription_id and row.status in ACTIVE and status not in ACTIVE:
        return False  # an old subscription ending does not undo the current one
    org = session.get(Organization, row.org_id)
    if org is None:
        return False
    row.subscription_id = sub_id
    row.status = status
    row.state_at = max(row.state_at, event_created)
    period_end = subscription.get("current_period_end") or _item_period_end(subscription)
    row.current_period_end = datetime.fromtimestamp(period_end, UTC) if period_end else None
    tier = _tier_of(subscription) if status in ACTIVE else Tier.STARTER
    if tier is not None:
        row.plan = tier.value
        if org.tier != tier:
            audit.record(
                session,
                "billing.tier_changed",
                org_id=org.id,
                actor_id=None,
                target_type="org",
                target_id=org.id,
                old=org.tier.value,
                new=tier.value,
                subscription_status=status,
            )
            org.tier = tier
            session.add(org)
    row.updated_at = utcnow()
    session.add(row)
    return True


def _item_period_end(subscription: Any) -> int | None:
    for item in (subscription.get("items") or {}).get("data") or []:
        end = item.get("current_period_end")
        if end:
            return int(end)
    return None
