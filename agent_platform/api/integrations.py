"""The OAuth redirect target, and the read-only REST view of connections (runs: api/runs.py)."""

from __future__ import annotations

from urllib.parse import urlencode

from fastapi import APIRouter
from fastapi.responses import RedirectResponse
from pydantic import BaseModel

from agent_platform.models import Integration
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


@router.get("/integrations", response_model=list[ConnectionOut])
def list_integrations(session: RequestSession, actor: ApiActor) -> list[ConnectionOut]:
    return [ConnectionOut.of(row) for row in connections.list_connections(session, actor)]
