"""Stripe webhook events: verified, stored once, processed off the request.

`receive` checks the signature (Stripe's scheme, `t=…,v1=HMAC-SHA256`, with the 300 s
tolerance against replays of an old capture), stores the event under Stripe's own id — a
second delivery of the same id finds the row and does nothing — and queues its job after the
commit. `process` runs in the job, once per event: an event already processed or ignored
is left alone, so a job that runs twice changes nothing.

Order: Stripe does not promise it. Each handler compares state instead of trusting arrival:
an account is read fresh from Stripe, a subscription event older than the one applied is
dropped, a refund whose sale has not arrived waits on the sale (`purchases`).
"""

from __future__ import annotations

import functools
import json
import logging
from collections.abc import Callable
from datetime import timedelta

import stripe
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from agent_platform.db import after_commit
from agent_platform.models import EventStatus, Purchase, StripeEvent
from agent_platform.models.base import utcnow
from agent_platform.settings import get_settings
from services.billing import connect, earnings, plans, purchases
from services.errors import DomainError, NotFound, Unavailable
from services.queue import queue

log = logging.getLogger(__name__)
EVENT_JOB = "agent_platform.billing_jobs.process_stripe_event"
TOLERANCE_SECONDS = 300
DONE = (EventStatus.PROCESSED, EventStatus.IGNORED)
MAX_ATTEMPTS = 8  # then the event stays FAILED, with its error, for a person to look at


class BadSignature(DomainError):
    status = 400


def enqueue_event(event_id: str) -> None:
    """One job per event id, however often asked."""
    queue("default").enqueue(
        EVENT_JOB, event_id, job_id=f"stripe-{event_id}", result_ttl=300, failure_ttl=86400
    )


def receive(session: Session, payload: bytes, signature: str | None) -> StripeEvent | None:
    """Store a delivery; None when this event id was stored before (a replay)."""
    secret = get_settings().stripe_webhook_secret
    if not secret:
        raise Unavailable("Stripe webhooks are not configured on this instance.")
    try:
        event = stripe.Webhook.construct_event(payload, signature, secret, TOLERANCE_SECONDS)
    except stripe.SignatureVerificationError as exc:
        raise BadSignature("The Stripe signature is missing, wrong or too old.") from exc
    except ValueError as exc:
        raise BadSignature("The body is not a Stripe event.") from exc
    body = json.loads(payload)
    row = StripeEvent(
        id=str(event.id),
        type=str(event.type),
        account=body.get("account"),
        stripe_created=int(event.created),
        payload=body,
    )
    existing = session.get(StripeEvent, row.id)
    if existing is not None:
        _requeue_if_unfinished(session, existing)
        return None
    try:
        with session.begin_nested():
            session.add(row)
            session.flush()
    except IntegrityError:
        return None  # the same event, delivered twice at once: the other delivery stored it
    after_commit(session, lambda: enqueue_event(row.id))
    return row


def _requeue_if_unfinished(session: Session, row: StripeEvent) -> None:
    """Stripe redelivers what it thinks failed; if our job never finished, queue it again."""
    if row.status not in DONE:
        event_id = row.id
        after_commit(session, lambda: enqueue_event(event_id))


def process(session: Session, event_id: str) -> EventStatus:
    row = session.exec(
        select(StripeEvent).where(col(StripeEvent.id) == event_id).with_for_update()
    ).first()
    if row is None:
        raise NotFound("Stripe event not found.")
    if row.status in DONE:
        return row.status
    row.attempts += 1
    status = _handle(session, row)
    row.status = status
    row.error = ""
    row.processed_at = utcnow()
    row.waiting_for = None
    if status == EventStatus.DEFERRED:
        row.waiting_for = str(row.payload["data"]["object"].get("payment_intent") or "") or None
    session.add(row)
    return status


def requeue_unfinished(session: Session, *, older_than: timedelta) -> list[str]:
    """Queue again (after the commit) events whose job never finished: the worker crashed,
    Redis lost the job, or it failed and has attempts left. Stripe got its 200 when the event
    was stored, so it will not send it again: this is what retries it.

    Also a deferred refund whose sale is known by now: the sale's job applies the refunds
    waiting for it, but one stored while that job ran (two workers, at once) is not seen by
    it; this picks it up."""
    unfinished = col(StripeEvent.status).in_([EventStatus.RECEIVED, EventStatus.FAILED]) & (
        col(StripeEvent.attempts) < MAX_ATTEMPTS
    )
    sale_known = (col(StripeEvent.status) == EventStatus.DEFERRED) & col(
        StripeEvent.waiting_for
    ).in_(select(Purchase.payment_intent_id).where(col(Purchase.payment_intent_id).is_not(None)))
    ids = list(
        session.exec(
            select(StripeEvent.id)
            .where(unfinished | sale_known, col(StripeEvent.received_at) < utcnow() - older_than)
            .order_by(col(StripeEvent.stripe_created))
            .limit(500)
        ).all()
    )
    for event_id in ids:
        after_commit(session, functools.partial(enqueue_event, event_id))
    return ids


def mark_failed(session: Session, event_id: str, error: str) -> None:
    """Remember the last failure (in its own transaction: the job's work rolled back)."""
    row = session.get(StripeEvent, event_id)
    if row is not None and row.status not in DONE:
        row.status = EventStatus.FAILED
        row.attempts += 1
        row.error = error[:500]
        session.add(row)


def _handle(session: Session, row: StripeEvent) -> EventStatus:
    obj = row.payload["data"]["object"]
    handler = HANDLERS.get(row.type)
    if handler is None:
        return EventStatus.IGNORED
    if row.account and row.type not in CONNECTED_ACCOUNT_TYPES:
        # Connect delivers connected accounts' events to the same endpoint: a sale, refund or
        # subscription there is the seller's own business, never a purchase or plan of ours
        return EventStatus.IGNORED
    return handler(session, row, obj)


def _account_updated(session: Session, row: StripeEvent, obj: dict[str, object]) -> EventStatus:
    found = connect.refresh_account(session, str(obj.get("id")))
    return EventStatus.PROCESSED if found is not None else EventStatus.IGNORED


def _checkout_paid(session: Session, row: StripeEvent, obj: dict[str, object]) -> EventStatus:
    if obj.get("mode") != "payment":
        return EventStatus.PROCESSED  # a plan: its subscription's events set the tier
    return purchases.fulfil_checkout(session, obj)


def _checkout_expired(session: Session, row: StripeEvent, obj: dict[str, object]) -> EventStatus:
    return purchases.expire_checkout(session, obj)


def _refunded(session: Session, row: StripeEvent, obj: dict[str, object]) -> EventStatus:
    return purchases.apply_refund(session, obj)


def _subscription(session: Session, row: StripeEvent, obj: dict[str, object]) -> EventStatus:
    deleted = row.type == "customer.subscription.deleted"
    plans.apply_subscription(session, obj, event_created=row.stripe_created, deleted=deleted)
    return EventStatus.PROCESSED


def _payout(session: Session, row: StripeEvent, obj: dict[str, object]) -> EventStatus:
    applied = earnings.apply_payout(session, row.account, obj, event_created=row.stripe_created)
    return EventStatus.PROCESSED if applied else EventStatus.IGNORED


# the only events we act on when they come from a connected account (`account` set)
CONNECTED_ACCOUNT_TYPES = frozenset(
    {
        "account.updated",
        "payout.created",
        "payout.updated",
        "payout.paid",
        "payout.failed",
        "payout.canceled",
    }
)
Handler = Callable[[Session, StripeEvent, dict[str, object]], EventStatus]
HANDLERS: dict[str, Handler] = {
    "account.updated": _account_updated,
    "checkout.session.completed": _checkout_paid,
    "checkout.session.async_payment_succeeded": _checkout_paid,
    "checkout.session.expired": _checkout_expired,
    "charge.refunded": _refunded,
    "customer.subscription.created": _subscription,
    "customer.subscription.updated": _subscription,
    "customer.subscription.deleted": _subscription,
    "payout.created": _payout,
    "payout.updated": _payout,
    "payout.paid": _payout,
    "payout.failed": _payout,
    "payout.canceled": _payout,
}
