"""Whether an organization holds the licence of a paid listing: a paid, unrefunded purchase.

Its own small module so the marketplace's install rules can ask without importing the
purchase flow (which itself installs).
"""

from __future__ import annotations

import uuid

from sqlmodel import Session, col, select

from agent_platform.models import Purchase, PurchaseStatus


def licensed(session: Session, org_id: uuid.UUID, listing_id: uuid.UUID) -> bool:
    return (
        session.exec(
            select(Purchase.id).where(
                col(Purchase.org_id) == org_id,
                col(Purchase.listing_id) == listing_id,
                col(Purchase.status) == PurchaseStatus.PAID,
            )
        ).first()
        is not None
    )


def ever_refunded(session: Session, org_id: uuid.UUID, listing_id: uuid.UUID) -> bool:
    return (
        session.exec(
            select(Purchase.id).where(
                col(Purchase.org_id) == org_id,
                col(Purchase.listing_id) == listing_id,
                col(Purchase.status) == PurchaseStatus.REFUNDED,
            )
        ).first()
        is not None
    )
