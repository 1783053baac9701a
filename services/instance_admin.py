"""The instance admin's view of every organization: tiers and per-org limit overrides.

Why a service of its own: everything else is scoped to one organization through an `Actor`;
this is the one place that reads across organizations, so every function here starts by
checking that the person is the instance admin (`User.is_instance_admin`), whatever called
it — the admin page, the REST API or a script.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field
from sqlmodel import Session, col, func, select

from agent_platform.models import (
    Agent,
    AgentStatus,
    ApiKey,
    Membership,
    Organization,
    Role,
    Tier,
    User,
)
from agent_platform.settings import get_settings
from services import audit
from services.access import ROLE_RANK
from services.api_keys import actor_for_key
from services.errors import Forbidden, Invalid, NotFound
from services.organizations import LIMIT_FIELDS, Limits, limits_for
from services.tokens import token_hash
from services.validation import parse

MAX_LIMIT = 1_000_000_000
LIMIT_LABELS = {
    "max_agents": "Agents",
    "max_runs_per_month": "Runs per month",
    "max_concurrent_runs": "Concurrent runs",
    "max_members": "Members",
}


class OrgPlanInput(BaseModel):
    """A change to one organization's plan; fields left out stay as they are.

    A limit of None means "the tier's number" (unlimited while plans are off), -1 unlimited."""

    model_config = ConfigDict(extra="forbid")

    tier: Tier | None = None
    max_agents: int | None = Field(default=None, ge=-1, le=MAX_LIMIT)
    max_runs_per_month: int | None = Field(default=None, ge=-1, le=MAX_LIMIT)
    max_concurrent_runs: int | None = Field(default=None, ge=-1, le=MAX_LIMIT)
    max_members: int | None = Field(default=None, ge=-1, le=MAX_LIMIT)


@dataclass(frozen=True)
class OrgSummary:
    id: uuid.UUID
    name: str
    slug: str
    personal: bool
    created_at: datetime
    members: int
    agents: int
    overrides: dict[str, int | None]  # the admin's own numbers (None: the tier's)
    limits: Limits  # what applies now


def plans_enabled() -> bool:
    """Tier limits apply only with BILLING_ENABLED (which needs Stripe keys)."""
    return get_settings().billing_enabled


def require_instance_admin(session: Session, user_id: uuid.UUID | None) -> User:
    user = session.get(User, user_id) if user_id is not None else None
    if user is None or not user.is_active or not user.is_instance_admin:
        raise Forbidden("Only the instance admin can do this.")
    return user


def admin_for_key(session: Session, secret: str | None) -> uuid.UUID:
    """The instance admin an API key acts for. The key must authenticate (as for any API
    call), act with at least the admin role in its org, and belong to an instance admin:
    a builder key of the admin's cannot manage the instance."""
    actor = actor_for_key(session, secret)
    if ROLE_RANK[actor.role] < ROLE_RANK[Role.ADMIN]:
        raise Forbidden("Only the instance admin can do this, with a key of the admin role.")
    creator = session.exec(
        select(ApiKey.created_by_id).where(ApiKey.key_hash == token_hash(secret or ""))
    ).first()
    return require_instance_admin(session, creator).id


def parse_limit(text: str, field: str) -> int | None:
    """What a person types for a limit: blank = the tier's number, "unlimited" or -1 = no
    limit, else a whole number."""
    value = text.strip().lower().replace(",", "").replace("_", "")
    if value == "":
        return None
    if value in ("unlimited", "-1", "∞"):
        return -1
    if not value.isdigit() or int(value) > MAX_LIMIT:
        message = "Use a whole number, 'unlimited', or leave it blank for the plan's number."
        raise Invalid(message, fields={field: message})
    return int(value)


def _counts(
    session: Session, org_ids: list[uuid.UUID]
) -> tuple[dict[uuid.UUID, int], dict[uuid.UUID, int]]:
    if not org_ids:
        return {}, {}
    members = dict(
        session.exec(
            select(Membership.org_id, func.count())
            .where(col(Membership.org_id).in_(org_ids))
            .group_by(col(Membership.org_id))
        ).all()
    )
    agents = dict(
        session.exec(
            select(Agent.org_id, func.count())
            .where(col(Agent.org_id).in_(org_ids), Agent.status != AgentStatus.ARCHIVED)
            .group_by(col(Agent.org_id))
        ).all()
    )
    return members, agents


def _summary(session: Session, org: Organization, members: int, agents: int) -> OrgSummary:
    limits = limits_for(session, org.id)
    assert limits is not None  # the org was just read
    return OrgSummary(
        id=org.id,
        name=org.name,
        slug=org.slug,
        personal=org.personal,
        created_at=org.created_at,
        members=members,
        agents=agents,
        overrides={name: getattr(org, name) for name in LIMIT_FIELDS},
        limits=limits,
    )


def list_orgs(
    session: Session,
    user_id: uuid.UUID | None,
    *,
    search: str = "",
    offset: int = 0,
    limit: int = 25,
) -> tuple[list[OrgSummary], int]:
    """Every organization of the instance, by name, paged; `search` matches name or slug."""
    require_instance_admin(session, user_id)
    query = select(Organization)
    if search.strip():
        pattern = f"%{search.strip().lower()}%"
        query = query.where(
            col(Organization.name).ilike(pattern) | col(Organization.slug).ilike(pattern)
        )
    total = session.exec(select(func.count()).select_from(query.subquery())).one()
    orgs = session.exec(
        query.order_by(col(Organization.name), col(Organization.id))
        .offset(max(0, offset))
        .limit(max(1, min(limit, 200)))
    ).all()
    members, agents = _counts(session, [o.id for o in orgs])
    return [_summary(session, o, members.get(o.id, 0), agents.get(o.id, 0)) for o in orgs], total


def get_org(session: Session, user_id: uuid.UUID | None, org_id: uuid.UUID) -> OrgSummary:
    require_instance_admin(session, user_id)
    org = session.get(Organization, org_id)
    if org is None:
        raise NotFound("Organization not found.")
    members, agents = _counts(session, [org.id])
    return _summary(session, org, members.get(org.id, 0), agents.get(org.id, 0))


def set_org_plan(
    session: Session,
    user_id: uuid.UUID | None,
    org_id: uuid.UUID,
    changes: dict[str, object],
    *,
    client_ip: str | None = None,
) -> OrgSummary:
    """Set an organization's tier and/or limit overrides; only the fields in `changes` move.

    Audited in the organization's own log (its admins see who changed their plan), with the
    old and new values of what changed."""
    admin = require_instance_admin(session, user_id)
    data = parse(OrgPlanInput, changes)
    given = data.model_dump(exclude_unset=True)
    if "tier" in given and given["tier"] is None:
        raise Invalid("Pick a tier.", fields={"tier": "Required"})
    org = session.get(Organization, org_id)
    if org is None:
        raise NotFound("Organization not found.")
    old: dict[str, object] = {}
    new: dict[str, object] = {}
    for name, value in given.items():
        before = getattr(org, name)
        if before == value:
            continue
        old[name] = before.value if isinstance(before, Tier) else before
        new[name] = value.value if isinstance(value, Tier) else value
        setattr(org, name, value)
    if new:
        session.add(org)
        session.flush()
        audit.record(
            session,
            "org.plan_changed",
            org_id=org.id,
            actor_id=admin.id,
            target_type="org",
            target_id=org.id,
            client_ip=client_ip,
            old=old,
            new=new,
        )
    return get_org(session, user_id, org.id)
