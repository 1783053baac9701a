"""The OAuth redirect target, and read-only REST views of connections and runs.

Why the callback needs no session cookie: the single-use `state` (256 random bits, 10 minutes)
names the organization and the admin who started the sign-in; a forged or replayed callback
finds no state and changes nothing.
"""

from __future__ import annotations

import uuid
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Depends
from fastapi.responses import RedirectResponse

from agent_platform.db import session_scope
from agent_platform.models import Role
from agent_platform.redis_client import get_redis
from services import runs
from services.access import Actor
from services.errors import DomainError, Invalid, NotFound
from services.integrations import connections, oauth, proxy

from .v1 import api_actor

router = APIRouter(prefix="/api/v1")


@router.get("/integrations/oauth/callback", include_in_schema=False)
async def oauth_callback(state: str = "", code: str = "", error: str = "") -> RedirectResponse:
    try:
        flow = oauth.take(get_redis(), state)
        if error or not code:
            raise Invalid(f"The provider did not grant access ({error or 'no code'}).")
        with session_scope() as session:
            client = connections.client_for_flow(session, flow)
        tokens = await oauth.exchange(client, flow, code)
        with session_scope() as session:
            row = connections.finish_sign_in(session, flow, tokens)
            row_id, name = row.id, row.name
        problem, account, account_id = await proxy.check_connection(row.org_id, row_id)
        actor = Actor(user_id=uuid.UUID(flow.user_id), org_id=row.org_id, role=Role.ADMIN)
        with session_scope() as session:
            connections.record_check(
                session, actor, row_id, error=problem, account=account, account_id=account_id
            )
    except DomainError as exc:
        return RedirectResponse("/integrations?" + urlencode({"error": exc.message}), 303)
    return RedirectResponse("/integrations?" + urlencode({"connected": name}), 303)


def _connection(row: Any) -> dict[str, Any]:
    return {
        "id": str(row.id),
        "name": row.name,
        "provider": row.provider,
        "auth_kind": row.auth_kind,
        "status": row.status.value,
        "scopes": row.scopes,
        "account": row.settings.get("account", ""),
        "last_used_at": row.last_used_at.isoformat() if row.last_used_at else None,
        "last_error": row.last_error,
    }


@router.get("/integrations")
def list_integrations(actor: Annotated[Actor, Depends(api_actor)]) -> list[dict[str, Any]]:
    with session_scope() as session:
        return [_connection(r) for r in connections.list_connections(session, actor)]


@router.get("/runs/{run_id}")
def get_run(run_id: str, actor: Annotated[Actor, Depends(api_actor)]) -> dict[str, Any]:
    try:
        key = uuid.UUID(run_id)
    except ValueError:
        raise NotFound("Run not found.") from None
    with session_scope() as session:
        run = runs.get_run(session, actor, key)
        steps = runs.get_steps(session, actor, key)
        return {
            "id": str(run.id),
            "agent_id": str(run.agent_id) if run.agent_id else None,
            "status": run.status.value,
            "input": run.input,
            "output": run.output,
            "error": run.error,
            "tokens": run.tokens_used,
            "steps": [
                {
                    "position": s.position,
                    "kind": s.kind,
                    "tool_name": s.tool_name,
                    "arguments": s.arguments,
                    "result": s.result,
                    "error": s.error,
                }
                for s in steps
            ],
        }
