"""REST API for the instance admin: organizations, their tiers and limit overrides.

The same service as the /admin page (`services.instance_admin`), so both refuse the same
people. Authenticated by an API key whose creator is the instance admin and that acts with
at least the admin role.
"""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, Header, Query, Request
from pydantic import BaseModel

from agent_platform.client_address import request_address
from agent_platform.db import session_scope
from services import instance_admin
from services.instance_admin import OrgSummary

router = APIRouter(prefix="/api/v1/admin", tags=["instance admin"])
PLAN_FIELDS = (
    "Any of: tier (starter, pro, team, enterprise), max_agents, max_runs_per_month, "
    "max_concurrent_runs, max_members (a number, -1 for unlimited, null for the tier's number)."
)


def admin_user(authorization: Annotated[str | None, Header()] = None) -> uuid.UUID:
    secret = (authorization or "").removeprefix("Bearer ").strip()
    with session_scope() as session:
        return instance_admin.admin_for_key(session, secret)


class LimitsOut(BaseModel):
    max_agents: int
    max_runs_per_month: int
    max_concurrent_runs: int
    max_members: int


class AdminOrgOut(BaseModel):
    id: str
    name: str
    slug: str
    personal: bool
    tier: str
    members: int
    agents: int
    overrides: dict[str, int | None]  # None: the tier's number; -1: unlimited
    limits: LimitsOut  # what applies now (-1: unlimited)


class AdminOrgPage(BaseModel):
    plans_enabled: bool
    total: int
    orgs: list[AdminOrgOut]


def _out(row: OrgSummary) -> AdminOrgOut:
    lim = row.limits
    return AdminOrgOut(
        id=str(row.id),
        name=row.name,
        slug=row.slug,
        personal=row.personal,
        tier=lim.tier.value,
        members=row.members,
        agents=row.agents,
        overrides=row.overrides,
        limits=LimitsOut(
            max_agents=lim.max_agents,
            max_runs_per_month=lim.max_runs_per_month,
            max_concurrent_runs=lim.max_concurrent_runs,
            max_members=lim.max_members,
        ),
    )


@router.get("/orgs", response_model=AdminOrgPage)
def list_orgs(
    user_id: Annotated[uuid.UUID, Depends(admin_user)],
    search: str = "",
    offset: Annotated[int, Query(ge=0)] = 0,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> AdminOrgPage:
    with session_scope() as session:
        rows, total = instance_admin.list_orgs(
            session, user_id, search=search, offset=offset, limit=limit
        )
        return AdminOrgPage(
            plans_enabled=instance_admin.plans_enabled(),
            total=total,
            orgs=[_out(r) for r in rows],
        )


@router.get("/orgs/{org_id}", response_model=AdminOrgOut)
def get_org(user_id: Annotated[uuid.UUID, Depends(admin_user)], org_id: uuid.UUID) -> AdminOrgOut:
    with session_scope() as session:
        return _out(instance_admin.get_org(session, user_id, org_id))


@router.patch("/orgs/{org_id}", response_model=AdminOrgOut)
def update_org_plan(
    user_id: Annotated[uuid.UUID, Depends(admin_user)],
    org_id: uuid.UUID,
    body: Annotated[dict[str, Any], Body(description=PLAN_FIELDS)],
    request: Request,
) -> AdminOrgOut:
    """Fields left out stay as they are; a limit of null returns to the tier's number.

    The body is checked by the service (`OrgPlanInput`), so a bad value is a 422 in words."""
    client_ip = request_address(request)
    with session_scope() as session:
        return _out(
            instance_admin.set_org_plan(session, user_id, org_id, body, client_ip=client_ip)
        )
