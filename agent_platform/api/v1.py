"""REST API v1: authenticated by organization API keys (`Authorization: Bearer ap_...`) or
the 15-minute access tokens they are exchanged for (`POST /api/v1/auth/token`).

Dependencies every router uses:
- `RequestSession`: one transaction per request;
- `ApiActor`: any valid key or token (every key may read);
- `scoped("run")` / `RunActor`, `WriteActor`, `AdminActor`: a key with that scope, else 403;
- `ApiPrincipal`: the key behind the request (its id, creator and scopes).
Every authenticated request is counted against its key's and its organization's allowance.
"""

from __future__ import annotations

import dataclasses
import functools
import logging
from collections.abc import Callable, Iterator
from typing import Annotated

from fastapi import APIRouter, Depends, Header, Request
from pydantic import BaseModel
from sqlmodel import Session

from agent_platform.db import session_scope
from agent_platform.observability import logs
from agent_platform.redis_client import REDIS_DOWN, get_redis
from services import api_keys, api_limits, organizations
from services.access import Actor
from services.api_keys import KeyPrincipal, Scope
from services.ratelimit import WindowFull, WindowUse

from .ratelimits import remember

router = APIRouter(prefix="/api/v1")
log = logging.getLogger(__name__)


def request_session() -> Iterator[Session]:
    """One transaction per request, shared by the API-key check and the handler (FastAPI
    gives every dependant of a request the same value). Scope "function": it commits, or
    rolls back, before the response is sent, so a failed commit is never a 200."""
    with session_scope() as session:
        yield session


RequestSession = Annotated[Session, Depends(request_session, scope="function")]


def bearer(authorization: str | None) -> str:
    return (authorization or "").removeprefix("Bearer ").strip()


def _count(request: Request, principal: KeyPrincipal) -> None:
    """Count the request; over the allowance it is a 429. Redis down: not counted (the
    limit protects the service, it must not be the reason the service is down)."""
    uses: list[WindowUse] = []
    try:
        uses = api_limits.take_request(get_redis(), principal)
    except WindowFull as exc:
        remember(request, exc.uses)
        raise
    except REDIS_DOWN:
        log.warning("API rate limit not counted: Redis is unreachable")
    remember(request, uses)


def api_principal(
    request: Request,
    session: RequestSession,
    authorization: Annotated[str | None, Header()] = None,
) -> KeyPrincipal:
    principal = api_keys.principal_for(session, bearer(authorization))
    logs.note(org_id=principal.actor.org_id)  # on every log line of this request
    _count(request, principal)
    return principal


ApiPrincipal = Annotated[KeyPrincipal, Depends(api_principal)]


def api_actor(principal: ApiPrincipal) -> Actor:
    """Any valid key or token: every key may read."""
    return principal.actor


ApiActor = Annotated[Actor, Depends(api_actor)]


@functools.cache
def scoped(scope: str) -> Callable[[KeyPrincipal], Actor]:
    """A dependency: the actor of a key that has `scope` (403 otherwise). Use as
    `Annotated[Actor, Depends(scoped("run"))]`, or `RunActor` and its siblings."""
    needed = Scope(scope)

    def scoped_actor(principal: ApiPrincipal) -> Actor:
        api_keys.require_scope(principal, needed)
        return principal.actor

    scoped_actor.__name__ = f"{needed.value}_scoped_actor"
    return scoped_actor


RunActor = Annotated[Actor, Depends(scoped("run"))]
WriteActor = Annotated[Actor, Depends(scoped("write"))]
AdminActor = Annotated[Actor, Depends(scoped("admin"))]


def run_starter(principal: ApiPrincipal) -> Actor:
    """The actor a key starts runs as: the key's creator (with the key's role), so the run
    records who started it. Recorded as nobody, a run's "ask a person first" approvals
    could be approved by the very key that started it."""
    api_keys.require_scope(principal, Scope.RUN)
    return dataclasses.replace(principal.actor, user_id=principal.creator_id)


RunStarter = Annotated[Actor, Depends(run_starter)]


class OrgOut(BaseModel):
    id: str
    name: str
    tier: str
    role: str


@router.get("/org", response_model=OrgOut)
def current_org(session: RequestSession, actor: ApiActor) -> OrgOut:
    org = organizations.get_org(session, actor)
    return OrgOut(id=str(org.id), name=org.name, tier=org.tier.value, role=actor.role.value)
