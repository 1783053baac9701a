"""Service listings bill runs as metered usage: one Stripe meter event per billed run, whose
value is the run's price in cents.

The platform's metered Stripe Price (on the meter STRIPE_METER_EVENT names) must be $0.01 per
unit: a run of a $0.25 service sends value "25", so the buyer's invoice shows $0.25 for it. The
price is the listing's when the run started (`executions.service_price_cents`); a later price
change does not reach runs already made.

A run of a service listing is billed only once it is committed: `bill_service_run` queues the
report after the commit, and the job sends the meter event with the run's id as both its
`identifier` (Stripe keeps one event per identifier) and, derived, its idempotency key (a
retried job gets Stripe's first answer back). The meter and its metered price are set up in
Stripe (STRIPE_METER_EVENT names the meter's event); the event is counted against the
buying organization's Stripe customer, the one its plan uses.
"""

from __future__ import annotations

import uuid
from typing import Any

from sqlmodel import Session

from agent_platform.db import after_commit
from agent_platform.models import Execution, MarketplaceListing, OrgSubscription
from agent_platform.settings import get_settings
from services.billing import stripe_api
from services.queue import queue

METER_JOB = "agent_platform.billing_jobs.report_service_run"


def price_of_run(session: Session, run: Execution) -> int:
    """What one service run costs its buyer, in cents: the price recorded when it started (a
    run from before that was recorded: its listing's price now; 0 when the listing is gone)."""
    if run.service_listing_id is None:
        return 0
    if run.service_price_cents is not None:
        return run.service_price_cents
    listing = session.get(MarketplaceListing, run.service_listing_id)
    return listing.price_cents if listing is not None else 0


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
    price = price_of_run(session, run)
    if customer is None or price <= 0:
        return None
    at = run.finished_at or run.created_at
    params: Any = {
        "event_name": get_settings().stripe_meter_event,
        "identifier": f"run-{run.id}",
        "timestamp": int(at.timestamp()),
        "payload": {"stripe_customer_id": customer.stripe_customer_id, "value": str(price)},
    }
    event = stripe_api.call(
        "record the run's usage",
        lambda c: c.v1.billing.meter_events.create(params, stripe_api.options(f"meter-{run.id}")),
    )
    return str(event.identifier)
