"""The OAuth redirect target, and read-only REST views of connections and runs."""

from __future__ import annotations

import uuid
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Depends
from fastapi.responses import RedirectResponse

from agent_platform.db import session_scope
from services import runs
from services.access import Actor
from services.errors import NotFound
from services.integrations import connections

from .v1 import api_actor

router = APIRouter(prefix="/api/v1")


@router.get("/integrations/oauth/callback", include_in_schema=False)
def oauth_callback(state: str = "", code: str = "", error: str = "") -> RedirectResponse:
    """Forward to the Integrations page, which finishes the sign-in as the signed-in user
    (services/integrations/sign_in.py says why it must not happen here)."""
    query = {"oauth_state": state[:200], "oauth_code": code[:2000]}
    if error:
        query["oauth_error"] = "denied"
    return RedirectResponse("/integrations?" + urlencode(query), 303)


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
