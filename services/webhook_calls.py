"""Calls to a webhook trigger's URL: who the call acts as, its rate limit, its run.

Why shaped like this:
- A call acts as the trigger's creator with at most their *current* role, so a trigger never
  outlives or outranks the person who made it: demoted below builder or gone from the
  organization, their triggers refuse calls in words.
- The rate limit is taken before the signature or the payload is read (a flood costs one
  Redis step per call), in the platform's one limiter (`services.ratelimit`).
- The same `Idempotency-Key`, or the same signed bytes when no key was sent, is the same
  delivery: stored as the run's idempotency key, namespaced by trigger, so the database's
  unique index is what decides, not a cache.
- The target is named by `target_type` (agents today); `_start` is the one place a new kind
  of target (a workflow, a test suite) plugs in.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, assert_never

from redis.asyncio import Redis as AsyncRedis
from sqlmodel import Session, col, select

from agent_platform.db import Transaction
from agent_platform.models import (
    Execution,
    Membership,
    Role,
    TriggerTarget,
    User,
    WebhookTrigger,
)
from agent_platform.models.base import utcnow
from services import ratelimit, runs, secrets
from services.access import ROLE_RANK, Actor
from services.errors import Conflict, Forbidden, Invalid, NotFound
from services.runtime.follow import follow
from services.tokens import token_hash
from services.webhook_delivery import (
    idempotency_key,
    map_payload,
    parse_payload,
    replay_key,
    verify_signature,
)
from services.webhooks import TOKEN_PREFIX

LAST_CALLED_EVERY = timedelta(seconds=10)  # a hot trigger's row is not rewritten per call


@dataclass(frozen=True)
class Call:
    """One HTTP call to a trigger's URL, as the route read it."""

    body: bytes
    signature: str | None = None  # X-Signature
    timestamp: str | None = None  # X-Timestamp
    key: str | None = None  # Idempotency-Key
    client_ip: str | None = None
    now: float | None = None  # the server's clock (tests move it)


@dataclass(frozen=True)
class Delivery:
    """What a call started: the run (new, or the earlier one for the same key)."""

    run: Execution
    created: bool
    actor: Actor
    max_wait_seconds: int


def trigger_for_token(session: Session, token: str) -> WebhookTrigger:
    """The trigger behind a URL token; unknown and malformed tokens are the same 404."""
    missing = NotFound("No webhook trigger at this address.")
    if not token.startswith(TOKEN_PREFIX) or len(token) > 100:
        raise missing
    found = session.exec(
        select(WebhookTrigger).where(WebhookTrigger.token_hash == token_hash(token))
    ).first()
    if found is None:
        raise missing
    return found


def _caller(session: Session, trigger: WebhookTrigger, client_ip: str | None) -> Actor:
    """The trigger's creator with their current role (they must still be an active member)."""
    found = None
    if trigger.created_by_id is not None:
        found = session.exec(
            select(Membership.role)
            .join(User, col(User.id) == col(Membership.user_id))
            .where(
                Membership.org_id == trigger.org_id,
                Membership.user_id == trigger.created_by_id,
                col(User.is_active).is_(True),
            )
        ).first()
    if found is None:
        raise Forbidden(
            "The person who created this trigger is no longer a member of the organization; "
            "a current member must create a new trigger."
        )
    role = Role(found)
    if ROLE_RANK[role] < ROLE_RANK[Role.BUILDER]:
        raise Forbidden(
            "The person who created this trigger may no longer run agents (their role is "
            f"{role.value}); a builder must create a new trigger."
        )
    return Actor(
        user_id=trigger.created_by_id, org_id=trigger.org_id, role=role, client_ip=client_ip
    )


def _enabled_trigger(session: Session, token: str) -> WebhookTrigger:
    trigger = trigger_for_token(session, token)
    if not trigger.enabled:
        raise Forbidden("This trigger is disabled; its owner can enable it on the agent's page.")
    return trigger


def receive(
    session: Session,
    token: str,
    call: Call,
    *,
    admit: Callable[[WebhookTrigger], None] | None = None,
) -> Delivery:
    """One call to a trigger's URL: refused in words (404 unknown, 403 disabled or creator
    gone, 401 badly signed, 400/422 bad payload, 409 key reused for another payload), or the
    run it started. `admit` (the rate limit, see `deliver`) runs once the trigger is known and
    enabled, before the signature or the payload is read.

    The same `Idempotency-Key`, or the same signed bytes when no key was sent, is the same
    delivery: the earlier run comes back and nothing new starts."""
    trigger = _enabled_trigger(session, token)
    if admit is not None:
        admit(trigger)
    if trigger.require_signature or call.signature:
        # A signature that is sent is always checked, even where none is required.
        verify_signature(
            secrets.get(session, trigger.secret_ref or ""),
            body=call.body,
            signature=call.signature,
            timestamp=call.timestamp,
            tolerance_seconds=trigger.tolerance_seconds,
            now=time.time() if call.now is None else call.now,
        )
    caller_key = idempotency_key(call.key)
    request = map_payload(trigger.input_mapping, parse_payload(call.body))
    actor = _caller(session, trigger, call.client_ip)
    if caller_key is None and call.signature:
        caller_key = replay_key(call.signature)
    stored_key = f"webhook:{trigger.id}:{caller_key}" if caller_key else None
    if stored_key is not None:
        earlier = session.exec(
            select(Execution).where(
                Execution.org_id == trigger.org_id, Execution.idempotency_key == stored_key
            )
        ).first()
        if earlier is not None:
            _same_request(earlier, request.message, request.variables)
            return Delivery(earlier, False, actor, trigger.max_wait_seconds)
    run = _start(session, actor, trigger, request.message, request.variables, stored_key)
    called = utcnow()
    if trigger.last_called_at is None or called - trigger.last_called_at > LAST_CALLED_EVERY:
        trigger.last_called_at = called
        session.add(trigger)
    return Delivery(run, True, actor, trigger.max_wait_seconds)


def _same_request(run: Execution, message: str, variables: dict[str, str]) -> None:
    if run.input.get("message") != message or (run.input.get("variables") or {}) != variables:
        raise Conflict(
            "This Idempotency-Key was already used with a different payload; "
            "use a new key for a new request."
        )


def _start(
    session: Session,
    actor: Actor,
    trigger: WebhookTrigger,
    message: str,
    variables: dict[str, str],
    stored_key: str | None,
) -> Execution:
    """Start the trigger's target; the one place a new kind of target plugs in."""
    match trigger.target_type:
        case TriggerTarget.AGENT:
            return runs.start_run(
                session,
                actor,
                trigger.agent_id,
                message=message,
                variables=variables,
                idempotency_key=stored_key,
                webhook_trigger_id=trigger.id,
            )
        case TriggerTarget.SUITE:
            # Suites start from their schedule, the Tests page, the API or the CLI; no trigger
            # of this kind can be created, so one found here is a stale row, not a request.
            raise Invalid("This trigger does not start an agent; recreate it on the agent.")
        case _ as unreachable:
            assert_never(unreachable)


async def deliver(transaction: Transaction, redis: AsyncRedis, token: str, call: Call) -> Delivery:
    """A call to a trigger's URL, rate-limited per trigger (429 with the wait in
    `Throttled.retry_after`) before the signature or the payload is even read, in one
    transaction committed before this returns (so the run is queued).

    The database work runs in a thread; the limiter (async, on this loop's Redis client) is
    called back on this loop from there, so the trigger is looked up once."""
    loop = asyncio.get_running_loop()

    def admit(trigger: WebhookTrigger) -> None:
        limit = trigger.rate_limit_per_minute
        taken = ratelimit.take_in_window(
            redis,
            f"ratelimit:webhook:{trigger.id}",
            limit=limit,
            window_seconds=60,
            what=f"calls to this trigger (at most {limit} a minute)",
        )
        asyncio.run_coroutine_threadsafe(taken, loop).result()

    def accept() -> Delivery:
        with transaction() as session:
            return receive(session, token, call, admit=admit)

    return await asyncio.to_thread(accept)


async def wait_for_run(
    transaction: Transaction, actor: Actor, run_id: uuid.UUID, timeout: float
) -> dict[str, Any] | None:
    """The run's `done` event if it ends within `timeout` seconds, else None.

    Follows the run's event channel (subscribed before reading the database, so an end that
    happens meanwhile is not missed): no polling, no guessed sleeps."""
    if timeout <= 0:
        return None
    try:
        async with asyncio.timeout(timeout):
            async for event in follow(transaction, actor, run_id, idle_timeout=timeout):
                if event["type"] == "done":
                    return event
    except TimeoutError:
        return None
    return None
