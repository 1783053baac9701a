"""Webhook triggers: a secret URL per trigger that starts a run when something calls it.

Why shaped like this:
- The URL token is shown once and stored only as its SHA-256 (like API keys): the database
  alone cannot call anyone's trigger. The signing secret lives in the secret store
  (`secret_ref`), never in a row, a log or a response after the one that created it.
- A call acts as the trigger's creator with at most their *current* role, so a trigger never
  outlives or outranks the person who made it: demoted below builder or gone from the
  organization, their triggers refuse calls in words.
- The target is named by `target_type` (agents today); `_start` is the one place a new kind
  of target (a workflow, a test suite) plugs in.
- Every read goes through `visible_webhooks(actor)`: another organization's trigger is a 404.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, assert_never

from pydantic import BaseModel, Field
from redis.asyncio import Redis as AsyncRedis
from sqlmodel import Session, col, select
from sqlmodel.sql.expression import SelectOfScalar

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
from agent_platform.settings import get_settings
from services import audit, ratelimit, runs, secrets
from services.access import ROLE_RANK, Actor, Permission, require
from services.agent_reads import get_agent
from services.errors import Conflict, Forbidden, NotFound
from services.runtime.follow import follow
from services.tokens import new_token, token_hash
from services.validation import SafeName, parse
from services.webhook_delivery import (
    check_mapping,
    idempotency_key,
    map_payload,
    parse_payload,
    replay_key,
    verify_signature,
)

TOKEN_PREFIX = "wh_"
SECRET_PREFIX = "whsec_"
LAST_CALLED_EVERY = timedelta(seconds=10)  # a hot trigger's row is not rewritten per call


class WebhookSettings(BaseModel):
    """What a person sets on a trigger (all optional on update)."""

    name: SafeName = Field(min_length=1, max_length=120)
    require_signature: bool = True
    tolerance_seconds: int = Field(default=300, ge=5, le=3600)
    input_mapping: dict[str, Any] = Field(default_factory=dict)
    rate_limit_per_minute: int = Field(default=60, ge=1, le=10_000)
    max_wait_seconds: int = Field(default=30, ge=0, le=120)
    enabled: bool = True


class WebhookUpdate(BaseModel):
    name: SafeName | None = Field(default=None, min_length=1, max_length=120)
    require_signature: bool | None = None
    tolerance_seconds: int | None = Field(default=None, ge=5, le=3600)
    input_mapping: dict[str, Any] | None = None
    rate_limit_per_minute: int | None = Field(default=None, ge=1, le=10_000)
    max_wait_seconds: int | None = Field(default=None, ge=0, le=120)
    enabled: bool | None = None


@dataclass(frozen=True)
class IssuedWebhook:
    """A trigger with what is shown once: its URL token and/or signing secret ("" = kept)."""

    trigger: WebhookTrigger
    token: str
    secret: str


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


def hook_url(token: str) -> str:
    """The address callers POST to (BASE_URL + the route in agent_platform/api/webhooks.py)."""
    return f"{get_settings().resolved_base_url}/api/v1/hooks/{token}"


def visible_webhooks(actor: Actor) -> SelectOfScalar[WebhookTrigger]:
    """Every trigger read starts here: the actor's organization's triggers, nothing else."""
    return select(WebhookTrigger).where(WebhookTrigger.org_id == actor.org_id)


def get_webhook(session: Session, actor: Actor, trigger_id: uuid.UUID) -> WebhookTrigger:
    trigger = session.exec(visible_webhooks(actor).where(WebhookTrigger.id == trigger_id)).first()
    if trigger is None:
        raise NotFound("Trigger not found.")
    return trigger


def list_webhooks(
    session: Session, actor: Actor, *, agent_id: uuid.UUID | None = None
) -> list[WebhookTrigger]:
    query = visible_webhooks(actor)
    if agent_id is not None:
        query = query.where(WebhookTrigger.agent_id == get_agent(session, actor, agent_id).id)
    return list(session.exec(query.order_by(col(WebhookTrigger.created_at).desc())).all())


def _audit(session: Session, actor: Actor, action: str, trigger: WebhookTrigger, **kw: Any) -> None:
    audit.by_actor(
        session,
        actor,
        action,
        target_type="webhook_trigger",
        target_id=trigger.id,
        agent_id=str(trigger.agent_id),
        name=trigger.name,
        **kw,
    )


def _new_token(trigger: WebhookTrigger) -> str:
    token = new_token(TOKEN_PREFIX)
    trigger.token_hash = token_hash(token)
    trigger.token_hint = token[-6:]
    return token


def create_webhook(
    session: Session,
    actor: Actor,
    agent_id: uuid.UUID,
    *,
    data: dict[str, Any],
    created_by_id: uuid.UUID | None = None,
) -> IssuedWebhook:
    """A new trigger on an agent; its URL token and signing secret are returned only here.

    `created_by_id` is whom calls act as: the actor by default (an API key, which has no
    person of its own, passes its creator)."""
    require(actor, Permission.AGENTS_WRITE)
    settings = parse(WebhookSettings, data)
    agent = get_agent(session, actor, agent_id)
    creator = actor.user_id or created_by_id
    if creator is None:
        raise Forbidden("A trigger acts as the person who made it; sign in to create one.")
    trigger = WebhookTrigger(
        org_id=actor.org_id,
        agent_id=agent.id,
        target_type=TriggerTarget.AGENT,
        created_by_id=creator,
        token_hash="",
        **{**settings.model_dump(), "input_mapping": check_mapping(settings.input_mapping)},
    )
    token = _new_token(trigger)
    signing_secret = new_token(SECRET_PREFIX)
    trigger.secret_ref = secrets.new_ref(actor.org_id, "webhook")
    secrets.put(session, trigger.secret_ref, signing_secret, org_id=actor.org_id)
    session.add(trigger)
    session.flush()
    _audit(session, actor, "webhook.created", trigger)
    return IssuedWebhook(trigger=trigger, token=token, secret=signing_secret)


def update_webhook(
    session: Session, actor: Actor, trigger_id: uuid.UUID, *, data: dict[str, Any]
) -> WebhookTrigger:
    """Change settings (enable/disable among them); only the fields given change."""
    require(actor, Permission.AGENTS_WRITE)
    trigger = get_webhook(session, actor, trigger_id)
    changes = parse(WebhookUpdate, data).model_dump(exclude_unset=True, exclude_none=True)
    if "input_mapping" in changes:
        changes["input_mapping"] = check_mapping(changes["input_mapping"])
    for field, value in changes.items():
        setattr(trigger, field, value)
    session.add(trigger)
    _audit(session, actor, "webhook.updated", trigger, fields=sorted(changes))
    return trigger


def rotate_webhook(
    session: Session,
    actor: Actor,
    trigger_id: uuid.UUID,
    *,
    token: bool = True,
    secret: bool = True,
) -> IssuedWebhook:
    """A new URL token and/or signing secret; the old ones stop working at the commit."""
    require(actor, Permission.AGENTS_WRITE)
    trigger = get_webhook(session, actor, trigger_id)
    new_url_token = _new_token(trigger) if token else ""
    signing_secret = ""
    if secret:
        signing_secret = new_token(SECRET_PREFIX)
        if trigger.secret_ref is None:
            trigger.secret_ref = secrets.new_ref(actor.org_id, "webhook")
        secrets.put(session, trigger.secret_ref, signing_secret, org_id=actor.org_id)
    session.add(trigger)
    _audit(session, actor, "webhook.rotated", trigger, token=token, secret=secret)
    return IssuedWebhook(trigger=trigger, token=new_url_token, secret=signing_secret)


def delete_webhook(session: Session, actor: Actor, trigger_id: uuid.UUID) -> None:
    """The row now; the signing secret with the commit (the secret store defers its delete
    until then, so a rolled-back delete keeps a working trigger). Its runs stay."""
    require(actor, Permission.AGENTS_WRITE)
    trigger = get_webhook(session, actor, trigger_id)
    if trigger.secret_ref:
        secrets.delete(session, trigger.secret_ref)
    _audit(session, actor, "webhook.deleted", trigger)
    session.delete(trigger)


def recent_deliveries(
    session: Session, actor: Actor, trigger_id: uuid.UUID, *, limit: int = 10
) -> list[Execution]:
    """The trigger's latest runs, newest first."""
    trigger = get_webhook(session, actor, trigger_id)
    return list(
        session.exec(
            select(Execution)
            .where(Execution.org_id == trigger.org_id, Execution.webhook_trigger_id == trigger.id)
            .order_by(col(Execution.created_at).desc())
            .limit(min(limit, 50))
        ).all()
    )


# --- a call to the URL ---------------------------------------------------------------------


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
    role = None
    if trigger.created_by_id is not None:
        role = session.exec(
            select(Membership.role)
            .join(User, col(User.id) == col(Membership.user_id))
            .where(
                Membership.org_id == trigger.org_id,
                Membership.user_id == trigger.created_by_id,
                col(User.is_active).is_(True),
            )
        ).first()
    if role is None:
        raise Forbidden(
            "The person who created this trigger is no longer a member of the organization; "
            "a current member must create a new trigger."
        )
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


def receive(session: Session, token: str, call: Call) -> Delivery:
    """One call to a trigger's URL, after its rate limit (`deliver`): refused in words (404
    unknown, 403 disabled or creator gone, 401 badly signed, 400/422 bad payload, 409 key
    reused for another payload), or the run it started.

    The same `Idempotency-Key`, or the same signed bytes when no key was sent, is the same
    delivery: the earlier run comes back and nothing new starts."""
    trigger = _enabled_trigger(session, token)
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
        case _ as unreachable:
            assert_never(unreachable)


def _admission(transaction: Transaction, token: str) -> tuple[uuid.UUID, int]:
    """The trigger's id and calls-a-minute limit, once it is known and enabled."""
    with transaction() as session:
        trigger = _enabled_trigger(session, token)
        return trigger.id, trigger.rate_limit_per_minute


def _accept(transaction: Transaction, token: str, call: Call) -> Delivery:
    with transaction() as session:
        return receive(session, token, call)


async def deliver(transaction: Transaction, redis: AsyncRedis, token: str, call: Call) -> Delivery:
    """A call to a trigger's URL, rate-limited per trigger (429 with the wait in
    `Throttled.retry_after`) before the signature or the payload is even read; then
    `receive`, in its own transaction (committed before this returns, so the run is queued)."""
    trigger_id, limit = await asyncio.to_thread(_admission, transaction, token)
    await ratelimit.take_in_window(
        redis,
        f"ratelimit:webhook:{trigger_id}",
        limit=limit,
        window_seconds=60,
        what=f"calls to this trigger (at most {limit} a minute)",
    )
    return await asyncio.to_thread(_accept, transaction, token, call)


async def wait_for_run(actor: Actor, run_id: uuid.UUID, timeout: float) -> dict[str, Any] | None:
    """The run's `done` event if it ends within `timeout` seconds, else None.

    Follows the run's event channel (subscribed before reading the database, so an end that
    happens meanwhile is not missed): no polling, no guessed sleeps."""
    if timeout <= 0:
        return None
    try:
        async with asyncio.timeout(timeout):
            async for event in follow(actor, run_id, idle_timeout=timeout):
                if event["type"] == "done":
                    return event
    except TimeoutError:
        return None
    return None
