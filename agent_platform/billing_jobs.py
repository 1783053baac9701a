"""RQ jobs of Stripe webhook events (named by import path in services.billing.events)."""

from __future__ import annotations

import uuid
from datetime import timedelta

from agent_platform.db import session_scope
from services.billing import events, usage


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


def requeue_stripe_events() -> int:
    """Periodic (agent_platform.worker): queue again the events whose job never finished."""
    with session_scope() as session:
        return len(events.requeue_unfinished(session, older_than=timedelta(minutes=1)))


def report_service_run(run_id: str) -> str | None:
    """Send one billed run's meter event to Stripe (services.billing.usage)."""
    with session_scope() as session:
        return usage.report_service_run(session, uuid.UUID(run_id))
