"""Builders for test data, with keyword defaults (see STYLE.md): real services, real rows."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable

from sqlmodel import Session, select

from agent_platform.models import AuditEntry, Invitation, Role, User
from agent_platform.redis_client import get_redis
from services import accounts
from services.access import Actor, actor_for
from services.accounts import default_org_id
from services.api_keys import CreatedKey
from services.ratelimit import DelayPolicy, LoginLimiter

PASSWORD = "correct horse battery"


def make_user(
    session: Session, *, email: str | None = None, name: str = "Ada", password: str = PASSWORD
) -> User:
    email = email or f"user-{uuid.uuid4().hex[:8]}@example.com"
    user = accounts.register(session, email=email, name=name, password=password)
    # Committed like a real sign-up: failed sign-ins are audited in their own transaction.
    session.commit()
    return user


def personal_actor(session: Session, user: User) -> Actor:
    org_id = default_org_id(session, user.id)
    assert org_id is not None
    return actor_for(session, user, org_id)


def add_member(
    session: Session, org_id: uuid.UUID, *, role: Role = Role.BUILDER, email: str | None = None
) -> tuple[User, Actor]:
    """A new user who is also a member of `org_id` with `role`."""
    from agent_platform.models import Membership

    user = make_user(session, email=email)
    session.add(Membership(org_id=org_id, user_id=user.id, role=role))
    session.flush()
    return user, actor_for(session, user, org_id)


def limiter(
    free: int = 5, client_free: int = 20, *, clock: Callable[[], float] = time.time
) -> LoginLimiter:
    """The sign-in throttle with 1 s base delay doubling to 15 min (`clock` to move time)."""
    return LoginLimiter(
        get_redis(),
        pair=DelayPolicy(free, 1.0, 900.0),
        client=DelayPolicy(client_free, 1.0, 900.0),
        clock=clock,
    )


def make_org(session: Session, owner: User, *, name: str = "Acme") -> Actor:
    """A new (non-personal) organization owned by `owner`; returns the owner's actor in it."""
    from services import organizations

    org = organizations.create_org(session, owner, name=name)
    session.flush()
    return actor_for(session, owner, org.id)


def make_invitation(
    session: Session, actor: Actor, *, email: str | None = None, role: Role = Role.BUILDER
) -> tuple[Invitation, str]:
    from services import invitations

    email = email or f"invitee-{uuid.uuid4().hex[:8]}@example.com"
    invitation, token = invitations.create_invitation(session, actor, email=email, role=role.value)
    session.flush()
    return invitation, token


def make_api_key(
    session: Session, actor: Actor, *, name: str = "CI", role: Role = Role.BUILDER
) -> CreatedKey:
    from services import api_keys

    created = api_keys.create_key(session, actor, name=name, role=role.value)
    session.flush()
    return created


def audit_entries(
    session: Session, action: str, *, org_id: uuid.UUID | None = None
) -> list[AuditEntry]:
    """Read-back helper: every audit entry with exactly `action` (optionally in one org)."""
    query = select(AuditEntry).where(AuditEntry.action == action)
    if org_id is not None:
        query = query.where(AuditEntry.org_id == org_id)
    return list(session.exec(query).all())
