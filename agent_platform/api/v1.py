"""REST API v1: authenticated by organization API keys (`Authorization: Bearer ap_...`)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Header
from pydantic import BaseModel

from agent_platform.db import session_scope
from services import api_keys, organizations
from services.access import Actor

router = APIRouter(prefix="/api/v1")


def api_actor(authorization: Annotated[str | None, Header()] = None) -> Actor:
    secret = (authorization or "").removeprefix("Bearer ").strip()
    with session_scope() as session:
        return api_keys.actor_for_key(session, secret)


class OrgOut(BaseModel):
    id: str
    name: str
    tier: str
    role: str


@router.get("/org", response_model=OrgOut)
def current_org(actor: Annotated[Actor, Depends(api_actor)]) -> OrgOut:
    with session_scope() as session:
        org = organizations.get_org(session, actor)
        return OrgOut(id=str(org.id), name=org.name, tier=org.tier.value, role=actor.role.value)
