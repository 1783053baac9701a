"""People, their organizations, and how they get in: users, orgs, memberships, sessions, keys."""

from __future__ import annotations

import enum
import uuid
from datetime import datetime
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from agent_platform.models.base import (
    JSONType,
    UTCDateTime,
    created_field,
    enum_field,
    fk,
    id_field,
    json_field,
    time_field,
)


class Tier(enum.StrEnum):
    STARTER = "starter"
    PRO = "pro"
    TEAM = "team"
    ENTERPRISE = "enterprise"


class Role(enum.StrEnum):
    OWNER = "owner"
    ADMIN = "admin"
    BUILDER = "builder"
    VIEWER = "viewer"


class User(SQLModel, table=True):
    __tablename__ = "users"
    id: uuid.UUID = id_field()
    email: str = Field(max_length=320, unique=True, index=True)
    name: str = Field(max_length=120)
    password_hash: str = Field(max_length=255)
    is_instance_admin: bool = False
    is_active: bool = True
    created_at: datetime = created_field()
    last_login_at: datetime | None = time_field()


class Organization(SQLModel, table=True):
    __tablename__ = "organizations"
    id: uuid.UUID = id_field()
    name: str = Field(max_length=120)
    slug: str = Field(max_length=80, unique=True, index=True)
    tier: Tier = enum_field(Tier, Tier.STARTER)
    personal: bool = False
    created_at: datetime = created_field()
    # Private hosts/IPs/CIDRs this org's runs and tools may reach (e.g. the org's own Ollama);
    # the instance-wide OUTBOUND_ALLOW_HOSTS is the instance admin's, this one the org admins'.
    outbound_allow_hosts: list[Any] = json_field(list)
    # "Ask a person first" means another person, unless the org explicitly allows otherwise.
    allow_self_approval: bool = Field(
        default=False, sa_column_kwargs={"server_default": sa.false()}
    )
    # Instance-admin overrides of the tier's limits (None: the tier's number; -1: unlimited).
    max_agents: int | None = None
    max_runs_per_month: int | None = None
    max_concurrent_runs: int | None = None
    max_members: int | None = None
    # The organization's own cap on a month's spend in USD (None: none), billing or not;
    # alerts at 80 % and 100 % go in-app and to `alert_webhook_url` when set.
    monthly_spend_cap_usd: Decimal | None = Field(
        default=None, sa_type=sa.Numeric(14, 6), nullable=True
    )
    alert_webhook_url: str | None = Field(default=None, max_length=500)


class TierLimit(SQLModel, table=True):
    """One row per tier; later issues enforce these numbers (-1 means unlimited)."""

    __tablename__ = "tier_limits"
    tier: Tier = Field(
        sa_column=sa.Column(
            sa.Enum(
                Tier, native_enum=False, length=20, values_callable=lambda e: [m.value for m in e]
            ),
            primary_key=True,
        )
    )
    max_agents: int
    max_runs_per_month: int
    max_concurrent_runs: int
    max_members: int


class Membership(SQLModel, table=True):
    __tablename__ = "memberships"
    __table_args__ = (sa.UniqueConstraint("org_id", "user_id", name="uq_membership_org_user"),)
    id: uuid.UUID = id_field()
    org_id: uuid.UUID = fk("organizations.id", ondelete="CASCADE")
    user_id: uuid.UUID = fk("users.id", ondelete="CASCADE")
    role: Role = enum_field(Role, Role.VIEWER)
    created_at: datetime = created_field()


class Invitation(SQLModel, table=True):
    __tablename__ = "invitations"
    id: uuid.UUID = id_field()
    org_id: uuid.UUID = fk("organizations.id", ondelete="CASCADE")
    email: str = Field(max_length=320)
    role: Role = enum_field(Role, Role.BUILDER)
    token_hash: str = Field(max_length=64, unique=True)
    invited_by_id: uuid.UUID | None = fk(
        "users.id", ondelete="SET NULL", nullable=True, index=False
    )
    created_at: datetime = created_field()
    expires_at: datetime = Field(sa_type=UTCDateTime, nullable=False)
    accepted_at: datetime | None = time_field()
    accepted_by_id: uuid.UUID | None = fk(
        "users.id", ondelete="SET NULL", nullable=True, index=False
    )
    revoked_at: datetime | None = time_field()


class UserSession(SQLModel, table=True):
    """A server-side login: the browser holds only a random token whose hash is stored here."""

    __tablename__ = "sessions"
    id: uuid.UUID = id_field()
    user_id: uuid.UUID = fk("users.id", ondelete="CASCADE")
    token_hash: str = Field(max_length=64, unique=True)
    current_org_id: uuid.UUID | None = fk(
        "organizations.id", ondelete="SET NULL", nullable=True, index=False
    )
    created_at: datetime = created_field()
    expires_at: datetime = Field(sa_type=UTCDateTime, nullable=False)
    last_seen_at: datetime | None = time_field()
    revoked_at: datetime | None = time_field()
    client_ip: str | None = Field(default=None, max_length=64)
    user_agent: str | None = Field(default=None, max_length=255)


class ApiKey(SQLModel, table=True):
    """An organization's key for the REST API; only a hash and a short display prefix are kept."""

    __tablename__ = "api_keys"
    id: uuid.UUID = id_field()
    org_id: uuid.UUID = fk("organizations.id", ondelete="CASCADE")
    created_by_id: uuid.UUID | None = fk(
        "users.id", ondelete="SET NULL", nullable=True, index=False
    )
    name: str = Field(max_length=80)
    prefix: str = Field(max_length=16)
    key_hash: str = Field(max_length=64, unique=True)
    role: Role = enum_field(Role, Role.BUILDER)
    # What the key may do through the REST API, within its role: read, run, write, admin.
    scopes: list[str] = Field(
        default_factory=lambda: ["read", "run", "write"],
        sa_type=JSONType,
        nullable=False,
        sa_column_kwargs={"server_default": sa.text('\'["read", "run", "write"]\'')},
    )
    created_at: datetime = created_field()
    last_used_at: datetime | None = time_field()
    expires_at: datetime | None = time_field()
    revoked_at: datetime | None = time_field()
