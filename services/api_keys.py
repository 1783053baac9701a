"""Organization API keys for the REST API: shown once at creation, stored only as a hash."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from pydantic import BaseModel, Field
from sqlmodel import Session, col, select

from agent_platform.models import ApiKey, Organization, Role
from agent_platform.models.base import utcnow
from services import audit
from services.access import Actor, require_role
from services.errors import Forbidden, NotFound, Unauthenticated
from services.tokens import new_token, token_hash
from services.validation import parse

KEY_PREFIX = "ap_"


class ApiKeyInput(BaseModel):
    name: str = Field(min_length=1, max_length=80)
    role: Role = Role.BUILDER


@dataclass(frozen=True)
class CreatedKey:
    key: ApiKey
    secret: str


def create_key(session: Session, actor: Actor, *, name: str, role: str = "builder") -> CreatedKey:
    require_role(actor, Role.ADMIN)
    data = parse(ApiKeyInput, {"name": name.strip(), "role": role})
    if data.role == Role.OWNER:
        raise Forbidden("An API key cannot have the owner role.")
    secret = new_token(KEY_PREFIX)
    key = ApiKey(
        org_id=actor.org_id,
        created_by_id=actor.user_id,
        name=data.name,
        prefix=secret[: len(KEY_PREFIX) + 6],
        key_hash=token_hash(secret),
        role=data.role,
    )
    session.add(key)
    session.flush()
    audit.record(
        session,
        "api_key.created",
        org_id=actor.org_id,
        actor_id=actor.user_id,
        target_type="api_key",
        target_id=key.id,
        name=data.name,
        role=data.role.value,
        client_ip=actor.client_ip,
    )
    return CreatedKey(key=key, secret=secret)


def list_keys(session: Session, actor: Actor) -> list[ApiKey]:
    require_role(actor, Role.ADMIN)
    return list(
        session.exec(
            select(ApiKey)
            .where(ApiKey.org_id == actor.org_id, col(ApiKey.revoked_at).is_(None))
            .order_by(col(ApiKey.created_at).desc())
        ).all()
    )


def revoke_key(session: Session, actor: Actor, key_id: uuid.UUID) -> None:
    require_role(actor, Role.ADMIN)
    key = session.get(ApiKey, key_id)
    if key is None or key.org_id != actor.org_id or key.revoked_at is not None:
        raise NotFound("API key not found.")
    key.revoked_at = utcnow()
    session.add(key)
    audit.record(
        session,
        "api_key.revoked",
        org_id=actor.org_id,
        actor_id=actor.user_id,
        target_type="api_key",
        target_id=key.id,
        client_ip=actor.client_ip,
    )


def actor_for_key(session: Session, secret: str | None) -> Actor:
    """The actor an API request acts as; any problem is the same 401 with no detail."""
    if not secret or not secret.startswith(KEY_PREFIX):
        raise Unauthenticated("A valid API key is required.")
    key = session.exec(select(ApiKey).where(ApiKey.key_hash == token_hash(secret))).first()
    now = utcnow()
    if key is None or key.revoked_at is not None or (key.expires_at and key.expires_at <= now):
        raise Unauthenticated("A valid API key is required.")
    if session.get(Organization, key.org_id) is None:
        raise Unauthenticated("A valid API key is required.")
    key.last_used_at = now
    session.add(key)
    return Actor(user_id=None, org_id=key.org_id, role=key.role)
