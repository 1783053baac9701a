"""A listing's page, read in one place for the web page and the REST API alike."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlmodel import Session

from agent_platform.models import (
    ListingVersion,
    MarketplaceInstall,
    MarketplaceListing,
    Organization,
)
from services.access import Actor
from services.marketplace.installs import install_of
from services.marketplace.listings import list_versions
from services.marketplace.reviews import ReviewRow, list_reviews


@dataclass(frozen=True)
class ListingDetail:
    listing: MarketplaceListing
    publisher: str
    versions: list[ListingVersion]  # newest first
    reviews: list[ReviewRow]
    install: MarketplaceInstall | None
    is_seller: bool

    @property
    def latest(self) -> ListingVersion:
        return self.versions[0]

    @property
    def badge(self) -> dict[str, Any]:
        """What the verified badge rests on, and when it was last checked."""
        latest = self.latest
        checked: datetime | None = latest.verified_checked_at
        return {
            "verified": latest.verified,
            "checked_at": checked.isoformat() if checked else None,
            **latest.verification,
        }

    @property
    def badge_basis(self) -> str:
        """The badge's basis in a sentence: which test runs it rests on (if any) and when it
        was last checked, in UTC."""
        badge = self.badge
        ran, checked = _utc_minute(badge.get("tests_ran_at")), _utc_minute(badge["checked_at"])
        rests = (
            f"Rests on the latest version's test runs of {ran} UTC"
            if ran
            else "The latest version has no test runs yet"
        )
        return f"{rests}; last checked {checked} UTC." if checked else f"{rests}; not checked yet."

    @property
    def update_available(self) -> int | None:
        if self.install is None or self.listing.latest_version <= self.install.version:
            return None
        return self.listing.latest_version


def _utc_minute(iso: str | None) -> str:
    """`2026-12-01T10:05:09+00:00` as `2026-12-01 10:05` (the stored times are UTC)."""
    return iso[:16].replace("T", " ") if iso else ""


def listing_detail(session: Session, actor: Actor | None, listing_id: uuid.UUID) -> ListingDetail:
    versions = list_versions(session, actor, listing_id)  # NotFound unless visible
    listing = session.get(MarketplaceListing, listing_id)
    assert listing is not None  # list_versions read it
    org = session.get(Organization, listing.publisher_org_id)
    return ListingDetail(
        listing=listing,
        publisher=org.name if org else "",
        versions=versions,
        reviews=list_reviews(session, actor, listing_id),
        install=install_of(session, actor, listing_id) if actor else None,
        is_seller=actor is not None and actor.org_id == listing.publisher_org_id,
    )
