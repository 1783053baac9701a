"""The provider call itself: URL, credential headers, a fresh token, the guarded request.

Why apart from the proxy: the proxy decides *whether* an agent may act (grant, rate limit,
approval, audit); this module only knows *how* to reach a provider with a connection's
credential — refreshing an OAuth token before it expires and once when the provider refuses
it, through the outbound guard, with every credential scrubbed from what comes back. The
connection check uses the same path, so a check proves what an action would do.

Database work (reloading and storing tokens) runs in threads through the caller's
`Transaction` (`ToolContext.begin`), never while an HTTP request is in flight.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from dataclasses import dataclass, field
from typing import Any

from agent_platform.models import Integration, IntegrationStatus
from agent_platform.settings import get_settings
from services.errors import DomainError
from services.integrations import connections, credentials, oauth, redact
from services.integrations.catalog import Action, ApiRequest, Provider, rebase
from services.integrations.providers import get_provider
from services.outbound import OutboundError, default_guard
from services.tools.base import ToolContext, ToolError

MAX_BODY_CHARS = 20_000


@dataclass
class Prepared:
    """A connection loaded for a call, in one transaction: its decrypted `credential` (the
    secret store's fields) and `secret_spellings`, every way those secrets may appear in a
    response (raw, URL- and base64-encoded), which are masked before anything is kept."""

    row_id: uuid.UUID
    org_id: uuid.UUID
    name: str
    provider: Provider
    auth_kind: str
    settings: dict[str, Any]
    credential: dict[str, Any]
    secret_spellings: list[str] = field(default_factory=list)
    action: Action | None = None

    @classmethod
    def of(
        cls, row: Integration, credential: dict[str, Any], action: Action | None = None
    ) -> Prepared:
        return cls(
            row_id=row.id,
            org_id=row.org_id,
            name=row.name,
            provider=get_provider(row.provider),
            auth_kind=row.auth_kind,
            settings=dict(row.settings),
            credential=credential,
            secret_spellings=redact.secret_spellings(credentials.secret_values(credential)),
            action=action,
        )


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
        return oauth.custom_client(prepared.settings, prepared.credential)
    return None


async def _refresh(ctx: ToolContext, prepared: Prepared, *, used_token: str | None) -> bool:
    """Get a fresh access token once across all processes; False when none can be had."""
    client = _client(prepared)
    if client is None or not prepared.credential.get("refresh_token"):
        return False
    lock = (
        ctx.redis.lock(f"lock:integration:{prepared.row_id}:refresh", timeout=30)
        if (ctx.redis is not None)
        else None
    )
    locked = lock is None or await lock.acquire(blocking_timeout=20)
    try:

        def reload() -> dict[str, Any]:
            with ctx.begin() as session:
                row = session.get(Integration, prepared.row_id)
                return credentials.load(session, row) if row else prepared.credential

        current = await asyncio.to_thread(reload)
        fresh_elsewhere = used_token is not None and current.get("access_token") != used_token
        if (
            not locked
            or fresh_elsewhere
            or (used_token is None and not oauth.needs_refresh(current))
        ):
            # another process holds the lock (and is refreshing) or already did: use what
            # is stored rather than spend the refresh token twice
            prepared.credential = current
        else:
            try:
                tokens = await oauth.refresh(client, str(current["refresh_token"]))
            except DomainError as exc:
                message = redact.scrub_text(
                    f"Sign-in expired: {exc.message}", prepared.secret_spellings
                )
                await asyncio.to_thread(_mark_error, ctx, prepared, message[:500])
                return False

            def store() -> None:
                with ctx.begin() as session:
                    row = session.get(Integration, prepared.row_id)
                    if row is not None:
                        connections.store_tokens(session, row, tokens)

            await asyncio.to_thread(store)
            prepared.credential = {**current, **connections.token_fields(tokens)}
        prepared.secret_spellings = redact.secret_spellings(
            credentials.secret_values(prepared.credential) + [str(current.get("access_token", ""))]
        )
        return True
    finally:
        if lock is not None and locked and await lock.owned():
            await lock.release()


def _mark_error(ctx: ToolContext, prepared: Prepared, message: str) -> None:
    with ctx.begin() as session:
        row = session.get(Integration, prepared.row_id)
        if row is not None:
            row.status = IntegrationStatus.ERROR
            row.last_error = message
            session.add(row)


async def send(
    ctx: ToolContext, prepared: Prepared, action: Action, args: dict[str, Any]
) -> dict[str, Any]:
    """The action's request and its shaped answer; a provider's refusal is a ToolError."""
    try:
        request = action.build(args, prepared.settings)
    except (ValueError, KeyError) as exc:
        raise ToolError(f"Invalid arguments for {action.name}: {exc}") from None
    status, body = await authorized_http(ctx, prepared, request)
    error_of = prepared.provider.error_of
    problem = error_of(status, body) if error_of else None
    if problem:
        raise ToolError(f"{action.name} failed: {problem}")
    data = action.shape(body) if action.shape and isinstance(body, dict) else body
    return {"ok": True, "status": status, "data": data}


async def authorized_http(
    ctx: ToolContext, prepared: Prepared, request: ApiRequest
) -> tuple[int, Any]:
    """The request with a fresh token: refreshed before it expires, and once more (then
    retried) when the provider says the token it got is expired or invalid."""
    if oauth.needs_refresh(prepared.credential):
        await _refresh(ctx, prepared, used_token=None)
    status, body = await _http(prepared, request, ctx.allow_hosts)
    auth_failed = prepared.provider.auth_failed
    if auth_failed is not None and auth_failed(status, body):
        used = str(prepared.credential.get("access_token", ""))
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
        **credentials.auth_headers(prepared.auth_kind, prepared.settings, prepared.credential),
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
    text = redact.scrub_text(
        response.text, prepared.secret_spellings
    )  # before any cut: no half token
    try:
        body: Any = json.loads(text) if text.strip() else None
    except ValueError:
        body = text[:MAX_BODY_CHARS]
    return response.status, body
