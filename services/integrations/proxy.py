"""The one path by which an agent acts on an integration.

grant check (org, agent version, connection, action, scopes) → credential from the secret
store → per-connection rate limit → optional approval by a person → the provider call through
the outbound guard (refresh before expiry and once on an auth failure) → audit → a result with
every credential redacted. The model only ever holds the redacted result or a ToolError.
"""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

from agent_platform.db import session_scope
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
from services.errors import DomainError
from services.integrations import approvals, connections, credentials, oauth, redact
from services.integrations.catalog import Action, ApiRequest, Provider, rebase
from services.integrations.providers import get_provider
from services.outbound import OutboundError, default_guard
from services.tools.base import ToolContext, ToolError

MAX_BODY_CHARS = 20_000
APPROVAL_POLL_SECONDS = 0.5


@dataclass(frozen=True)
class Grant:
    """What an agent version allows: one action on one connection."""

    connection_id: uuid.UUID
    action: str
    approval: bool = False


@dataclass
class Prepared:
    """A granted call, loaded in one transaction; `forms` are the secrets to redact."""

    row_id: uuid.UUID
    org_id: uuid.UUID
    name: str
    provider: Provider
    auth_kind: str
    settings: dict[str, Any]
    blob: dict[str, Any]
    forms: list[str] = field(default_factory=list)
    action: Action | None = None

    @classmethod
    def of(cls, row: Integration, blob: dict[str, Any], action: Action | None = None) -> Prepared:
        return cls(
            row_id=row.id,
            org_id=row.org_id,
            name=row.name,
            provider=get_provider(row.provider),
            auth_kind=row.auth_kind,
            settings=dict(row.settings),
            blob=blob,
            forms=redact.secret_forms(credentials.secret_values(blob)),
            action=action,
        )


class Refused(ToolError):
    """Outside the grant: audited as refused, whatever the model asked.

    `keep_changes`: the session scope commits the refusal's audit entry instead of rolling
    it back (the one way refusals are kept, as for `services.errors`)."""

    keep_changes = True


def _granted(config: AgentConfig, grant: Grant) -> bool:
    return any(
        ref.kind == "integration"
        and ref.name == grant.action
        and str(ref.settings.get("connection")) == str(grant.connection_id)
        for ref in config.tools
    )


def _prepare(ctx: ToolContext, grant: Grant) -> Prepared:
    with session_scope() as session:
        run = session.get(Execution, ctx.run_id) if ctx.run_id else None
        if run is None or run.org_id != ctx.org_id:
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
            _audit(session, ctx, grant, run, status="refused", error=problem)
            raise Refused(problem)
        assert row is not None and run is not None
        return Prepared.of(row, credentials.load(session, row), action)


def _audit(
    session: Any, ctx: ToolContext, grant: Grant, run: Execution | None, **details: Any
) -> None:
    audit.record(
        session,
        "integration.call",
        org_id=ctx.org_id,
        actor_id=run.triggered_by_id if run else None,
        target_type="integration",
        target_id=grant.connection_id,
        agent_id=str(ctx.agent_id) if ctx.agent_id else None,
        run_id=str(ctx.run_id) if ctx.run_id else None,
        action_name=grant.action,
        **details,
    )


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
        result = await _send(ctx, prepared, action, args)
        outcome = {"status": "ok", "http_status": result["status"]}
        scrubbed: dict[str, Any] = redact.scrub(result, prepared.forms)  # scrub keeps the shape
        return scrubbed
    except ToolError as exc:
        message = redact.scrub_text(exc.message, prepared.forms)
        outcome = {"status": exc.outcome, "error": message[:500]}
        raise ToolError(message) from None
    finally:
        latency = int((time.perf_counter() - started) * 1000)
        await asyncio.to_thread(_record, ctx, grant, prepared, latency, outcome)


def _record(
    ctx: ToolContext, grant: Grant, prepared: Prepared, latency_ms: int, outcome: dict[str, Any]
) -> None:
    with session_scope() as session:
        row = session.get(Integration, prepared.row_id)
        if row is not None:
            row.last_used_at = utcnow()
            if outcome["status"] == "ok":
                row.last_error = None
            elif outcome.get("http_status") is None and outcome["status"] == "error":
                row.last_error = outcome.get("error")
            session.add(row)
        run = session.get(Execution, ctx.run_id) if ctx.run_id else None
        _audit(session, ctx, grant, run, connection=prepared.name, latency_ms=latency_ms, **outcome)


async def _rate_limit(ctx: ToolContext, prepared: Prepared) -> None:
    if ctx.redis is None:
        return
    limit = get_settings().integration_calls_per_minute
    run_id = ctx.run_id
    if run_id is None:  # an approval belongs to a run: that is where a person sees and answers it
        raise ToolError(f"{grant.action} needs a person's approval, which only a run can ask for.")
    window = int(time.time() // 60)
    key = f"ratelimit:integration:{prepared.row_id}:{window}"
    count = await ctx.redis.incr(key)
    if count == 1:
        await ctx.redis.expire(key, 120)
    if count > limit:
        wait = 60 - int(time.time() % 60)
        raise ToolError(
            f"The connection {prepared.name!r} is limited to {limit} calls a minute; "
            f"try again in {wait} s."
        )


async def _wait_for_approval(
    ctx: ToolContext, grant: Grant, prepared: Prepared, args: dict[str, Any]
) -> None:
    timeout = get_settings().approval_timeout_seconds

    def create() -> uuid.UUID:
        with session_scope() as session:
            row = approvals.request(
                session,
                org_id=ctx.org_id,
                run_id=run_id,
                integration_id=prepared.row_id,
                action=grant.action,
                arguments=redact.scrub(args, prepared.forms),
                timeout_seconds=timeout,
            )
            return row.id

    def check(approval_id: uuid.UUID) -> ApprovalStatus:
        with session_scope() as session:
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


# --- the provider call --------------------------------------------------------------------


def _url(prepared: Prepared, request: ApiRequest) -> str:
    provider = prepared.provider
    if request.host == "" or provider.key in ("http", "oauth2"):
        return str(prepared.settings.get("base_url", "")).rstrip("/") + request.path
    base = getattr(get_settings(), f"oauth_{provider.key}_base_url", "")
    return rebase(provider.hosts[request.host] + request.path, base)


def _client(prepared: Prepared) -> oauth.OAuthClient | None:
    if prepared.auth_kind == "oauth2":
        return oauth.app_client(prepared.provider)
    if prepared.auth_kind == "oauth2_custom":
        return oauth.custom_client(prepared.settings, prepared.blob)
    return None


async def _refresh(ctx: ToolContext, prepared: Prepared, *, used_token: str | None) -> bool:
    """Get a fresh access token once across all processes; False when none can be had."""
    client = _client(prepared)
    if client is None or not prepared.blob.get("refresh_token"):
        return False
    lock = (
        ctx.redis.lock(f"lock:integration:{prepared.row_id}:refresh", timeout=30)
        if (ctx.redis is not None)
        else None
    )
    locked = lock is None or await lock.acquire(blocking_timeout=20)
    try:

        def reload() -> dict[str, Any]:
            with session_scope() as session:
                row = session.get(Integration, prepared.row_id)
                return credentials.load(session, row) if row else prepared.blob

        current = await asyncio.to_thread(reload)
        fresh_elsewhere = used_token is not None and current.get("access_token") != used_token
        if (
            not locked
            or fresh_elsewhere
            or (used_token is None and not oauth.needs_refresh(current))
        ):
            # another process holds the lock (and is refreshing) or already did: use what
            # is stored rather than spend the refresh token twice
            prepared.blob = current
        else:
            try:
                tokens = await oauth.refresh(client, str(current["refresh_token"]))
            except DomainError as exc:
                message = redact.scrub_text(f"Sign-in expired: {exc.message}", prepared.forms)
                await asyncio.to_thread(_mark_error, prepared, message[:500])
                return False

            def store() -> None:
                with session_scope() as session:
                    row = session.get(Integration, prepared.row_id)
                    if row is not None:
                        connections.store_tokens(session, row, tokens)

            await asyncio.to_thread(store)
            prepared.blob = {**current, **connections.token_fields(tokens)}
        prepared.forms = redact.secret_forms(
            credentials.secret_values(prepared.blob) + [str(current.get("access_token", ""))]
        )
        return True
    finally:
        if lock is not None and locked and await lock.owned():
            await lock.release()


def _mark_error(prepared: Prepared, message: str) -> None:
    with session_scope() as session:
        row = session.get(Integration, prepared.row_id)
        if row is not None:
            row.status = IntegrationStatus.ERROR
            row.last_error = message
            session.add(row)


async def _send(
    ctx: ToolContext, prepared: Prepared, action: Action, args: dict[str, Any]
) -> dict[str, Any]:
    try:
        request = action.build(args, prepared.settings)
    except (ValueError, KeyError) as exc:
        raise ToolError(f"Invalid arguments for {action.name}: {exc}") from None
    status, body = await _authorized_http(ctx, prepared, request)
    error_of = prepared.provider.error_of
    problem = error_of(status, body) if error_of else None
    if problem:
        raise ToolError(f"{action.name} failed: {problem}")
    data = action.shape(body) if action.shape and isinstance(body, dict) else body
    return {"ok": True, "status": status, "data": data}


async def _authorized_http(
    ctx: ToolContext, prepared: Prepared, request: ApiRequest
) -> tuple[int, Any]:
    """The request with a fresh token: refreshed before it expires, and once more (then
    retried) when the provider says the token it got is expired or invalid."""
    if oauth.needs_refresh(prepared.blob):
        await _refresh(ctx, prepared, used_token=None)
    status, body = await _http(prepared, request, ctx.allow_hosts)
    auth_failed = prepared.provider.auth_failed
    if auth_failed is not None and auth_failed(status, body):
        used = str(prepared.blob.get("access_token", ""))
        if await _refresh(ctx, prepared, used_token=used):
            status, body = await _http(prepared, request, ctx.allow_hosts)
    return status, body


async def _http(
    prepared: Prepared, request: ApiRequest, allow_hosts: tuple[str, ...]
) -> tuple[int, Any]:
    """The provider's answer, through the guard with this org's private hosts added."""
    headers = {
        **prepared.provider.default_headers,
        **request.headers,
        **credentials.auth_headers(prepared.auth_kind, prepared.settings, prepared.blob),
    }
    try:
        response = await default_guard(allow_hosts).request(
            request.method,
            _url(prepared, request),
            headers=headers,
            json=request.json,
            params=request.params,
            max_redirects=3,
            max_bytes=MAX_BODY_CHARS * 4,
        )
    except OutboundError as exc:
        raise ToolError(f"The provider could not be reached: {exc.message}") from None
    text = redact.scrub_text(response.text, prepared.forms)  # before any cut: no half token
    try:
        body: Any = json.loads(text) if text.strip() else None
    except ValueError:
        body = text[:MAX_BODY_CHARS]
    return response.status, body


async def check_connection(
    org_id: uuid.UUID, integration_id: uuid.UUID, redis: Any = None
) -> tuple[str | None, str, str]:
    """(error or None, account label, account id) for the connection's cheap check call.
    Runs the same credential, refresh and redaction path as actions."""

    def load() -> tuple[Prepared, tuple[str, ...]]:
        with session_scope() as session:
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
    ctx = ToolContext(org_id=org_id, redis=redis, allow_hosts=allow_hosts)
    request = prepared.provider.check or ApiRequest("GET", "/", host="")
    try:
        status, body = await _authorized_http(ctx, prepared, request)
    except (ToolError, DomainError) as exc:
        return redact.scrub_text(exc.message, prepared.forms), "", ""
    finally:
        if own_redis:
            await redis.aclose()
    if prepared.provider.check is None:  # a generic API: only a refusal or a crash counts
        problem = f"HTTP {status}" if status in (401, 403) or status >= 500 else None
    else:
        error_of = prepared.provider.error_of
        problem = error_of(status, body) if error_of else None
    if problem:
        return redact.scrub_text(problem, prepared.forms), "", ""
    account_of = prepared.provider.account_of
    account = account_of(body) if account_of and isinstance(body, dict) else ""
    account_id = str(body.get("sub", "")) if isinstance(body, dict) else ""
    return None, redact.scrub_text(account, prepared.forms), account_id
