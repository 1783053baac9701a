"""Who is acting, in which organization, with which role — resolved once, checked everywhere."""

from __future__ import annotations

import enum
import uuid
from dataclasses import dataclass

from sqlmodel import Session, select

from agent_platform.models import Membership, Role, User
from services.errors import Forbidden, NotFound

ROLE_RANK = {Role.VIEWER: 0, Role.BUILDER: 1, Role.ADMIN: 2, Role.OWNER: 3}
# Every role, least first, for the forms that give one (the services still decide who may),
# and the role a new member or key gets unless someone picks another.
ROLES: list[str] = [role.value for role in sorted(ROLE_RANK, key=ROLE_RANK.__getitem__)]
DEFAULT_ROLE = Role.BUILDER


@dataclass(frozen=True)
class Actor:
    user_id: uuid.UUID | None
    org_id: uuid.UUID
    role: Role
    client_ip: str | None = None

    def at_least(self, role: Role) -> bool:
        return ROLE_RANK[self.role] >= ROLE_RANK[role]


def require_role(actor: Actor, role: Role) -> None:
    if not actor.at_least(role):
        raise Forbidden(f"This needs the {role.value} role or higher.")


class Permission(enum.StrEnum):
    """What a person may do, named once: services refuse with it and the UI shows buttons by
    it, so the two cannot disagree (no role tuples copied into pages)."""

    AGENTS_WRITE = "agents.write"
    AGENTS_DELETE = "agents.delete"
    KNOWLEDGE_WRITE = "knowledge.write"
    PROVIDERS_MANAGE = "providers.manage"
    INTEGRATIONS_MANAGE = "integrations.manage"
    ORG_MANAGE = "org.manage"


# The least role each permission needs.
PERMISSIONS: dict[Permission, Role] = {
    Permission.AGENTS_WRITE: Role.BUILDER,
    Permission.AGENTS_DELETE: Role.ADMIN,
    Permission.KNOWLEDGE_WRITE: Role.BUILDER,
    Permission.PROVIDERS_MANAGE: Role.ADMIN,
    Permission.INTEGRATIONS_MANAGE: Role.ADMIN,
    Permission.ORG_MANAGE: Role.ADMIN,
}


def can(who: Actor | Role, permission: Permission) -> bool:
    role = who.role if isinstance(who, Actor) else who
    return ROLE_RANK[role] >= ROLE_RANK[PERMISSIONS[permission]]


def require(actor: Actor, permission: Permission) -> None:
    """Refuse, in words, what `can` says no to."""
    require_role(actor, PERMISSIONS[permission])


def granted(role: Role) -> list[str]:
    """Every permission of `role`, for a UI that shows only what the person may do."""
    return [p.value for p in Permission if can(role, p)]


def actor_for(
    session: Session, user: User, org_id: uuid.UUID, *, client_ip: str | None = None
) -> Actor:
    """The user's actor in `org_id`; an org they do not belong to does not exist for them."""
    membership = session.exec(
        select(Membership).where(Membership.org_id == org_id, Membership.user_id == user.id)
    ).first()
    if membership is None or not user.is_active:
        raise NotFound("Organization not found.")
    return Actor(user_id=user.id, org_id=org_id, role=membership.role, client_ip=client_ip)
