"""The one path by which an agent acts on an integration.

grant check (org, agent version, connection, action, scopes) → credential from the secret
store → per-connection rate limit → optional approval by a person → the provider call through
the outbound guard (services.integrations.provider_http: refresh before expiry and once on an
auth failure) → audit → a result with every credential redacted. The model only ever holds the
redacted result or a ToolError.

No transaction stays open across a provider call or an approval wait: each database step opens
its own through the run's `Transaction` (`ToolContext.begin`), in a thread.
"""

from __future__ import annotations

import asyncio
import math
import time
import uuid
from dataclasses import dataclass
from typing import Any

from agent_platform.db import Transaction
from agent_platform.models import (
    AgentConfig,
    AgentVersion,
    ApprovalStatus,
    Execution,
    Integration,
    IntegrationStatus,
)
from agent_platform.models.base import utcnow
from agent_platform.models.user_schema import UserSchemaError, first_error
from agent_platform.settings import get_settings
from services import audit, private_hosts
from services.errors import AuditPayload, DomainError
from services.integrations import approvals, credentials, redact
from services.integrations.catalog import ApiRequest
from services.integrations.provider_http import Prepared, authorized_http, send
from services.integrations.providers import get_provider
from services.ratelimit import Throttled, take_in_window
from services.runtime.service_steps import owner_org
from services.tools.base import ToolContext, ToolError

APPROVAL_POLL_SECONDS = 0.5


@dataclass(frozen=True)
class Grant:
    """What an agent version allows: one action on one connection."""

    connection_id: uuid.UUID
    action: str
    approval: bool = False


class Refused(ToolError):
    """Outside the grant: audited as refused, whatever the model asked.

    The entry travels with the error (`audit`), as for `services.errors`: the session scope
    rolls the transaction back and writes only that entry (the one way refusals are kept)."""

    def __init__(self, message: str, entry: AuditPayload | None = None) -> None:
        super().__init__(message)
        self.audit = entry


def _granted(config: AgentConfig, grant: Grant) -> bool:
    return any(
        ref.kind == "integration"
        and ref.name == grant.action
        and str(ref.settings.get("connection")) == str(grant.connection_id)
        for ref in config.tools
    )


def _prepare(ctx: ToolContext, grant: Grant) -> Prepared:
    with ctx.begin() as session:
        run = session.get(Execution, ctx.run_id) if ctx.run_id else None
        # a service run is the buyer's, on the seller's connections (its version's owner)
        if run is None or owner_org(session, run) != ctx.org_id:
            raise Refused("Integration actions can only run inside an agent run.")
        version = session.get(AgentVersion, run.agent_version_id) if run.agent_version_id else None
        config = AgentConfig.model_validate(version.config) if version else None
        row = session.get(Integration, grant.connection_id)
        action = get_provider(row.provider).action(grant.action) if row else None
        problem = None
        if config is None or not _granted(config, grant):
            problem = f"This agent is not granted {grant.action!r} on that connection."
        elif row is None or row.org_id != ctx.org_id:
            problem = "The connection of this action no longer exists."
        elif action is None:
            problem = f"{grant.action!r} is not an action of this connection's provider."
        elif grant.approval and run.service_listing_id is not None:
            problem = (
                f"{grant.action} needs a person's approval, which a marketplace service's run "
                "cannot ask for."
            )
        elif row.status in (IntegrationStatus.PENDING, IntegrationStatus.REVOKED):
            problem = f"The connection {row.name!r} is not signed in; an admin must reconnect it."
        else:
            assert action is not None
            missing = [s for s in action.scopes if s not in (row.scopes or [])]
            if missing:
                problem = (
                    f"The connection {row.name!r} was not granted the scope(s) "
                    f"{', '.join(missing)}; an admin must reconnect it."
                )
        if problem:
            refused = audit.for_error(
                "integration.call", **_entry(ctx, grant, run), status="refused", error=problem
            )
            raise Refused(problem, refused)
        assert row is not None and run is not None
        return Prepared.of(row, credentials.load(session, row), action)


def _entry(ctx: ToolContext, grant: Grant, run: Execution | None) -> dict[str, Any]:
    """The audit entry's fields every `integration.call` has, refused or made."""
    return {
        "org_id": ctx.org_id,
        "actor_id": run.triggered_by_id if run else None,
        "target_type": "integration",
        "target_id": grant.connection_id,
        "agent_id": str(ctx.agent_id) if ctx.agent_id else None,
        "run_id": str(ctx.run_id) if ctx.run_id else None,
        "action_name": grant.action,
    }


async def call_action(ctx: ToolContext, grant: Grant, args: dict[str, Any]) -> dict[str, Any]:
    started = time.perf_counter()
    try:
        prepared = await asyncio.to_thread(_prepare, ctx, grant)
    except DomainError as exc:  # the secret store is sealed, down or refusing
        raise ToolError(f"The credential could not be read: {exc.message}") from None
    action = prepared.action
    assert action is not None
    outcome: dict[str, Any] = {"status": "error"}
    try:
        try:
            error = first_error(action.parameters, args)
        except UserSchemaError as exc:
            raise ToolError(
                f"The parameters of {grant.action} are unusable: {exc.message}"
            ) from None
        if error is not None:
            path = ".".join(str(p) for p in error.absolute_path) or "arguments"
            raise ToolError(f"Invalid arguments for {grant.action}: {path}: {error.message}")
        await _rate_limit(ctx, prepared)
        if grant.approval:
            await _wait_for_approval(ctx, grant, prepared, args)
        result = await send(ctx, prepared, action, args)
        outcome = {"status": "ok", "http_status": result["status"]}
        # scrub keeps the shape
        scrubbed: dict[str, Any] = redact.scrub(result, prepared.secret_spellings)
        return scrubbed
    except ToolError as exc:
        message = redact.scrub_text(exc.message, prepared.secret_spellings)
        outcome = {"status": exc.outcome, "error": message[:500]}
        raise ToolError(message) from None
    finally:
        latency = int((time.perf_counter() - started) * 1000)
        await asyncio.to_thread(_record, ctx, grant, prepared, latency, outcome)


def _record(
    ctx: ToolContext, grant: Grant, prepared: Prepared, latency_ms: int, outcome: dict[str, Any]
) -> None:
    with ctx.begin() as session:
        row = session.get(Integration, prepared.row_id)
        if row is not None:
            row.last_used_at = utcnow()
            if outcome["status"] == "ok":
                row.last_error = None
            elif outcome.get("http_status") is None and outcome["status"] == "error":
                row.last_error = outcome.get("error")
            session.add(row)
        run = session.get(Execution, ctx.run_id) if ctx.run_id else None
        fields = _entry(ctx, grant, run)
        audit.record(
            session,
            "integration.call",
            **fields,
            connection=prepared.name,
            latency_ms=latency_ms,
            **outcome,
        )


async def _rate_limit(ctx: ToolContext, prepared: Prepared) -> None:
    """Calls a minute per connection, through the platform's one limiter (services.ratelimit)."""
    if ctx.redis is None:
        return
    limit = get_settings().integration_calls_per_minute
    key = f"ratelimit:integration:{prepared.row_id}"
    try:
        await take_in_window(
            ctx.redis, key, limit=limit, window_seconds=60, what="calls on this connection"
        )
    except Throttled as exc:
        raise ToolError(
            f"The connection {prepared.name!r} is limited to {limit} calls a minute; "
            f"try again in {math.ceil(exc.retry_after)} s."
        ) from None


async def _wait_for_approval(
    ctx: ToolContext, grant: Grant, prepared: Prepared, args: dict[str, Any]
) -> None:
    timeout = get_settings().approval_timeout_seconds
    run_id = ctx.run_id
    if run_id is None:  # an approval belongs to a run: that is where a person sees and answers it
        raise ToolError(f"{grant.action} needs a person's approval, which only a run can ask for.")

    def create() -> uuid.UUID:
        with ctx.begin() as session:
            row = approvals.request(
                session,
                org_id=ctx.org_id,
                run_id=run_id,
                integration_id=prepared.row_id,
                action=grant.action,
                arguments=redact.scrub(args, prepared.secret_spellings),
                timeout_seconds=timeout,
            )
            return row.id

    def check(approval_id: uuid.UUID) -> ApprovalStatus:
        with ctx.begin() as session:
            return approvals.outcome(session, approval_id)

    approval_id = await asyncio.to_thread(create)
    if ctx.redis is not None:
        from services.runtime.events import channel, encode

        await ctx.redis.publish(
            channel(run_id),
            encode("approval", id=str(approval_id), action=grant.action, connection=prepared.name),
        )
    while True:
        status = await asyncio.to_thread(check, approval_id)
        if status == ApprovalStatus.APPROVED:
            return
        if status != ApprovalStatus.PENDING:
            raise ToolError(
                f"A person declined {grant.action} on {prepared.name!r}; do not retry it."
                if status == ApprovalStatus.DENIED
                else f"No one approved {grant.action} within {timeout} s; it was not done.",
                outcome=status.value,
            )
        await asyncio.sleep(APPROVAL_POLL_SECONDS)


async def check_connection(
    transaction: Transaction, org_id: uuid.UUID, integration_id: uuid.UUID, redis: Any = None
) -> tuple[str | None, str, str]:
    """(error or None, account label, account id) for the connection's cheap check call.
    Runs the same credential, refresh and redaction path as actions."""

    def load() -> tuple[Prepared, tuple[str, ...]]:
        with transaction() as session:
            row = session.get(Integration, integration_id)
            if row is None or row.org_id != org_id:
                raise DomainError("Connection not found.")
            allowed = private_hosts.org_entries(session, org_id)
            return Prepared.of(row, credentials.load(session, row)), allowed

    try:
        prepared, allow_hosts = await asyncio.to_thread(load)
    except DomainError as exc:
        return exc.message, "", ""
    own_redis = redis is None
    if own_redis:
        from redis.asyncio import Redis as AsyncRedis

        redis = AsyncRedis.from_url(get_settings().resolved_redis_url)
    ctx = ToolContext(org_id=org_id, redis=redis, allow_hosts=allow_hosts, transaction=transaction)
    request = prepared.provider.check or ApiRequest("GET", "/", host="")
    try:
        status, body = await authorized_http(ctx, prepared, request)
    except (ToolError, DomainError) as exc:
        return redact.scrub_text(exc.message, prepared.secret_spellings), "", ""
    finally:
        if own_redis:
            await redis.aclose()
    if prepared.provider.check is None:  # a generic API: only a refusal or a crash counts
        problem = f"HTTP {status}" if status in (401, 403) or status >= 500 else None
    else:
        error_of = prepared.provider.error_of
        problem = error_of(status, body) if error_of else None
    if problem:
        return redact.scrub_text(problem, prepared.secret_spellings), "", ""
    account_of = prepared.provider.account_of
    account = account_of(body) if account_of and isinstance(body, dict) else ""
    account_id = str(body.get("sub", "")) if isinstance(body, dict) else ""
    return None, redact.scrub_text(account, prepared.secret_spellings), account_id
