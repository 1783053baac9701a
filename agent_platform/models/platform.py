"""Tables that later issues fill with behaviour: integrations, tests, schedules."""

from __future__ import annotations

import enum
import uuid
from datetime import datetime
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from agent_platform.models.base import (
    UTCDateTime,
    created_field,
    enum_field,
    fk,
    id_field,
    json_field,
    time_field,
)


class IntegrationStatus(enum.StrEnum):
    PENDING = "pending"  # created, waiting for the OAuth sign-in to finish
    ACTIVE = "active"
    ERROR = "error"
    REVOKED = "revoked"


class Integration(SQLModel, table=True):
    """A connection to a provider; the credential itself lives in the secret store.

    `settings` holds only what is not secret (base URL, header name, OAuth endpoints, the
    account the token belongs to); `credential_ref` points into the secret store."""

    __tablename__ = "integrations"
    __table_args__ = (sa.UniqueConstraint("org_id", "name"),)
    id: uuid.UUID = id_field()
    org_id: uuid.UUID = fk("organizations.id", ondelete="CASCADE")
    provider: str = Field(max_length=40)
    name: str = Field(max_length=120)
    auth_kind: str = Field(default="oauth2", max_length=20)
    settings: dict[str, Any] = json_field()
    credential_ref: str = Field(max_length=255)
    scopes: list[Any] = json_field(list)
    status: IntegrationStatus = enum_field(IntegrationStatus, IntegrationStatus.ACTIVE)
    expires_at: datetime | None = time_field()
    last_used_at: datetime | None = time_field()
    last_checked_at: datetime | None = time_field()
    last_error: str | None = Field(default=None, sa_type=sa.Text, nullable=True)
    created_by_id: uuid.UUID | None = fk(
        "users.id", ondelete="SET NULL", nullable=True, index=False
    )
    created_at: datetime = created_field()
    # Set by an admin: builders may grant this connection to their agents (else admins only).
    builders_may_use: bool = Field(default=False, sa_column_kwargs={"server_default": sa.false()})


class ModelPrice(SQLModel, table=True):
    """An org's own price for a model LiteLLM cannot price (self-hosted, fine-tuned, new).

    Prices are per million tokens, in US dollars; `model` is the model reference as runs
    record it (`provider/model`)."""

    __tablename__ = "model_prices"
    __table_args__ = (sa.UniqueConstraint("org_id", "model", name="uq_model_prices_org_model"),)
    id: uuid.UUID = id_field()
    org_id: uuid.UUID = fk("organizations.id", ondelete="CASCADE", index=False)
    model: str = Field(max_length=200)
    input_per_million: Decimal = Field(sa_type=sa.Numeric(14, 6), nullable=False)
    output_per_million: Decimal = Field(sa_type=sa.Numeric(14, 6), nullable=False)
    updated_at: datetime = created_field()


class ApprovalStatus(enum.StrEnum):
    PENDING = "pending"
    APPROVED = "approved"
    DENIED = "denied"
    EXPIRED = "expired"


class ActionApproval(SQLModel, table=True):
    """A side-effecting integration action waiting for a person's yes or no.

    The run waits on this row (not on memory) so an approval given from any web process, or
    after a worker restart, is seen; `arguments` are stored redacted."""

    __tablename__ = "action_approvals"
    __table_args__ = (sa.Index("ix_action_approvals_org_status", "org_id", "status"),)
    id: uuid.UUID = id_field()
    org_id: uuid.UUID = fk("organizations.id", ondelete="CASCADE", index=False)
    execution_id: uuid.UUID = fk("executions.id", ondelete="CASCADE")
    integration_id: uuid.UUID | None = fk(
        "integrations.id", ondelete="SET NULL", nullable=True, index=False
    )
    action: str = Field(max_length=80)
    arguments: dict[str, Any] = json_field()
    status: ApprovalStatus = enum_field(ApprovalStatus, ApprovalStatus.PENDING)
    created_at: datetime = created_field()
    expires_at: datetime = Field(sa_type=UTCDateTime, nullable=False)
    decided_by_id: uuid.UUID | None = fk(
        "users.id", ondelete="SET NULL", nullable=True, index=False
    )
    decided_at: datetime | None = time_field()


class ScheduleKind(enum.StrEnum):
    CRON = "cron"  # a cron expression read in the schedule's time zone
    INTERVAL = "interval"  # every `interval_seconds`, from the first fire on
    ONCE = "once"  # one fire at `run_at`, then the schedule pauses itself


class MisfirePolicy(enum.StrEnum):
    """What a tick does with fire times that passed while nothing was ticking (downtime)."""

    SKIP = "skip"  # record them as missed, fire at the next time to come
    RUN_ONCE = "run_once"  # fire once for all of them, then go on


class OverlapPolicy(enum.StrEnum):
    """What a fire does while the schedule's previous run is still queued or running."""

    SKIP = "skip"
    # wait until the previous run ends, then fire once (times passing meanwhile fold into it)
    QUEUE = "queue"
    ALLOW = "allow"  # start it and let both run at once


class TriggerTarget(enum.StrEnum):
    """What a schedule or webhook starts: an agent, or an agent's test suite."""

    AGENT = "agent"
    SUITE = "suite"  # the schedule's input holds the suite's id


class Schedule(SQLModel, table=True):
    __tablename__ = "schedules"
    __table_args__ = (sa.Index("ix_schedules_due", "enabled", "next_fire_at"),)
    id: uuid.UUID = id_field()
    org_id: uuid.UUID = fk("organizations.id", ondelete="CASCADE")
    agent_id: uuid.UUID = fk("agents.id", ondelete="CASCADE")
    name: str = Field(max_length=120)
    cron: str = Field(max_length=120)  # empty unless kind is cron
    timezone: str = Field(default="UTC", max_length=64)
    input: dict[str, Any] = json_field()
    enabled: bool = True
    next_fire_at: datetime | None = time_field()
    last_fire_at: datetime | None = time_field()
    created_by_id: uuid.UUID | None = fk(
        "users.id", ondelete="SET NULL", nullable=True, index=False
    )
    created_at: datetime = created_field()
    target_type: TriggerTarget = enum_field(TriggerTarget, TriggerTarget.AGENT)
    kind: ScheduleKind = enum_field(ScheduleKind, ScheduleKind.CRON)
    interval_seconds: int | None = None
    run_at: datetime | None = time_field()
    misfire_policy: MisfirePolicy = enum_field(MisfirePolicy, MisfirePolicy.RUN_ONCE)
    overlap_policy: OverlapPolicy = enum_field(OverlapPolicy, OverlapPolicy.SKIP)
    updated_at: datetime | None = time_field()


class FireOutcome(enum.StrEnum):
    STARTED = "started"  # a run was created for this fire time
    SKIPPED = "skipped"  # the overlap policy skipped it (the previous run was still going)
    MISSED = "missed"  # downtime under the skip misfire policy
    FAILED = "failed"  # the run could not start (agent archived, cap reached, …): see `note`


class ScheduleFire(SQLModel, table=True):
    """One row per (schedule, fire time): the unique key stops two schedulers enqueueing twice."""

    __tablename__ = "schedule_fires"
    __table_args__ = (sa.UniqueConstraint("schedule_id", "fire_at", name="uq_schedule_fire"),)
    id: uuid.UUID = id_field()
    schedule_id: uuid.UUID = fk("schedules.id", ondelete="CASCADE", index=False)
    fire_at: datetime = Field(sa_type=UTCDateTime, nullable=False)
    execution_id: uuid.UUID | None = fk(
        "executions.id", ondelete="SET NULL", nullable=True, index=False
    )
    created_at: datetime = created_field()
    outcome: FireOutcome = enum_field(FireOutcome, FireOutcome.STARTED)
    note: str | None = Field(default=None, max_length=500)


class WebhookTrigger(SQLModel, table=True):
    """A URL that starts a run when called; neither its token nor its signing secret is stored.

    The URL carries a random token whose SHA-256 is `token_hash` (lookup without keeping the
    token); the optional HMAC signing secret lives in the secret store under `secret_ref`."""

    __tablename__ = "webhook_triggers"
    id: uuid.UUID = id_field()
    org_id: uuid.UUID = fk("organizations.id", ondelete="CASCADE")
    agent_id: uuid.UUID = fk("agents.id", ondelete="CASCADE")
    target_type: TriggerTarget = enum_field(TriggerTarget, TriggerTarget.AGENT)
    name: str = Field(max_length=120)
    token_hash: str = Field(max_length=64, unique=True)
    token_hint: str = Field(default="", max_length=16)  # last characters, to tell URLs apart
    secret_ref: str | None = Field(default=None, max_length=255)
    require_signature: bool = False
    tolerance_seconds: int = 300
    # {"message": "<template or field path>", "variables": {"var": "payload.path"}}
    input_mapping: dict[str, Any] = json_field()
    rate_limit_per_minute: int = 60
    max_wait_seconds: int = 30
    enabled: bool = True
    created_by_id: uuid.UUID | None = fk(
        "users.id", ondelete="SET NULL", nullable=True, index=False
    )
    created_at: datetime = created_field()
    last_called_at: datetime | None = time_field()


class AuditEntry(SQLModel, table=True):
    __tablename__ = "audit_log"
    __table_args__ = (sa.Index("ix_audit_org_created", "org_id", "created_at"),)
    id: uuid.UUID = id_field()
    org_id: uuid.UUID | None = fk(
        "organizations.id", ondelete="CASCADE", nullable=True, index=False
    )
    actor_id: uuid.UUID | None = fk("users.id", ondelete="SET NULL", nullable=True, index=False)
    action: str = Field(max_length=60, index=True)
    target_type: str | None = Field(default=None, max_length=40)
    target_id: str | None = Field(default=None, max_length=64)
    client_ip: str | None = Field(default=None, max_length=64)
    details: dict[str, Any] = json_field()
    created_at: datetime = created_field()
