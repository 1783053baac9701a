"""RQ jobs of Stripe webhook events (named by import path in services.billing.events), metered
service runs, and sellers' monthly service-run payouts."""

from __future__ import annotations

import logging
import uuid
from datetime import timedelta

from agent_platform.db import session_scope
from services.billing import events, service_payouts, usage
from services.errors import Unavailable

log = logging.getLogger(__name__)


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


def pay_service_earnings() -> int:
    """Periodic (agent_platform.worker): transfer each seller's ended months of service-run
    earnings not paid yet. Each (seller, month) in its own transaction, so a Stripe failure
    for one seller keeps the others' recorded transfers; that one is tried on the next run
    (the same idempotency key reaches the same transfer). Returns how many were paid."""
    with session_scope() as session:
        due = service_payouts.due_payouts(session)
    paid = 0
    for org_id, month in due:
        try:
            with session_scope() as session:
                paid += service_payouts.pay_month(session, org_id, month) is not None
        except Unavailable as exc:
            log.warning("service payout %s %s not made: %s", org_id, month, exc.message)
    return paid
