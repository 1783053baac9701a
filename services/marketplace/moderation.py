"""The instance admin's marketplace queue: pending listings and open reports.

Like `services.instance_admin`, this reads across organizations, so every function starts by
checking that the person is the instance admin (`require_instance_admin`), whatever called it.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from sqlmodel import Session, col, select

from agent_platform.models import (
    ListingStatus,
    MarketplaceListing,
    MarketplaceReport,
    MarketplaceReview,
    Organization,
    ReportStatus,
)
from agent_platform.models.base import utcnow
from services import audit
from services.errors import Invalid, NotFound
from services.instance_admin import require_instance_admin
from services.marketplace.reviews import recount


@dataclass(frozen=True)
class PendingListing:
    id: uuid.UUID
    title: str
    summary: str
    publisher: str
    status: ListingStatus
    created_at: datetime


@dataclass(frozen=True)
class OpenReport:
    id: uuid.UUID
    listing_id: uuid.UUID
    listing_title: str
    review_id: uuid.UUID | None
    review_text: str
    reason: str
    reporter_org: str
    created_at: datetime


def pending_listings(session: Session, user_id: uuid.UUID | None) -> list[PendingListing]:
    require_instance_admin(session, user_id)
    rows = session.exec(
        select(MarketplaceListing, Organization.name)
        .join(Organization, col(Organization.id) == MarketplaceListing.publisher_org_id)
        .where(MarketplaceListing.status == ListingStatus.PENDING)
        .order_by(col(MarketplaceListing.created_at))
    ).all()
    return [
        PendingListing(row.id, row.title, row.summary, name, row.status, row.created_at)
        for row, name in rows
    ]


def open_reports(session: Session, user_id: uuid.UUID | None) -> list[OpenReport]:
    require_instance_admin(session, user_id)
    rows = session.exec(
        select(MarketplaceReport, MarketplaceListing.title, Organization.name)
        .join(MarketplaceListing, col(MarketplaceListing.id) == MarketplaceReport.listing_id)
        .join(Organization, col(Organization.id) == MarketplaceReport.org_id)
        .where(MarketplaceReport.status == ReportStatus.OPEN)
        .order_by(col(MarketplaceReport.created_at))
    ).all()
    found: list[OpenReport] = []
    for report, title, org in rows:
        review = session.get(MarketplaceReview, report.review_id) if report.review_id else None
        found.append(
            OpenReport(
                id=report.id,
                listing_id=report.listing_id,
                listing_title=title,
                review_id=report.review_id,
                review_text=f"{review.rating}★ {review.body}" if review else "",
                reason=report.reason,
                reporter_org=org,
                created_at=report.created_at,
            )
        )
    return found


def _listing(session: Session, listing_id: uuid.UUID) -> MarketplaceListing:
    listing = session.get(MarketplaceListing, listing_id)
    if listing is None:
        raise NotFound("Listing not found.")
    return listing


def approve_listing(
    session: Session, user_id: uuid.UUID | None, listing_id: uuid.UUID
) -> MarketplaceListing:
    """Put a pending (or taken-down) listing live; its organization's next listings go live
    without waiting."""
    require_instance_admin(session, user_id)
    listing = _listing(session, listing_id)
    listing.status = ListingStatus.LIVE
    listing.approved_at = listing.approved_at or utcnow()
    listing.moderation_note = ""
    session.add(listing)
    audit.record(
        session,
        "marketplace.listing_approved",
        org_id=listing.publisher_org_id,
        actor_id=user_id,
        target_type="listing",
        target_id=listing.id,
    )
    return listing


def take_down_listing(
    session: Session, user_id: uuid.UUID | None, listing_id: uuid.UUID, note: str
) -> MarketplaceListing:
    """Off the marketplace at once (installed copies stay: they are the buyers' agents)."""
    require_instance_admin(session, user_id)
    note = note.strip()
    if not note:
        raise Invalid("Say why: the seller sees the reason.")
    listing = _listing(session, listing_id)
    listing.status = ListingStatus.TAKEN_DOWN
    listing.moderation_note = note[:500]
    session.add(listing)
    audit.record(
        session,
        "marketplace.listing_taken_down",
        org_id=listing.publisher_org_id,
        actor_id=user_id,
        target_type="listing",
        target_id=listing.id,
        note=note[:500],
    )
    return listing


def resolve_report(
    session: Session,
    user_id: uuid.UUID | None,
    report_id: uuid.UUID,
    action: Literal["dismiss", "hide_review", "take_down"],
) -> MarketplaceReport:
    """Close a report: dismiss it, hide the reported review (it stops counting), or take
    the listing down."""
    require_instance_admin(session, user_id)
    report = session.get(MarketplaceReport, report_id)
    if report is None:
        raise NotFound("Report not found.")
    if action == "hide_review":
        review = session.get(MarketplaceReview, report.review_id) if report.review_id else None
        if review is None:
            raise Invalid("This report is about a listing, not a review.")
        review.hidden = True
        session.add(review)
        session.flush()
        recount(session, _listing(session, review.listing_id))
    elif action == "take_down":
        take_down_listing(session, user_id, report.listing_id, f"Reported: {report.reason}")
    elif action != "dismiss":
        raise Invalid("Choose dismiss, hide_review or take_down.")
    report.status = ReportStatus.RESOLVED
    report.resolution = action
    report.resolved_by_id = user_id
    report.resolved_at = utcnow()
    session.add(report)
    audit.record(
        session,
        "marketplace.report_resolved",
        org_id=None,
        actor_id=user_id,
        target_type="report",
        target_id=report.id,
        resolution=action,
    )
    return report
