"""Webhook triggers over HTTP: the public URL that starts a run, and the REST API that manages
triggers (authenticated by organization API keys like the rest of /api/v1).

HTTP only: reading the body within its limit, the wait the caller asked for, status codes.
Every rule is in `services.webhooks` / `services.webhook_delivery`.
"""

from __future__ import annotations

import asyncio
import uuid
import weakref
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header, Request
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel
from redis.asyncio import Redis as AsyncRedis

from agent_platform.client_address import request_address
from agent_platform.db import session_scope
from agent_platform.models import WebhookTrigger
from agent_platform.settings import get_settings
from services import api_keys, webhook_calls, webhooks
from services.access import Actor
from services.errors import NotFound
from services.ratelimit import Throttled
from services.webhook_delivery import (
    MAX_BODY_BYTES,
    check_content_type,
    too_large,
    wait_seconds,
)

from .errors import documented, problem, retry_after
from .v1 import api_actor, scoped

router = APIRouter(prefix="/api/v1", tags=["webhooks"])

# One asyncio Redis client per event loop (a client belongs to the loop that opened it).
_clients: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, AsyncRedis] = (
    weakref.WeakKeyDictionary()
)


def _redis() -> AsyncRedis:
    loop = asyncio.get_running_loop()
    client = _clients.get(loop)
    if client is None:
        client = AsyncRedis.from_url(get_settings().resolved_redis_url)
        _clients[loop] = client
    return client


async def _body(request: Request) -> bytes:
    """The body, refused (413) as soon as it passes the limit, whatever Content-Length says."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > MAX_BODY_BYTES:
        raise too_large()
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > MAX_BODY_BYTES:
            raise too_large()
        chunks.append(chunk)
    return b"".join(chunks)


@router.post(
    "/hooks/{token}",
    status_code=202,
    responses={
        200: {"description": "The run ended within the wait: run_id, status, output, error"},
        400: documented("The body, ?wait or Idempotency-Key cannot be used; detail says why"),
        415: documented("The payload is not JSON"),
    },
)
async def call_hook(token: str, request: Request, wait: str | None = None) -> Response:
    """Start the trigger's run: 202 `{"run_id": ...}` at once, or — with `?wait=N` or
    `Prefer: wait=N` — 200 with the run's outcome if it ends within min(N, the trigger's
    max wait) seconds (202 when it has not ended by then)."""
    check_content_type(request.headers.get("content-type"))
    asked = wait_seconds(wait, request.headers.get("prefer"))
    call = webhook_calls.Call(
        body=await _body(request),
        signature=request.headers.get("x-signature"),
        timestamp=request.headers.get("x-timestamp"),
        key=request.headers.get("idempotency-key"),
        client_ip=request_address(request),
    )
    try:
        delivery = await webhook_calls.deliver(session_scope, _redis(), token, call)
    except Throttled as exc:
        return problem(429, exc.message, headers=retry_after(exc.retry_after))
    run = delivery.run
    body: dict[str, Any] = {
        "run_id": str(run.id),
        "status": run.status.value,
        "duplicate": not delivery.created,
    }
    headers = {"Location": f"/api/v1/runs/{run.id}"}
    timeout = min(asked, delivery.max_wait_seconds)
    done = (
        await webhook_calls.wait_for_run(session_scope, delivery.actor, run.id, timeout)
        if timeout
        else None
    )
    if done is not None:
        body.update(status=done["status"], output=done.get("output"), error=done.get("error"))
        return JSONResponse(body, status_code=200, headers=headers)
    return JSONResponse(body, status_code=202, headers=headers)


# --- managing triggers with an API key -----------------------------------------------------


class TriggerOut(BaseModel):
    id: str
    agent_id: str
    target_type: str
    name: str
    url_hint: str  # the end of the URL token; the URL itself is shown once
    require_signature: bool
    tolerance_seconds: int
    input_mapping: dict[str, Any]
    rate_limit_per_minute: int
    max_wait_seconds: int
    enabled: bool
    created_at: str
    last_called_at: str | None


class IssuedOut(BaseModel):
    trigger: TriggerOut
    url: str | None  # shown once: on creation, or when the token was rotated
    secret: str | None  # shown once: on creation, or when the secret was rotated


class RotateIn(BaseModel):
    token: bool = True
    secret: bool = True


def _out(t: WebhookTrigger) -> TriggerOut:
    return TriggerOut(
        id=str(t.id),
        agent_id=str(t.agent_id),
        target_type=t.target_type.value,
        name=t.name,
        url_hint="…" + t.token_hint,
        require_signature=t.require_signature,
        tolerance_seconds=t.tolerance_seconds,
        input_mapping=t.input_mapping,
        rate_limit_per_minute=t.rate_limit_per_minute,
        max_wait_seconds=t.max_wait_seconds,
        enabled=t.enabled,
        created_at=t.created_at.isoformat(),
        last_called_at=t.last_called_at.isoformat() if t.last_called_at else None,
    )


def _issued(issued: webhooks.IssuedWebhook) -> IssuedOut:
    return IssuedOut(
        trigger=_out(issued.trigger),
        url=webhooks.hook_url(issued.token) if issued.token else None,
        secret=issued.secret or None,
    )


def _id(value: str) -> uuid.UUID:
    try:
        return uuid.UUID(value)
    except ValueError:
        raise NotFound("Not found.") from None


ApiActor = Annotated[Actor, Depends(api_actor)]
# Changes need a key with the write scope (a read-only key reads).
WriteActor = Annotated[Actor, Depends(scoped("write"))]


@router.get("/agents/{agent_id}/webhooks", response_model=list[TriggerOut])
def list_triggers(agent_id: str, actor: ApiActor) -> list[TriggerOut]:
    with session_scope() as session:
        return [_out(t) for t in webhooks.list_webhooks(session, actor, agent_id=_id(agent_id))]


@router.post("/agents/{agent_id}/webhooks", response_model=IssuedOut, status_code=201)
def create_trigger(
    agent_id: str,
    data: dict[str, Any],
    actor: WriteActor,
    authorization: Annotated[str | None, Header()] = None,
) -> IssuedOut:
    secret = (authorization or "").removeprefix("Bearer ").strip()
    with session_scope() as session:
        issued = webhooks.create_webhook(
            session,
            actor,
            _id(agent_id),
            data=data,
            created_by_id=api_keys.creator_of_key(session, secret),
        )
        return _issued(issued)


@router.get("/webhooks/{trigger_id}", response_model=TriggerOut)
def get_trigger(trigger_id: str, actor: ApiActor) -> TriggerOut:
    with session_scope() as session:
        return _out(webhooks.get_webhook(session, actor, _id(trigger_id)))


@router.patch("/webhooks/{trigger_id}", response_model=TriggerOut)
def update_trigger(trigger_id: str, data: dict[str, Any], actor: WriteActor) -> TriggerOut:
    with session_scope() as session:
        return _out(webhooks.update_webhook(session, actor, _id(trigger_id), data=data))


@router.post("/webhooks/{trigger_id}/rotate", response_model=IssuedOut)
def rotate_trigger(trigger_id: str, data: RotateIn, actor: WriteActor) -> IssuedOut:
    with session_scope() as session:
        issued = webhooks.rotate_webhook(
            session, actor, _id(trigger_id), token=data.token, secret=data.secret
        )
        return _issued(issued)


@router.delete("/webhooks/{trigger_id}", status_code=204)
def delete_trigger(trigger_id: str, actor: WriteActor) -> Response:
    with session_scope() as session:
        webhooks.delete_webhook(session, actor, _id(trigger_id))
    return Response(status_code=204)
