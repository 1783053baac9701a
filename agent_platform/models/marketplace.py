"""The marketplace: listings of published agent versions, their versions, installs, reviews
and the reports that send a review (or a listing) to moderation.

Why a listing version keeps its own copy of the agent's config: an install must still work
when the seller edits, archives or deletes the agent the listing was made from.
"""

from __future__ import annotations

import enum
import uuid
from datetime import datetime
from decimal import Decimal
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


class ListingKind(enum.StrEnum):
    TEMPLATE = "template"  # the buyer gets an editable copy in their organization
    SERVICE = "service"  # the buyer runs the seller's pinned version (needs billing)


class ListingStatus(enum.StrEnum):
    PENDING = "pending"  # a seller's first listing waits for an instance admin
    LIVE = "live"
    TAKEN_DOWN = "taken_down"


class ReportStatus(enum.StrEnum):
    OPEN = "open"
    RESOLVED = "resolved"


class MarketplaceListing(SQLModel, table=True):
    __tablename__ = "marketplace_listings"
    __table_args__ = (sa.Index("ix_marketplace_listings_status_created", "status", "created_at"),)
    id: uuid.UUID = id_field()
    publisher_org_id: uuid.UUID = fk("organizations.id", ondelete="CASCADE")
    agent_id: uuid.UUID | None = fk("agents.id", ondelete="SET NULL", nullable=True)
    title: str = Field(max_length=120)
    summary: str = Field(default="", max_length=300)
    description: str = Field(default="", sa_type=sa.Text, nullable=False)  # Markdown
    description_html: str = Field(default="", sa_type=sa.Text, nullable=False)  # sanitised
    category: str = Field(default="other", max_length=40, index=True)
    tags: list[Any] = json_field(list)
    icon_key: str | None = Field(default=None, max_length=255)
    screenshot_keys: list[Any] = json_field(list)
    price_cents: int = Field(default=0, ge=0)
    currency: str = Field(default="usd", max_length=3)
    kind: ListingKind = enum_field(ListingKind, ListingKind.TEMPLATE)
    status: ListingStatus = enum_field(ListingStatus, ListingStatus.PENDING)
    moderation_note: str = Field(default="", max_length=500)
    latest_version: int = 1
    verified: bool = False  # the latest version's badge, copied here to filter on
    downloads: int = 0  # installing organizations, each counted once
    rating_sum: int = 0
    rating_count: int = 0
    rating: float = 0.0  # the Bayesian average shown (services/marketplace/reviews.py)
    created_by_id: uuid.UUID | None = fk(
        "users.id", ondelete="SET NULL", nullable=True, index=False
    )
    created_at: datetime = created_field()
    updated_at: datetime = created_field()
    approved_at: datetime | None = time_field()


class ListingVersion(SQLModel, table=True):
    __tablename__ = "marketplace_listing_versions"
    __table_args__ = (
        sa.UniqueConstraint("listing_id", "version", name="uq_marketplace_listing_version"),
    )
    id: uuid.UUID = id_field()
    listing_id: uuid.UUID = fk("marketplace_listings.id", ondelete="CASCADE")
    version: int
    agent_version_id: uuid.UUID | None = fk(
        "agent_versions.id", ondelete="SET NULL", nullable=True, index=False
    )
    agent_version_number: int = 0
    config: dict[str, Any] = json_field()
    changelog: str = Field(default="", sa_type=sa.Text, nullable=False)
    required_integrations: list[Any] = json_field(list)
    required_models: list[Any] = json_field(list)
    verified: bool = False
    verified_checked_at: datetime | None = time_field()
    verification: dict[str, Any] = json_field()  # what the badge rests on, or why not
    created_at: datetime = created_field()


class MarketplaceInstall(SQLModel, table=True):
    """One per organization and listing: downloads count installing organizations."""

    __tablename__ = "marketplace_installs"
    __table_args__ = (
        sa.UniqueConstraint("org_id", "listing_id", name="uq_marketplace_install_org_listing"),
    )
    id: uuid.UUID = id_field()
    org_id: uuid.UUID = fk("organizations.id", ondelete="CASCADE", index=False)
    listing_id: uuid.UUID = fk("marketplace_listings.id", ondelete="CASCADE")
    listing_version_id: uuid.UUID | None = fk(
        "marketplace_listing_versions.id", ondelete="SET NULL", nullable=True, index=False
    )
    version: int = 1
    agent_id: uuid.UUID | None = fk("agents.id", ondelete="SET NULL", nullable=True, index=False)
    installed_by_id: uuid.UUID | None = fk(
        "users.id", ondelete="SET NULL", nullable=True, index=False
    )
    created_at: datetime = created_field()
    updated_at: datetime = created_field()


class ServiceSubscription(SQLModel, table=True):
    """An organization's right to run a service listing's version (one per org and listing),
    with the most a run may spend, which the subscriber sets."""

    __tablename__ = "marketplace_subscriptions"
    __table_args__ = (
        sa.UniqueConstraint("org_id", "listing_id", name="uq_marketplace_subscription_org_listing"),
    )
    id: uuid.UUID = id_field()
    org_id: uuid.UUID = fk("organizations.id", ondelete="CASCADE", index=False)
    listing_id: uuid.UUID = fk("marketplace_listings.id", ondelete="CASCADE")
    max_spend_per_run_usd: Decimal = Field(sa_type=sa.Numeric(14, 6), nullable=False)
    subscribed_by_id: uuid.UUID | None = fk(
        "users.id", ondelete="SET NULL", nullable=True, index=False
    )
    created_at: datetime = created_field()
    updated_at: datetime = created_field()


class MarketplaceReview(SQLModel, table=True):
    __tablename__ = "marketplace_reviews"
    __table_args__ = (
        sa.UniqueConstraint("listing_id", "org_id", name="uq_marketplace_review_listing_org"),
    )
    id: uuid.UUID = id_field()
    listing_id: uuid.UUID = fk("marketplace_listings.id", ondelete="CASCADE")
    org_id: uuid.UUID = fk("organizations.id", ondelete="CASCADE", index=False)
    author_id: uuid.UUID | None = fk("users.id", ondelete="SET NULL", nullable=True, index=False)
    rating: int
    body: str = Field(default="", sa_type=sa.Text, nullable=False)
    reply: str | None = Field(default=None, sa_type=sa.Text, nullable=True)
    replied_at: datetime | None = time_field()
    hidden: bool = False  # taken down by moderation: not shown, not counted
    created_at: datetime = created_field()
    updated_at: datetime = created_field()


class MarketplaceReport(SQLModel, table=True):
    """Someone's report of a review (or of a listing, with no review): a moderation item."""

    __tablename__ = "marketplace_reports"
    __table_args__ = (sa.Index("ix_marketplace_reports_status", "status", "created_at"),)
    id: uuid.UUID = id_field()
    listing_id: uuid.UUID = fk("marketplace_listings.id", ondelete="CASCADE")
    review_id: uuid.UUID | None = fk(
        "marketplace_reviews.id", ondelete="CASCADE", nullable=True, index=False
    )
    org_id: uuid.UUID = fk("organizations.id", ondelete="CASCADE", index=False)
    reporter_id: uuid.UUID | None = fk("users.id", ondelete="SET NULL", nullable=True, index=False)
    reason: str = Field(max_length=1000)
    status: ReportStatus = enum_field(ReportStatus, ReportStatus.OPEN)
    resolution: str = Field(default="", max_length=40)
    resolved_by_id: uuid.UUID | None = fk(
        "users.id", ondelete="SET NULL", nullable=True, index=False
    )
    resolved_at: datetime | None = time_field()
    created_at: datetime = created_field()
