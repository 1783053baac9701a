"""Service listings bill runs as metered usage: one Stripe meter event per billed run.

A run of a service listing is billed only once it is committed: `bill_service_run` queues the
report after the commit, and the job sends the meter event with the run's id as both its
`identifier` (Stripe keeps one event per identifier) and, derived, its idempotency key (a
retried job gets Stripe's first answer back). The meter and its metered price are set up in
Stripe (STRIPE_METER_EVENT names the meter's event); the event is counted against the
buying organization's Stripe customer, the one its plan uses.

Not yet called by the runtime: running a service listing (the buyer running the seller's
pinned version) is still to come; this is the billing half it will call.
"""

from __future__ import annotations

import uuid
from typing import Any

from sqlmodel import Session

from agent_platform.db import after_commit
from agent_platform.models import Execution, OrgSubscription
from agent_platform.settings import get_settings
from services.billing import stripe_api
from services.queue import queue

METER_JOB = "agent_platform.billing_jobs.report_service_run"


def bill_service_run(session: Session, run_id: uuid.UUID) -> None:
    """Queue the usage record of one run (after this transaction commits; never twice)."""
    if not stripe_api.stripe_configured():
        return

    def send() -> None:
        queue("default").enqueue(
            METER_JOB, str(run_id), job_id=f"meter-{run_id}", result_ttl=300, failure_ttl=86400
        )

    after_commit(session, send)


def report_service_run(session: Session, run_id: uuid.UUID) -> str | None:
    """Send the run's meter event; None when there is nothing to bill (no such run, or its
    organization has no Stripe customer)."""
    run = session.get(Execution, run_id)
    if run is None:
        return None
    customer = session.get(OrgSubscription, run.org_id)
    if customer is None:
        return None
    at = run.finished_at or run.created_at
    params: Any = {
        "event_name": get_settings().stripe_meter_event,
        "identifier": f"run-{run.id}",
        "timestamp": int(at.timestamp()),
        "payload": {"stripe_customer_id": customer.stripe_customer_id, "value": "1"},
    }
    event = stripe_api.call(
        "record the run's usage",
        lambda c: c.v1.billing.meter_events.create(params, stripe_api.options(f"meter-{run.id}")),
    )
    return str(event.identifier)
