"""Organizations and their members: listing, roles, removal, tier limits."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

from pydantic import BaseModel, Field
from sqlalchemy import ColumnElement
from sqlmodel import Session, and_, col, func, select
from sqlmodel.sql.expression import SelectOfScalar

from agent_platform.models import Membership, Organization, Role, Tier, TierLimit, User
from agent_platform.settings import get_settings
from services import api_keys, audit
from services.access import ROLE_RANK, Actor, Permission, require
from services.accounts import create_organization
from services.errors import Forbidden, Invalid, NotFound
from services.read_scope import where_of
from services.validation import parse


class OrgInput(BaseModel):
    name: str = Field(min_length=1, max_length=120)


@dataclass(frozen=True)
class MemberRow:
    membership_id: uuid.UUID
    user_id: uuid.UUID
    email: str
    name: str
    role: Role
    joined_at: datetime


@dataclass(frozen=True)
class OrgRow:
    id: uuid.UUID
    name: str
    role: Role
    tier: Tier


def orgs_of_user(session: Session, user: User) -> list[OrgRow]:
    rows = session.exec(
        select(Organization, col(Membership.role))
        .join(Membership, col(Membership.org_id) == col(Organization.id))
        .where(Membership.user_id == user.id)
        .order_by(col(Organization.name))
    ).all()
    return [OrgRow(id=o.id, name=o.name, role=r, tier=o.tier) for o, r in rows]


def get_org(session: Session, actor: Actor) -> Organization:
    org = session.get(Organization, actor.org_id)
    if org is None:
        raise NotFound("Organization not found.")
    return org


def create_org(session: Session, user: User, *, name: str) -> Organization:
    data = parse(OrgInput, {"name": name.strip()})
    org = create_organization(session, user, data.name, personal=False)
    audit.record(
        session, "org.created", org_id=org.id, actor_id=user.id, target_type="org", target_id=org.id
    )
    return org


def rename_org(session: Session, actor: Actor, *, name: str) -> Organization:
    require(actor, Permission.ORG_MANAGE)
    data = parse(OrgInput, {"name": name.strip()})
    org = get_org(session, actor)
    old = org.name
    org.name = data.name
    session.add(org)
    audit.record(
        session,
        "org.renamed",
        org_id=org.id,
        actor_id=actor.user_id,
        target_type="org",
        target_id=org.id,
        old=old,
        new=data.name,
    )
    return org


def set_self_approval(session: Session, actor: Actor, *, allowed: bool) -> Organization:
    """Whether the person whose run asks for approval may approve it themselves. Off by
    default (separation of duties); a one-person organization turns it on to use approvals."""
    require(actor, Permission.ORG_MANAGE)
    org = get_org(session, actor)
    if org.allow_self_approval != allowed:
        org.allow_self_approval = allowed
        session.add(org)
        audit.record(
            session,
            "org.self_approval_changed",
            org_id=org.id,
            actor_id=actor.user_id,
            target_type="org",
            target_id=org.id,
            allowed=allowed,
            client_ip=actor.client_ip,
        )
    return org


def visible_members(actor: Actor) -> SelectOfScalar[Membership]:
    """Every membership read starts here: the actor's organization's members, nothing else."""
    return select(Membership).where(Membership.org_id == actor.org_id)


def get_membership(session: Session, actor: Actor, membership_id: uuid.UUID) -> Membership:
    membership = session.exec(visible_members(actor).where(Membership.id == membership_id)).first()
    if membership is None:
        raise NotFound("Member not found.")
    return membership


def member_filter(actor: Actor, *, search: str = "") -> ColumnElement[bool]:
    """Which members a list shows: the actor's organization's, with `search` in the email or
    name; for queries that join each membership's user (the list here, the REST API's)."""
    condition = where_of(visible_members(actor))
    if search.strip():
        pattern = f"%{search.strip().lower()}%"
        condition = and_(condition, col(User.email).ilike(pattern) | col(User.name).ilike(pattern))
    return condition


def list_members(
    session: Session, actor: Actor, *, search: str = "", offset: int = 0, limit: int = 50
) -> tuple[list[MemberRow], int]:
    query = (
        select(Membership, User)
        .join(User, col(User.id) == col(Membership.user_id))
        .where(member_filter(actor, search=search))
    )
    total = session.exec(select(func.count()).select_from(query.subquery())).one()
    rows = session.exec(query.order_by(col(User.email)).offset(offset).limit(min(limit, 200))).all()
    return [MemberRow(m.id, u.id, u.email, u.name, m.role, m.created_at) for m, u in rows], total


def _owner_count(session: Session, org_id: uuid.UUID) -> int:
    return session.exec(
        select(func.count()).where(Membership.org_id == org_id, Membership.role == Role.OWNER)
    ).one()


def _check_can_manage(actor: Actor, current: Role, new: Role | None = None) -> None:
    require(actor, Permission.ORG_MANAGE)
    if actor.role != Role.OWNER and (current == Role.OWNER or new == Role.OWNER):
        raise Forbidden("Only an owner can change an owner or make someone an owner.")
    if ROLE_RANK[current] > ROLE_RANK[actor.role]:
        raise Forbidden("You cannot change a member with a higher role than yours.")


def change_role(
    session: Session, actor: Actor, membership_id: uuid.UUID, *, role: str
) -> Membership:
    try:
        new_role = Role(role)
    except ValueError:
        raise Invalid(f"Unknown role {role!r}.", fields={"role": "Unknown role"}) from None
    membership = get_membership(session, actor, membership_id)
    _check_can_manage(actor, membership.role, new_role)
    if (
        membership.role == Role.OWNER
        and new_role != Role.OWNER
        and _owner_count(session, actor.org_id) <= 1
    ):
        raise Invalid("An organization needs at least one owner.")
    old = membership.role
    membership.role = new_role
    session.add(membership)
    audit.record(
        session,
        "member.role_changed",
        org_id=actor.org_id,
        actor_id=actor.user_id,
        target_type="user",
        target_id=membership.user_id,
        old=old.value,
        new=new_role.value,
        client_ip=actor.client_ip,
    )
    # Their API keys may do no more than they may now (audited per key).
    api_keys.narrow_keys_of(session, actor, membership.user_id, role=new_role)
    return membership


def remove_member(session: Session, actor: Actor, membership_id: uuid.UUID) -> None:
    membership = get_membership(session, actor, membership_id)
    if membership.user_id != actor.user_id:
        _check_can_manage(actor, membership.role)
    if membership.role == Role.OWNER and _owner_count(session, actor.org_id) <= 1:
        raise Invalid("The last owner cannot leave; make someone else owner first.")
    session.delete(membership)
    audit.record(
        session,
        "member.removed",
        org_id=actor.org_id,
        actor_id=actor.user_id,
        target_type="user",
        target_id=membership.user_id,
        client_ip=actor.client_ip,
    )
    # A departed member keeps no way in through the API (audited per key).
    api_keys.revoke_keys_of(session, actor, membership.user_id, reason="member_removed")


LIMIT_FIELDS = ("max_agents", "max_runs_per_month", "max_concurrent_runs", "max_members")


@dataclass(frozen=True)
class Limits:
    """An organization's effective limits (-1 means unlimited) and where they come from."""

    tier: Tier
    plans_enabled: bool  # False: the tier's numbers do not apply (BILLING_ENABLED off)
    max_agents: int
    max_runs_per_month: int
    max_concurrent_runs: int
    max_members: int


def limits_for(session: Session, org_id: uuid.UUID) -> Limits | None:
    """The one place an organization's limits are decided; every cap check and page asks here.

    Why tiers apply only with billing on: a self-hosted install sells nothing, so the starter
    plan's numbers would just cap its owner. Without billing every org is unlimited; with it,
    the tier's row applies. The instance admin's per-org overrides win either way (None: the
    default above; -1: unlimited), so an admin can still cap or lift one organization.
    """
    org = session.get(Organization, org_id)
    if org is None:
        return None
    plans = get_settings().billing_enabled
    row = session.get(TierLimit, org.tier) if plans else None

    def pick(name: str) -> int:
        override: int | None = getattr(org, name)
        if override is not None:
            return override
        limit: int = getattr(row, name) if row is not None else -1
        return limit

    return Limits(org.tier, plans, *(pick(name) for name in LIMIT_FIELDS))


def tier_limits(session: Session, actor: Actor) -> Limits:
    """The actor's organization's effective limits (any member may read them)."""
    org = get_org(session, actor)
    limits = limits_for(session, org.id)
    if limits is None:
        raise NotFound("Organization not found.")
    return limits


def member_count(session: Session, org_id: uuid.UUID) -> int:
    return session.exec(select(func.count()).where(Membership.org_id == org_id)).one()
