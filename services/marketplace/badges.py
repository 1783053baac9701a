"""The verified tier: a listing version's badge is the testing engine's answer, re-asked.

Earned, not granted: `services.testing.verification.verification` decides (the platform safety
suite passed in full and the agent's own functional suites at their thresholds, recently, on
this exact agent version). The answer is asked when a version is listed, the moment a suite
run on that agent version ends (`refresh_badges_of`, a job the testing engine enqueues after
its commit) and again on a schedule (`recheck_badges`, a periodic job, which also catches a
lost job and answers that went stale); a failing or stale re-check takes the badge away.
What the badge rests on — the suites, their scores and when they ran — is stored beside it and
shown, with when it was last checked.
"""

from __future__ import annotations

import uuid
from typing import Any

from sqlmodel import Session, col, select

from agent_platform.models import ListingStatus, ListingVersion, MarketplaceListing
from agent_platform.models.base import utcnow
from services.errors import NotFound
from services.testing.verification import verification


def refresh_badge(session: Session, listing_version_id: uuid.UUID) -> ListingVersion:
    """Ask again whether the version is verified, store the answer and what it rests on."""
    row = session.get(ListingVersion, listing_version_id)
    if row is None:
        raise NotFound("Listing version not found.")
    if row.agent_version_id is None:
        verified, basis = False, _basis(None, ["The agent version was deleted by its seller."])
    else:
        answer = verification(session, row.agent_version_id)
        verified = answer.verified
        basis = _basis(answer.checked_at, answer.reasons, answer.evidence)
    row.verified = verified
    row.verified_checked_at = utcnow()
    row.verification = basis
    session.add(row)
    listing = session.get(MarketplaceListing, row.listing_id)
    if listing is not None and listing.latest_version == row.version:
        listing.verified = verified
        session.add(listing)
    return row


def refresh_badges_of(session: Session, agent_version_id: uuid.UUID) -> int:
    """Re-check every listing version made from this agent version; returns how many."""
    ids = session.exec(
        select(ListingVersion.id).where(ListingVersion.agent_version_id == agent_version_id)
    ).all()
    for listing_version_id in ids:
        refresh_badge(session, listing_version_id)
    return len(ids)


def _basis(ran_at: Any, reasons: list[str], evidence: Any = ()) -> dict[str, Any]:
    return {
        "tests_ran_at": ran_at.isoformat() if ran_at else None,
        "reasons": list(reasons),
        "suites": [
            {
                "suite": e.suite,
                "status": e.status,
                "score": e.score,
                "passed_cases": e.passed_cases,
                "failed_cases": e.failed_cases,
                "finished_at": e.finished_at.isoformat() if e.finished_at else None,
            }
            for e in evidence
        ],
    }


def recheck_badges(session: Session, *, limit: int = 500) -> int:
    """Re-check the latest version of live listings, least recently checked first; returns
    how many were checked. The periodic job calls this; a large marketplace is covered over
    several runs, `limit` at a time."""
    rows = session.exec(
        select(ListingVersion)
        .join(MarketplaceListing, col(MarketplaceListing.id) == ListingVersion.listing_id)
        .where(
            MarketplaceListing.status == ListingStatus.LIVE,
            ListingVersion.version == MarketplaceListing.latest_version,
        )
        .order_by(col(ListingVersion.verified_checked_at).asc().nulls_first())
        .limit(limit)
    ).all()
    for row in rows:
        refresh_badge(session, row.id)
    return len(rows)
