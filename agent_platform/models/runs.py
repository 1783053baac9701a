"""Executions (runs) and their steps: the source of truth for every run, whatever Redis says."""

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
    created_field,
    enum_field,
    fk,
    id_field,
    json_field,
    time_field,
)


class ExecutionStatus(enum.StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELLED = "cancelled"
    TIMED_OUT = "timed_out"


# What the dashboard aggregates (services/dashboard.py). On PostgreSQL the time indexes carry
# these columns (INCLUDE), so a dashboard range is an index-only scan and never reads the wide
# rows (input/output JSON); SQLite has no INCLUDE and keeps plain indexes.
DASHBOARD_COLUMNS = ["status", "latency_ms", "tokens_used", "cost", "id", "test_run_id"]


class Execution(SQLModel, table=True):
    __tablename__ = "executions"
    __table_args__ = (
        sa.Index(
            "ix_executions_org_created",
            "org_id",
            "created_at",
            postgresql_include=["agent_id", *DASHBOARD_COLUMNS],
        ),
        sa.Index("ix_executions_org_status", "org_id", "status"),
        sa.Index("uq_executions_org_idempotency", "org_id", "idempotency_key", unique=True),
        sa.Index("ix_executions_schedule", "schedule_id"),
        sa.Index(
            "ix_executions_agent_created",
            "agent_id",
            "created_at",
            postgresql_include=["org_id", *DASHBOARD_COLUMNS],
        ),
    )
    id: uuid.UUID = id_field()
    org_id: uuid.UUID = fk("organizations.id", ondelete="CASCADE", index=False)
    agent_id: uuid.UUID | None = fk("agents.id", ondelete="SET NULL", nullable=True, index=False)
    agent_version_id: uuid.UUID | None = fk(
        "agent_versions.id", ondelete="SET NULL", nullable=True, index=False
    )
    triggered_by_id: uuid.UUID | None = fk(
        "users.id", ondelete="SET NULL", nullable=True, index=False
    )
    schedule_id: uuid.UUID | None = fk(
        "schedules.id", ondelete="SET NULL", nullable=True, index=False
    )
    thread_id: uuid.UUID | None = Field(default=None, index=True)
    status: ExecutionStatus = enum_field(ExecutionStatus, ExecutionStatus.QUEUED)
    input: dict[str, Any] = json_field()
    output: dict[str, Any] | None = Field(default=None, sa_type=JSONType, nullable=True)
    tokens_used: int = 0
    latency_ms: int | None = None
    cost: Decimal = Field(default=Decimal("0"), sa_type=sa.Numeric(14, 6), nullable=False)
    error: str | None = Field(default=None, sa_type=sa.Text, nullable=True)
    created_at: datetime = created_field()
    started_at: datetime | None = time_field()
    finished_at: datetime | None = time_field()
    # The caller's key for "this request, once": the same key in the same org is the same run
    # (webhook deliveries, API retries, schedule fires). NULLs never collide.
    idempotency_key: str | None = Field(default=None, max_length=200)
    webhook_trigger_id: uuid.UUID | None = fk(
        "webhook_triggers.id", ondelete="SET NULL", nullable=True, index=False
    )
    # Set on the runs of a test suite: they count in the suite, not in statistics and bills.
    test_run_id: uuid.UUID | None = fk(
        "suite_runs.id", ondelete="SET NULL", nullable=True, index=False
    )
    # The most this run may spend (the request's, else its agent's setting; None: no budget).
    budget_usd: Decimal | None = Field(default=None, sa_type=sa.Numeric(14, 6), nullable=True)
    # Set on a run of a service listing: the buyer's run of the seller's version, which uses
    # the seller's models and keeps its instructions and tool settings out of the steps.
    # No foreign key: the run's record stays when the listing goes.
    service_listing_id: uuid.UUID | None = Field(default=None, nullable=True)
    # The listing's price per run when this run started (cents): what the buyer is billed and
    # the seller earns for it, whatever the listing's price becomes later.
    service_price_cents: int | None = Field(default=None, nullable=True)


# A model step worth a second look: it had failed attempts, or its model had no known price.
# The dashboard's query uses this same condition (columns qualified there, since it joins
# executions) so PostgreSQL can prove the partial index applies.
def step_attention(dialect: str, table: str = "") -> str:
    t = f"{table}." if table else ""
    if dialect == "postgresql":
        return (
            f"{t}kind = 'model' AND (jsonb_array_length({t}response -> 'attempts') > 0 "
            f"OR ({t}cost = 0 AND ({t}response ->> 'cost_unknown') = 'true'))"
        )
    return (
        f"{t}kind = 'model' AND (json_array_length({t}response, '$.attempts') > 0 "
        f"OR ({t}cost = 0 AND json_extract({t}response, '$.cost_unknown') = 1))"
    )


class ExecutionStep(SQLModel, table=True):
    __tablename__ = "execution_steps"
    __table_args__ = (
        sa.UniqueConstraint("execution_id", "position", name="uq_step_position"),
        # Model calls by time, for cost and tokens by model: steps carry no org, so the
        # dashboard bounds them by time here and joins to its org's runs.
        sa.Index(
            "ix_execution_steps_model_created",
            "created_at",
            postgresql_include=["execution_id", "model", "tokens", "cost"],
            postgresql_where=sa.text("kind = 'model'"),
            sqlite_where=sa.text("kind = 'model'"),
        ),
        # The few model calls with failed attempts or no known price, which the dashboard
        # reads from the step's JSON: a partial index keeps that read off the whole table.
        sa.Index(
            "ix_execution_steps_attention_created",
            "created_at",
            postgresql_include=["execution_id", "model"],
            postgresql_where=sa.text(step_attention("postgresql")),
            sqlite_where=sa.text(step_attention("sqlite")),
        ),
    )
    id: uuid.UUID = id_field()
    execution_id: uuid.UUID = fk("executions.id", ondelete="CASCADE", index=False)
    position: int
    kind: str = Field(max_length=20)
    model: str | None = Field(default=None, max_length=200)
    messages: list[Any] | None = Field(default=None, sa_type=JSONType, nullable=True)
    response: dict[str, Any] | None = Field(default=None, sa_type=JSONType, nullable=True)
    tool_name: str | None = Field(default=None, max_length=200)
    arguments: dict[str, Any] | None = Field(default=None, sa_type=JSONType, nullable=True)
    result: dict[str, Any] | None = Field(default=None, sa_type=JSONType, nullable=True)
    tokens: int = 0
    cost: Decimal = Field(default=Decimal("0"), sa_type=sa.Numeric(14, 6), nullable=False)
    latency_ms: int | None = None
    error: str | None = Field(default=None, sa_type=sa.Text, nullable=True)
    created_at: datetime = created_field()
