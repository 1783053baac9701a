"""REST API v1: authenticated by organization API keys (`Authorization: Bearer ap_...`)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated

from fastapi import APIRouter, Depends, Header
from pydantic import BaseModel
from sqlmodel import Session

from agent_platform.db import session_scope
from services import api_keys, organizations
from services.access import Actor

router = APIRouter(prefix="/api/v1")


def request_session() -> Iterator[Session]:
    """One transaction per request, shared by the API-key check and the handler (FastAPI
    gives every dependant of a request the same value). Scope "function": it commits, or
    rolls back, before the response is sent, so a failed commit is never a 200."""
    with session_scope() as session:
        yield session


RequestSession = Annotated[Session, Depends(request_session, scope="function")]


def api_actor(
    session: RequestSession, authorization: Annotated[str | None, Header()] = None
) -> Actor:
    secret = (authorization or "").removeprefix("Bearer ").strip()
    return api_keys.actor_for_key(session, secret)


ApiActor = Annotated[Actor, Depends(api_actor)]


class OrgOut(BaseModel):
    id: str
    name: str
    tier: str
    role: str


@router.get("/org", response_model=OrgOut)
def current_org(session: RequestSession, actor: ApiActor) -> OrgOut:
    org = organizations.get_org(session, actor)
    return OrgOut(id=str(org.id), name=org.name, tier=org.tier.value, role=actor.role.value)
