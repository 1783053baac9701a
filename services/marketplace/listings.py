"""Listings: a seller lists a published agent's version, edits the listing, adds versions.

Who sees what (the read scopes every other marketplace module goes through): a live listing is
public, signed in or not; a pending or taken-down listing exists only for its seller's
organization (and the instance admin's queue), so anyone else naming it gets NotFound, exactly
as for an id that exists nowhere.

What the public sees: a live listing that is free, or — only with Stripe configured — a paid
one whose seller's Stripe account can take charges (services/billing/connect.py). Without
Stripe everything is free and paid listings are hidden; the seller still sees their own.
An organization that bought a paid listing keeps seeing it while it is live, whatever becomes
of Stripe or of the seller's account: it may read, reinstall and update under its licence.

Why a seller's first listing waits: the instance admin approves the first one of each
organization (`moderation.approve_listing`); once one was approved, later listings go live at
once. Taking down is the admin's too, at any time.
"""

from __future__ import annotations

import re
import uuid
from decimal import ROUND_HALF_UP, Decimal
from typing import Any, Literal

from pydantic import BaseModel, Field, field_validator
from sqlalchemy import ColumnElement, text
from sqlmodel import Session, and_, col, func, or_, select
from sqlmodel.sql.expression import SelectOfScalar

from agent_platform.models import (
    Agent,
    AgentConfig,
    AgentStatus,
    AgentVersion,
    ListingKind,
    ListingStatus,
    ListingVersion,
    MarketplaceListing,
    Purchase,
    PurchaseStatus,
    Role,
    SellerAccount,
)
from agent_platform.models.base import utcnow
from services import audit
from services.access import Actor, require_role
from services.agent_reads import get_agent, visible_agents
from services.billing.stripe_api import stripe_configured
from services.errors import Conflict, Invalid, NotFound
from services.marketplace import badges
from services.marketplace.text import render_markdown
from services.validation import parse

CATEGORIES = [
    "customer-support",
    "sales",
    "marketing",
    "engineering",
    "data",
    "research",
    "writing",
    "productivity",
    "other",
]
MAX_PRICE_CENTS = 100_000_00


class ListingInput(BaseModel):
    title: str = Field(min_length=1, max_length=120)
    summary: str = Field(default="", max_length=300)
    description: str = Field(default="", max_length=20_000)
    category: Literal[
        "customer-support",
        "sales",
        "marketing",
        "engineering",
        "data",
        "research",
        "writing",
        "productivity",
        "other",
    ] = "other"
    tags: list[str] = Field(default_factory=list, max_length=10)
    price_cents: int = Field(default=0, ge=0, le=MAX_PRICE_CENTS)
    kind: ListingKind = ListingKind.TEMPLATE

    @field_validator("title", "summary")
    @classmethod
    def _strip(cls, value: str) -> str:
        return value.strip()

    @field_validator("tags")
    @classmethod
    def _tags(cls, values: list[str]) -> list[str]:
        tags: list[str] = []
        for value in values:
            tag = value.strip().lower()
            if not re.fullmatch(r"[a-z0-9][a-z0-9 -]{0,29}", tag):
                raise ValueError(f"{value!r}: tags are letters, digits, spaces or -, ≤ 30 long")
            if tag not in tags:
                tags.append(tag)
        return tags


class ListingUpdate(BaseModel):
    """A change to a listing's text, category, tags or price; fields left out stay."""

    title: str | None = Field(default=None, min_length=1, max_length=120)
    summary: str | None = Field(default=None, max_length=300)
    description: str | None = Field(default=None, max_length=20_000)
    category: str | None = None
    tags: list[str] | None = None
    price_cents: int | None = Field(default=None, ge=0, le=MAX_PRICE_CENTS)


def price_cents_of(text: str | None) -> int:
    """A price typed in dollars ("4.99", "$4.99", empty for free) as whole cents. Said in
    words when it is not a sum of money we sell at: not a number, negative, infinite, or above
    the largest price."""
    raw = (text or "").strip().lstrip("$").replace(",", "")
    if not raw:
        return 0
    try:
        cents = (Decimal(raw) * 100).quantize(Decimal(1), rounding=ROUND_HALF_UP)
    except ArithmeticError:
        cents = Decimal(-1)
    if not cents.is_finite() or cents < 0 or cents > MAX_PRICE_CENTS:
        message = f"A price in dollars from 0 (free) to {price_label(MAX_PRICE_CENTS)}, e.g. 4.99"
        raise Invalid(message, fields={"price_cents": message})
    return int(cents)


def price_label(price_cents: int) -> str:
    return "Free" if price_cents == 0 else f"${price_cents / 100:,.2f}"


# --- read scopes --------------------------------------------------------------------------


def on_sale() -> ColumnElement[bool]:
    """Live, and free — or paid, with Stripe on and the seller's account taking charges."""
    live = col(MarketplaceListing.status) == ListingStatus.LIVE
    free = and_(
        col(MarketplaceListing.price_cents) == 0,
        col(MarketplaceListing.kind) == ListingKind.TEMPLATE,
    )
    if not stripe_configured():
        return and_(live, free)
    sellers = select(SellerAccount.org_id).where(col(SellerAccount.charges_enabled).is_(True))
    return and_(live, or_(free, col(MarketplaceListing.publisher_org_id).in_(sellers)))


def _licensed_by(org_id: uuid.UUID) -> ColumnElement[bool]:
    """Live, and bought by the org (a paid, unrefunded purchase): a buyer keeps what it paid
    for when the seller's account stops taking charges or Stripe is turned off."""
    bought = select(Purchase.listing_id).where(
        col(Purchase.org_id) == org_id, col(Purchase.status) == PurchaseStatus.PAID
    )
    return and_(
        col(MarketplaceListing.status) == ListingStatus.LIVE,
        col(MarketplaceListing.id).in_(bought),
    )


def visible_listings(actor: Actor | None) -> SelectOfScalar[MarketplaceListing]:
    """Listings on sale, the ones the actor's organization bought, and its own whatever
    their state."""
    live = on_sale()
    if actor is None:
        return select(MarketplaceListing).where(live)
    return select(MarketplaceListing).where(
        or_(
            live,
            _licensed_by(actor.org_id),
            col(MarketplaceListing.publisher_org_id) == actor.org_id,
        )
    )


def own_listings(actor: Actor) -> SelectOfScalar[MarketplaceListing]:
    return select(MarketplaceListing).where(
        col(MarketplaceListing.publisher_org_id) == actor.org_id
    )


def get_listing(session: Session, actor: Actor | None, listing_id: uuid.UUID) -> MarketplaceListing:
    found = session.exec(
        visible_listings(actor).where(col(MarketplaceListing.id) == listing_id)
    ).first()
    if found is None:
        raise NotFound("Listing not found.")
    return found


def get_own_listing(session: Session, actor: Actor, listing_id: uuid.UUID) -> MarketplaceListing:
    """The seller's own listing; anyone else's (live or not) is NotFound for editing."""
    found = session.exec(
        own_listings(actor).where(col(MarketplaceListing.id) == listing_id)
    ).first()
    if found is None:
        raise NotFound("Listing not found.")
    return found


def list_versions(
    session: Session, actor: Actor | None, listing_id: uuid.UUID
) -> list[ListingVersion]:
    """Newest first."""
    listing = get_listing(session, actor, listing_id)
    return list(
        session.exec(
            select(ListingVersion)
            .where(ListingVersion.listing_id == listing.id)
            .order_by(col(ListingVersion.version).desc())
        ).all()
    )


def latest_version(session: Session, listing: MarketplaceListing) -> ListingVersion:
    """The listing's newest version (a listing always has one: publishing writes version 1)."""
    return session.exec(
        select(ListingVersion).where(
            ListingVersion.listing_id == listing.id,
            ListingVersion.version == listing.latest_version,
        )
    ).one()


def my_listings(session: Session, actor: Actor) -> list[MarketplaceListing]:
    return list(
        session.exec(own_listings(actor).order_by(col(MarketplaceListing.created_at).desc())).all()
    )


# --- what a version needs -----------------------------------------------------------------


def required_integrations(config: dict[str, Any]) -> list[dict[str, str]]:
    """The integration actions the config grants, as provider + action (no connection ids)."""
    found: list[dict[str, str]] = []
    for tool in config.get("tools") or []:
        if isinstance(tool, dict) and tool.get("kind") == "integration":
            settings = tool.get("settings") or {}
            item = {"provider": str(settings.get("provider") or ""), "action": str(tool["name"])}
            if item not in found:
                found.append(item)
    return found


def required_models(config: dict[str, Any]) -> list[str]:
    return AgentConfig.model_validate(config).model_chain


NOTHING_TO_LIST = "Publish an agent in the builder first; only published agents can be listed."


def listable_agents(session: Session, actor: Actor) -> list[Agent]:
    """The agents the actor's organization may list: published ones, with a current version
    (when there are none, the UI says `NOTHING_TO_LIST` and offers nothing to submit)."""
    query = visible_agents(actor).where(
        Agent.status == AgentStatus.PUBLISHED, col(Agent.current_version_id).is_not(None)
    )
    return list(session.exec(query.order_by(col(Agent.name)).limit(200)).all())


def _version_from_agent(session: Session, actor: Actor, agent_id: uuid.UUID | None) -> AgentVersion:
    if agent_id is None:
        raise Invalid("The agent this listing was made from no longer exists.")
    agent = get_agent(session, actor, agent_id)
    if agent.status != AgentStatus.PUBLISHED or agent.current_version_id is None:
        raise Invalid(f"Publish “{agent.name}” first: only a published agent can be listed.")
    version = session.get(AgentVersion, agent.current_version_id)
    if version is None:  # pragma: no cover - the foreign key keeps it
        raise NotFound("Agent version not found.")
    return version


def _new_listing_version(
    session: Session,
    listing: MarketplaceListing,
    version: AgentVersion,
    number: int,
    changelog: str,
) -> ListingVersion:
    row = ListingVersion(
        listing_id=listing.id,
        version=number,
        agent_version_id=version.id,
        agent_version_number=version.version,
        config=dict(version.config),
        changelog=changelog,
        required_integrations=required_integrations(version.config),
        required_models=required_models(version.config),
    )
    session.add(row)
    session.flush()
    badges.refresh_badge(session, row.id)
    return row


# --- search index (SQLite FTS5) -----------------------------------------------------------


def sync_search_index(session: Session, listing: MarketplaceListing) -> None:
    """Keep SQLite's FTS5 table in step with the listing (PostgreSQL indexes the row itself)."""
    if session.get_bind().dialect.name != "sqlite":
        return
    session.execute(
        text("DELETE FROM marketplace_search WHERE listing_id = :id"), {"id": listing.id.hex}
    )
    session.execute(
        text(
            "INSERT INTO marketplace_search (listing_id, title, summary, description, tags) "
            "VALUES (:id, :title, :summary, :description, :tags)"
        ),
        {
            "id": listing.id.hex,
            "title": listing.title,
            "summary": listing.summary,
            "description": listing.description,
            "tags": " ".join(str(t) for t in listing.tags),
        },
    )


# --- writes -------------------------------------------------------------------------------


def _first_listing_waits(session: Session, org_id: uuid.UUID) -> bool:
    approved = session.exec(
        select(func.count())
        .select_from(MarketplaceListing)
        .where(
            MarketplaceListing.publisher_org_id == org_id,
            col(MarketplaceListing.approved_at).is_not(None),
        )
    ).one()
    return approved == 0


def publish_listing(
    session: Session, actor: Actor, agent_id: uuid.UUID | None, data: dict[str, Any]
) -> MarketplaceListing:
    """List the agent's current (published) version as version 1 of a new listing."""
    require_role(actor, Role.BUILDER)
    if agent_id is None:  # nothing chosen in the form
        message = (
            "Choose the published agent to list."
            if listable_agents(session, actor)
            else NOTHING_TO_LIST
        )
        raise Invalid(message, fields={"agent_id": message})
    version = _version_from_agent(session, actor, agent_id)
    form = parse(ListingInput, data)
    taken = session.exec(
        own_listings(actor).where(col(MarketplaceListing.agent_id) == version.agent_id)
    ).first()
    if taken is not None:
        raise Conflict("This agent is listed already; add a new version to its listing instead.")
    waits = _first_listing_waits(session, actor.org_id)
    now = utcnow()
    listing = MarketplaceListing(
        publisher_org_id=actor.org_id,
        agent_id=version.agent_id,
        title=form.title,
        summary=form.summary,
        description=form.description,
        description_html=render_markdown(form.description),
        category=form.category,
        tags=form.tags,
        price_cents=form.price_cents,
        kind=form.kind,
        status=ListingStatus.PENDING if waits else ListingStatus.LIVE,
        approved_at=None if waits else now,
        created_by_id=actor.user_id,
    )
    session.add(listing)
    session.flush()
    _new_listing_version(session, listing, version, 1, "First version.")
    sync_search_index(session, listing)
    audit.record(
        session,
        "marketplace.listing_published",
        org_id=actor.org_id,
        actor_id=actor.user_id,
        target_type="listing",
        target_id=listing.id,
        status=listing.status.value,
    )
    return listing


def add_version(
    session: Session, actor: Actor, listing_id: uuid.UUID, *, changelog: str
) -> ListingVersion:
    """List the agent's current version as the listing's next version; installers are then
    told an update is available and update when they choose."""
    require_role(actor, Role.BUILDER)
    listing = get_own_listing(session, actor, listing_id)
    changelog = changelog.strip()
    if not changelog:
        raise Invalid("Say what changed: the changelog is shown to everyone who installed.")
    if len(changelog) > 5000:
        raise Invalid("The changelog may be at most 5,000 characters.")
    version = _version_from_agent(session, actor, listing.agent_id)
    latest = latest_version(session, listing)
    if latest.agent_version_id == version.id:
        raise Conflict(
            f"Version {version.version} of the agent is already listed; save a change to the "
            "agent and publish it first."
        )
    row = _new_listing_version(session, listing, version, listing.latest_version + 1, changelog)
    listing.latest_version = row.version
    listing.verified = row.verified
    listing.updated_at = utcnow()
    session.add(listing)
    audit.record(
        session,
        "marketplace.version_added",
        org_id=actor.org_id,
        actor_id=actor.user_id,
        target_type="listing",
        target_id=listing.id,
        version=row.version,
    )
    return row


def update_listing(
    session: Session, actor: Actor, listing_id: uuid.UUID, data: dict[str, Any]
) -> MarketplaceListing:
    require_role(actor, Role.BUILDER)
    listing = get_own_listing(session, actor, listing_id)
    change = parse(ListingUpdate, data)
    merged = parse(
        ListingInput,
        {
            "title": listing.title if change.title is None else change.title,
            "summary": listing.summary if change.summary is None else change.summary,
            "description": listing.description
            if change.description is None
            else change.description,
            "category": listing.category if change.category is None else change.category,
            "tags": listing.tags if change.tags is None else change.tags,
            "price_cents": listing.price_cents
            if change.price_cents is None
            else change.price_cents,
            "kind": listing.kind,
        },
    )
    listing.title, listing.summary = merged.title, merged.summary
    listing.description = merged.description
    listing.description_html = render_markdown(merged.description)
    listing.category, listing.tags = merged.category, merged.tags
    listing.price_cents = merged.price_cents
    listing.updated_at = utcnow()
    session.add(listing)
    sync_search_index(session, listing)
    audit.record(
        session,
        "marketplace.listing_updated",
        org_id=actor.org_id,
        actor_id=actor.user_id,
        target_type="listing",
        target_id=listing.id,
    )
    return listing
