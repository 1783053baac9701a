"""Organization API keys for the REST API: shown once at creation, stored only as a hash.

A key never outlives or outranks the person who made it: it acts with at most its creator's
current role in the organization, and leaving the organization (or being demoted) revokes or
narrows their keys, so a departed member keeps no back door through the API.

Within its role a key is narrowed further by scopes — read (every key), run (start and cancel
runs), write (change agents and the rest), admin (keys, members, the organization) — and may
carry an expiry, after which it is refused like a revoked key. A key can also be exchanged for
a 15-minute access token (`services.access_tokens`); both authenticate through `principal_for`.
"""

from __future__ import annotations

import enum
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from pydantic import BaseModel, Field, field_validator
from sqlmodel import Session, col, select
from sqlmodel.sql.expression import SelectOfScalar

from agent_platform.models import ApiKey, Membership, Organization, Role, User
from agent_platform.models.base import utcnow
from services import access_tokens, audit
from services.access import ROLE_RANK, ROLES, Actor, Permission, require
from services.errors import Forbidden, Invalid, NotFound, Unauthenticated
from services.tokens import new_token, token_hash
from services.validation import parse

KEY_PREFIX = "ap_"
# The roles a key may have: never the owner's (create_key refuses it).
KEY_ROLES: list[str] = [role for role in ROLES if role != Role.OWNER.value]


MAX_KEY_DAYS = 3650


class Scope(enum.StrEnum):
    """What a key may do through the REST API, within its role. Every key may read; admin
    implies the others."""

    READ = "read"
    RUN = "run"
    WRITE = "write"
    ADMIN = "admin"


SCOPES: list[str] = [scope.value for scope in Scope]
DEFAULT_SCOPES: list[str] = [Scope.READ, Scope.RUN, Scope.WRITE]


class ApiKeyInput(BaseModel):
    name: str = Field(min_length=1, max_length=80)
    role: Role = Role.BUILDER
    scopes: list[Scope] = Field(default_factory=lambda: [Scope(s) for s in DEFAULT_SCOPES])
    expires_in_days: int | None = Field(default=None, ge=1, le=MAX_KEY_DAYS)

    @field_validator("scopes")
    @classmethod
    def _with_read(cls, value: list[Scope]) -> list[Scope]:
        """Every key reads; the stored list is sorted and without repeats."""
        return sorted({Scope.READ, *value}, key=list(Scope).index)


@dataclass(frozen=True)
class CreatedKey:
    key: ApiKey
    secret: str


def create_key(
    session: Session,
    actor: Actor,
    *,
    name: str,
    role: str = "builder",
    scopes: list[str] | None = None,
    expires_in_days: int | None = None,
    creator_id: uuid.UUID | None = None,
) -> CreatedKey:
    """A new key; `creator_id` is the person it acts for when `actor` is itself a key (the
    key's own creator), since a key with no person behind it would never authenticate."""
    require(actor, Permission.ORG_MANAGE)
    data = parse(
        ApiKeyInput,
        {
            "name": name.strip(),
            "role": role,
            "scopes": DEFAULT_SCOPES if scopes is None else scopes,
            "expires_in_days": expires_in_days,
        },
    )
    if data.role == Role.OWNER:
        raise Forbidden("An API key cannot have the owner role.")
    if Scope.ADMIN in data.scopes and ROLE_RANK[data.role] < ROLE_RANK[Role.ADMIN]:
        raise Invalid(
            "The admin scope needs a key with the admin role.",
            fields={"scopes": "The admin scope needs a key with the admin role."},
        )
    made_by = actor.user_id or creator_id
    if made_by is None:
        raise Forbidden("Only a person (or a key acting for one) can create API keys.")
    secret = new_token(KEY_PREFIX)
    expires_at = utcnow() + timedelta(days=data.expires_in_days) if data.expires_in_days else None
    key = ApiKey(
        org_id=actor.org_id,
        created_by_id=made_by,
        name=data.name,
        prefix=secret[: len(KEY_PREFIX) + 6],
        key_hash=token_hash(secret),
        role=data.role,
        scopes=[scope.value for scope in data.scopes],
        expires_at=expires_at,
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
        scopes=key.scopes,
        expires_at=expires_at.isoformat() if expires_at else None,
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


def listable_keys(actor: Actor) -> SelectOfScalar[ApiKey]:
    """The live keys an actor may list (admins), as a query the API pages through."""
    require(actor, Permission.ORG_MANAGE)
    return visible_keys(actor)


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


@dataclass(frozen=True)
class KeyPrincipal:
    """Who an API request is: the actor it acts as (role capped by the creator's), the key,
    the person behind it and what it may do (`scopes`, narrowed further by a token's)."""

    actor: Actor
    key_id: uuid.UUID
    creator_id: uuid.UUID
    scopes: frozenset[str]

    def has(self, scope: Scope) -> bool:
        return scope == Scope.READ or scope in self.scopes or Scope.ADMIN in self.scopes


def require_scope(principal: KeyPrincipal, scope: Scope) -> None:
    if not principal.has(scope):
        raise Forbidden(
            f"This API key does not have the “{scope.value}” scope; "
            f"use a key made with it (scopes: {', '.join(SCOPES)})."
        )


_REFUSED = "A valid API key is required."


def _principal_of(session: Session, key: ApiKey | None) -> KeyPrincipal:
    """The checks every credential passes: the key is live (not revoked, not expired), its
    organization exists and its creator is still an active member."""
    refused = Unauthenticated(_REFUSED)
    now = utcnow()
    if key is None or key.revoked_at is not None:
        raise refused
    if key.expires_at is not None and key.expires_at <= now:
        raise Unauthenticated("This API key has expired; create a new one.")
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
    return KeyPrincipal(
        actor=Actor(user_id=None, org_id=key.org_id, role=role),
        key_id=key.id,
        creator_id=key.created_by_id,
        scopes=frozenset(key.scopes or []),
    )


def _key_by_secret(session: Session, secret: str) -> ApiKey | None:
    return session.exec(select(ApiKey).where(ApiKey.key_hash == token_hash(secret))).first()


def principal_for(session: Session, credential: str | None) -> KeyPrincipal:
    """The principal of an `Authorization: Bearer` credential: an API key (`ap_…`) or an
    access token exchanged for one. A token's key is re-checked on every use."""
    credential = (credential or "").strip()
    if credential.startswith(KEY_PREFIX):
        return _principal_of(session, _key_by_secret(session, credential))
    if credential and access_tokens.looks_like_token(credential):
        claims = access_tokens.verify(credential)
        principal = _principal_of(session, session.get(ApiKey, claims.key_id))
        return KeyPrincipal(
            actor=principal.actor,
            key_id=principal.key_id,
            creator_id=principal.creator_id,
            # what the token names and its key still allows (admin allows every scope)
            scopes=frozenset(s for s in claims.scopes if s in SCOPES and principal.has(Scope(s))),
        )
    raise Unauthenticated(_REFUSED)


def actor_for_key(session: Session, secret: str | None) -> Actor:
    """The actor an API request acts as (key or token); any problem is a 401.

    The role is the lower of the key's and its creator's current role in the org: a key
    whose creator left (or whose account is gone or disabled) does not authenticate."""
    return principal_for(session, secret).actor


@dataclass(frozen=True)
class IssuedToken:
    token: str
    expires_at: datetime
    scopes: list[str]


def exchange_for_token(
    session: Session, principal: KeyPrincipal, *, scopes: list[str] | None = None
) -> IssuedToken:
    """A 15-minute access token for the principal's key, with its scopes or fewer."""
    asked = principal.scopes if scopes is None else frozenset(scopes)
    unknown = sorted(asked - set(SCOPES))
    if unknown:
        raise Invalid(
            f"Unknown scope {', '.join(unknown)}; scopes are {', '.join(SCOPES)}.",
            fields={"scopes": f"Unknown scope {', '.join(unknown)}."},
        )
    granted = {s for s in asked if principal.has(Scope(s))} | {Scope.READ.value}
    token, expires_at = access_tokens.sign(
        principal.key_id, principal.actor.org_id, frozenset(granted)
    )
    return IssuedToken(
        token=token, expires_at=expires_at, scopes=[s for s in SCOPES if s in granted]
    )


def creator_of_key(session: Session, secret: str) -> uuid.UUID | None:
    """Who made the key (an API-key actor has no person of its own): what a key creates
    that later acts by itself, like a webhook trigger, acts as this person. `secret` may be
    an access token too (then its key's creator)."""
    secret = (secret or "").strip()
    if access_tokens.looks_like_token(secret):
        key = session.get(ApiKey, access_tokens.verify(secret).key_id)
        return key.created_by_id if key else None
    return session.exec(
        select(ApiKey.created_by_id).where(ApiKey.key_hash == token_hash(secret))
    ).first()
