"""Reviews: one per organization per listing, only from organizations that installed it.

Editable by its organization; the seller may reply once (and edit the reply); anyone who can
see it may report it, which puts it in the instance admin's queue. Nobody reviews their own
listing.

The rating shown is a Bayesian average, so one 5-star review does not outrank fifty 4.8s:

    shown = (C · m + sum of ratings) / (C + number of ratings)

with m = PRIOR_MEAN = 3.0 (the middle of the 1–5 scale: a listing nobody rated is "average")
and C = PRIOR_WEIGHT = 5 (the prior counts as five reviews; after ~20 real reviews the
listing's own mean dominates). Hidden (moderated) reviews count for nothing.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

from pydantic import BaseModel, Field
from sqlmodel import Session, col, func, select

from agent_platform.models import (
    MarketplaceListing,
    MarketplaceReport,
    MarketplaceReview,
    Organization,
    Role,
)
from agent_platform.models.base import utcnow
from services import audit
from services.access import Actor, require_role
from services.billing.licences import licensed
from services.errors import Conflict, Forbidden, Invalid, NotFound
from services.marketplace.installs import install_of
from services.marketplace.listings import get_listing, get_own_listing
from services.validation import parse

PRIOR_MEAN = 3.0
PRIOR_WEIGHT = 5


def bayesian(rating_sum: int, rating_count: int) -> float:
    return (PRIOR_WEIGHT * PRIOR_MEAN + rating_sum) / (PRIOR_WEIGHT + rating_count)


class ReviewInput(BaseModel):
    rating: int = Field(ge=1, le=5)
    body: str = Field(default="", max_length=5000)


@dataclass(frozen=True)
class ReviewRow:
    id: uuid.UUID
    org_name: str
    rating: int
    body: str
    reply: str | None
    replied_at: datetime | None
    created_at: datetime
    updated_at: datetime
    mine: bool


def recount(session: Session, listing: MarketplaceListing) -> None:
    """Sum and count from the visible reviews (never incremented by hand, so edits, hiding
    and deletions cannot drift), then the shown rating."""
    total, count = session.exec(
        select(func.coalesce(func.sum(MarketplaceReview.rating), 0), func.count()).where(
            MarketplaceReview.listing_id == listing.id,
            col(MarketplaceReview.hidden).is_(False),
        )
    ).one()
    listing.rating_sum, listing.rating_count = int(total), int(count)
    listing.rating = round(bayesian(listing.rating_sum, listing.rating_count), 4)
    session.add(listing)


def review_listing(
    session: Session, actor: Actor, listing_id: uuid.UUID, data: dict[str, object]
) -> MarketplaceReview:
    """Write the organization's review, or edit it (one per organization)."""
    require_role(actor, Role.BUILDER)
    listing = get_listing(session, actor, listing_id)
    if listing.publisher_org_id == actor.org_id:
        raise Forbidden("You cannot review your own listing.")
    if install_of(session, actor, listing.id) is None:
        raise Forbidden("Only organizations that installed this listing can review it.")
    if listing.price_cents > 0 and not licensed(session, actor.org_id, listing.id):
        raise Forbidden("Only organizations that bought this listing can review it.")
    form = parse(ReviewInput, dict(data))
    review = session.exec(
        select(MarketplaceReview)
        .where(MarketplaceReview.listing_id == listing.id, MarketplaceReview.org_id == actor.org_id)
        .with_for_update()
    ).first()
    if review is None:
        review = MarketplaceReview(listing_id=listing.id, org_id=actor.org_id, rating=form.rating)
    review.rating, review.body = form.rating, form.body.strip()
    review.author_id = actor.user_id
    review.updated_at = utcnow()
    session.add(review)
    session.flush()
    recount(session, listing)
    audit.record(
        session,
        "marketplace.reviewed",
        org_id=actor.org_id,
        actor_id=actor.user_id,
        target_type="listing",
        target_id=listing.id,
        rating=form.rating,
    )
    return review


def _visible_review(session: Session, actor: Actor, review_id: uuid.UUID) -> MarketplaceReview:
    review = session.get(MarketplaceReview, review_id)
    if review is None or review.hidden:
        raise NotFound("Review not found.")
    get_listing(session, actor, review.listing_id)  # NotFound unless the listing is visible
    return review


def reply_to_review(
    session: Session, actor: Actor, review_id: uuid.UUID, reply: str
) -> MarketplaceReview:
    """The seller's public answer to a review (replacing an earlier one)."""
    require_role(actor, Role.BUILDER)
    review = _visible_review(session, actor, review_id)
    try:
        get_own_listing(session, actor, review.listing_id)
    except NotFound as exc:
        raise NotFound("Review not found.") from exc
    reply = reply.strip()
    if not reply:
        raise Invalid("The reply is empty.")
    if len(reply) > 5000:
        raise Invalid("A reply may be at most 5,000 characters.")
    review.reply, review.replied_at = reply, utcnow()
    session.add(review)
    audit.record(
        session,
        "marketplace.review_replied",
        org_id=actor.org_id,
        actor_id=actor.user_id,
        target_type="review",
        target_id=review.id,
    )
    return review


def report(
    session: Session,
    actor: Actor,
    listing_id: uuid.UUID,
    reason: str,
    *,
    review_id: uuid.UUID | None = None,
) -> MarketplaceReport:
    """Report a listing, or one of its reviews, to the instance admin."""
    listing = get_listing(session, actor, listing_id)
    if review_id is not None:
        review = _visible_review(session, actor, review_id)
        if review.listing_id != listing.id:
            raise NotFound("Review not found.")
    reason = reason.strip()
    if not reason:
        raise Invalid("Say what is wrong, so the admin can judge it.")
    if len(reason) > 1000:
        raise Invalid("A report may be at most 1,000 characters.")
    already = session.exec(
        select(MarketplaceReport).where(
            MarketplaceReport.org_id == actor.org_id,
            MarketplaceReport.listing_id == listing.id,
            MarketplaceReport.review_id == review_id,
            MarketplaceReport.status == "open",
        )
    ).first()
    if already is not None:
        raise Conflict("Your organization reported this already; an admin will look at it.")
    row = MarketplaceReport(
        listing_id=listing.id,
        review_id=review_id,
        org_id=actor.org_id,
        reporter_id=actor.user_id,
        reason=reason,
    )
    session.add(row)
    audit.record(
        session,
        "marketplace.reported",
        org_id=actor.org_id,
        actor_id=actor.user_id,
        target_type="review" if review_id else "listing",
        target_id=review_id or listing.id,
    )
    return row


def list_reviews(
    session: Session, actor: Actor | None, listing_id: uuid.UUID, *, limit: int = 50
) -> list[ReviewRow]:
    """Visible reviews of a visible listing, newest first; the actor's own org's marked."""
    listing = get_listing(session, actor, listing_id)
    rows = session.exec(
        select(MarketplaceReview, Organization.name)
        .join(Organization, col(Organization.id) == MarketplaceReview.org_id)
        .where(MarketplaceReview.listing_id == listing.id, col(MarketplaceReview.hidden).is_(False))
        .order_by(col(MarketplaceReview.updated_at).desc())
        .limit(max(1, min(limit, 200)))
    ).all()
    return [
        ReviewRow(
            id=r.id,
            org_name=name,
            rating=r.rating,
            body=r.body,
            reply=r.reply,
            replied_at=r.replied_at,
            created_at=r.created_at,
            updated_at=r.updated_at,
            mine=actor is not None and r.org_id == actor.org_id,
        )
        for r, name in rows
    ]
