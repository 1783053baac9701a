"""The OAuth redirect target, and read-only REST views of connections and runs."""

from __future__ import annotations

import uuid
from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter
from fastapi.responses import RedirectResponse
from pydantic import BaseModel

from agent_platform.models import Integration
from services import runs
from services.errors import NotFound
from services.integrations import connections

from .v1 import ApiActor, RequestSession

router = APIRouter(prefix="/api/v1")


@router.get("/integrations/oauth/callback", include_in_schema=False)
def oauth_callback(state: str = "", code: str = "", error: str = "") -> RedirectResponse:
    """Forward to the Integrations page, which finishes the sign-in as the signed-in user
    (services/integrations/sign_in.py says why it must not happen here)."""
    query = {"oauth_state": state[:200], "oauth_code": code[:2000]}
    if error:
        query["oauth_error"] = "denied"
    return RedirectResponse("/integrations?" + urlencode(query), 303)


class ConnectionOut(BaseModel):
    """A connection as the API shows it: never its credential."""

    id: str
    name: str
    provider: str
    auth_kind: str
    status: str
    scopes: list[str]
    account: str
    last_used_at: str | None
    last_error: str | None

    @classmethod
    def of(cls, row: Integration) -> ConnectionOut:
        return cls(
            id=str(row.id),
            name=row.name,
            provider=row.provider,
            auth_kind=row.auth_kind,
            status=row.status.value,
            scopes=[str(scope) for scope in row.scopes],
            account=str(row.settings.get("account", "")),
            last_used_at=row.last_used_at.isoformat() if row.last_used_at else None,
            last_error=row.last_error,
        )


class StepOut(BaseModel):
    position: int
    kind: str
    tool_name: str | None
    arguments: dict[str, Any] | None
    result: dict[str, Any] | None
    error: str | None


class RunOut(BaseModel):
    id: str
    agent_id: str | None
    status: str
    input: dict[str, Any]
    output: dict[str, Any] | None
    error: str | None
    tokens: int
    steps: list[StepOut]


@router.get("/integrations", response_model=list[ConnectionOut])
def list_integrations(session: RequestSession, actor: ApiActor) -> list[ConnectionOut]:
    return [ConnectionOut.of(row) for row in connections.list_connections(session, actor)]


@router.get("/runs/{run_id}", response_model=RunOut)
def get_run(run_id: str, session: RequestSession, actor: ApiActor) -> RunOut:
    try:
        key = uuid.UUID(run_id)
    except ValueError:
        raise NotFound("Run not found.") from None
    run = runs.get_run(session, actor, key)
    steps = runs.get_steps(session, actor, key)
    return RunOut(
        id=str(run.id),
        agent_id=str(run.agent_id) if run.agent_id else None,
        status=run.status.value,
        input=run.input,
        output=run.output,
        error=run.error,
        tokens=run.tokens_used,
        steps=[
            StepOut(
                position=s.position,
                kind=s.kind,
                tool_name=s.tool_name,
                arguments=s.arguments,
                result=s.result,
                error=s.error,
            )
            for s in steps
        ],
    )
