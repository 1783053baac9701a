"""Who is acting, in which organization, with which role — resolved once, checked everywhere."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from sqlmodel import Session, select

from agent_platform.models import Membership, Role, User
from services.errors import Forbidden, NotFound

ROLE_RANK = {Role.VIEWER: 0, Role.BUILDER: 1, Role.ADMIN: 2, Role.OWNER: 3}


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
