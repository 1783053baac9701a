"""RQ job of Stripe webhook events (named by import path in services.billing.events)."""

from __future__ import annotations

from agent_platform.db import session_scope
from services.billing import events


def process_stripe_event(event_id: str) -> str:
    """Process one stored event in one transaction; a failure rolls its work back, is written
    on the event row, and fails the job (Stripe's redelivery of the event queues it again)."""
    try:
        with session_scope() as session:
            return events.process(session, event_id).value
    except Exception as exc:
        with session_scope() as session:
            events.mark_failed(session, event_id, f"{type(exc).__name__}: {exc}")
        raise
