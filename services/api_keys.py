"""Organization API keys for the REST API: shown once at creation, stored only as a hash.

A key never outlives or outranks the person who made it: it acts with at most its creator's
current role in the organization, and leaving the organization (or being demoted) revokes or
narrows their keys, so a departed member keeps no back door through the API.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from pydantic import BaseModel, Field
from sqlmodel import Session, col, select
from sqlmodel.sql.expression import SelectOfScalar

from agent_platform.models import ApiKey, Membership, Organization, Role, User
from agent_platform.models.base import utcnow
from services import audit
from services.access import ROLE_RANK, ROLES, Actor, Permission, require
from services.errors import Forbidden, NotFound, Unauthenticated
from services.tokens import new_token, token_hash
from services.validation import parse

KEY_PREFIX = "ap_"
# The roles a key may have: never the owner's (create_key refuses it).
KEY_ROLES: list[str] = [role for role in ROLES if role != Role.OWNER.value]


class ApiKeyInput(BaseModel):
    name: str = Field(min_length=1, max_length=80)
    role: Role = Role.BUILDER


@dataclass(frozen=True)
class CreatedKey:
    key: ApiKey
    secret: str


def create_key(session: Session, actor: Actor, *, name: str, role: str = "builder") -> CreatedKey:
    require(actor, Permission.ORG_MANAGE)
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


def visible_keys(actor: Actor) -> SelectOfScalar[ApiKey]:
    """Every API-key read starts here: the live keys of the actor's organization (a revoked
    key is gone for good, so it is not found either)."""
    return select(ApiKey).where(ApiKey.org_id == actor.org_id, col(ApiKey.revoked_at).is_(None))


def get_key(session: Session, actor: Actor, key_id: uuid.UUID) -> ApiKey:
    key = session.exec(visible_keys(actor).where(ApiKey.id == key_id)).first()
    if key is None:
        raise NotFound("API key not found.")
    return key


def list_keys(session: Session, actor: Actor) -> list[ApiKey]:
    require(actor, Permission.ORG_MANAGE)
    return list(session.exec(visible_keys(actor).order_by(col(ApiKey.created_at).desc())).all())


def revoke_key(session: Session, actor: Actor, key_id: uuid.UUID) -> None:
    require(actor, Permission.ORG_MANAGE)
    key = get_key(session, actor, key_id)
    key.revoked_at = utcnow()
    session.add(key)
    audit.by_actor(session, actor, "api_key.revoked", target_type="api_key", target_id=key.id)


def _live_keys_of(session: Session, actor: Actor, user_id: uuid.UUID) -> list[ApiKey]:
    return list(session.exec(visible_keys(actor).where(ApiKey.created_by_id == user_id)).all())


def revoke_keys_of(session: Session, actor: Actor, user_id: uuid.UUID, *, reason: str) -> int:
    """Revoke every live key `user_id` made in the actor's org (they left or were removed).

    The caller has already decided the membership change is allowed; each key is audited so
    the log shows which keys stopped working and why."""
    keys = _live_keys_of(session, actor, user_id)
    now = utcnow()
    for key in keys:
        key.revoked_at = now
        session.add(key)
        audit.by_actor(
            session,
            actor,
            "api_key.revoked",
            target_type="api_key",
            target_id=key.id,
            reason=reason,
            creator_id=str(user_id),
        )
    return len(keys)


def narrow_keys_of(session: Session, actor: Actor, user_id: uuid.UUID, *, role: Role) -> int:
    """Lower every live key of `user_id` above `role` to `role` (their role was lowered).

    `actor_for_key` caps keys at the creator's role anyway; writing it down too makes the key
    list show what a key can really do, and a later promotion does not silently widen it."""
    changed = 0
    for key in _live_keys_of(session, actor, user_id):
        if ROLE_RANK[key.role] <= ROLE_RANK[role]:
            continue
        old = key.role
        key.role = role
        session.add(key)
        changed += 1
        audit.by_actor(
            session,
            actor,
            "api_key.narrowed",
            target_type="api_key",
            target_id=key.id,
            old=old.value,
            new=role.value,
            creator_id=str(user_id),
        )
    return changed


def actor_for_key(session: Session, secret: str | None) -> Actor:
    """The actor an API request acts as; any problem is the same 401 with no detail.

    The role is the lower of the key's and its creator's current role in the org: a key
    whose creator left (or whose account is gone or disabled) does not authenticate."""
    refused = Unauthenticated("A valid API key is required.")
    if not secret or not secret.startswith(KEY_PREFIX):
        raise refused
    key = session.exec(select(ApiKey).where(ApiKey.key_hash == token_hash(secret))).first()
    now = utcnow()
    if key is None or key.revoked_at is not None or (key.expires_at and key.expires_at <= now):
        raise refused
    if session.get(Organization, key.org_id) is None or key.created_by_id is None:
        raise refused
    creator = session.exec(
        select(col(Membership.role))
        .join(User, col(User.id) == col(Membership.user_id))
        .where(
            Membership.org_id == key.org_id,
            Membership.user_id == key.created_by_id,
            col(User.is_active).is_(True),
        )
    ).first()
    if creator is None:
        raise refused
    role = min(key.role, creator, key=ROLE_RANK.__getitem__)
    key.last_used_at = now
    session.add(key)
    return Actor(user_id=None, org_id=key.org_id, role=role)


def creator_of_key(session: Session, secret: str) -> uuid.UUID | None:
    """Who made the key (an API-key actor has no person of its own): what a key creates
    that later acts by itself, like a webhook trigger, acts as this person."""
    return session.exec(
        select(ApiKey.created_by_id).where(ApiKey.key_hash == token_hash(secret))
    ).first()
