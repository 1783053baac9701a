"""The testing engine's tables: suites of cases, suite runs, one result per case and repeat.

A case's assertions are kept as written (promptfoo's vocabulary, see services/testing) so a
suite exports to the YAML it was imported from. A suite run's cases are real runs of the agent
(executions marked with `test_run_id`), graded as each one finishes.
"""

from __future__ import annotations

import enum
import uuid
from datetime import datetime
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from agent_platform.models.base import (
    created_field,
    enum_field,
    fk,
    id_field,
    json_field,
    time_field,
)


class TestKind(enum.StrEnum):
    FUNCTIONAL = "functional"
    SAFETY = "safety"
    QUALITY = "quality"
    REGRESSION = "regression"


class CaseStatus(enum.StrEnum):
    DRAFT = "draft"  # proposed by "Generate tests": runs only once the owner accepts it
    ACCEPTED = "accepted"
    REJECTED = "rejected"


class CaseSource(enum.StrEnum):
    MANUAL = "manual"
    IMPORTED = "imported"
    GENERATED = "generated"
    BUILTIN = "builtin"  # the platform safety suite's probes


class TestSuite(SQLModel, table=True):
    __tablename__ = "test_suites"
    __test__ = False
    __table_args__ = (sa.UniqueConstraint("agent_id", "name", name="uq_test_suites_agent_name"),)
    id: uuid.UUID = id_field()
    org_id: uuid.UUID = fk("organizations.id", ondelete="CASCADE")
    agent_id: uuid.UUID = fk("agents.id", ondelete="CASCADE")
    name: str = Field(max_length=120)
    kind: TestKind = enum_field(TestKind, TestKind.FUNCTIONAL)
    description: str = Field(default="", sa_type=sa.Text, nullable=False)
    # None: each run tests the agent's current version; else always this one.
    pinned_version_id: uuid.UUID | None = fk(
        "agent_versions.id", ondelete="SET NULL", nullable=True, index=False
    )
    judge_models: list[str] = json_field(list)  # empty: the agent's own model judges
    default_assertions: list[dict[str, Any]] = json_field(list)
    default_vars: dict[str, Any] = json_field()
    repeat: int = 1  # each case runs n times ...
    pass_k: int = 1  # ... and passes when at least k of them pass
    pass_threshold: float = 1.0  # the share of cases that must pass for the suite to pass
    budget_usd: Decimal | None = Field(default=None, sa_type=sa.Numeric(14, 6), nullable=True)
    run_on_new_version: bool = False
    required_for_publish: bool = False
    builtin: str | None = Field(default=None, max_length=40)  # e.g. "platform-safety"
    alert_below: float | None = None  # alert when a run's score falls below this
    alert_webhook_url: str | None = Field(default=None, max_length=500)
    created_by_id: uuid.UUID | None = fk(
        "users.id", ondelete="SET NULL", nullable=True, index=False
    )
    created_at: datetime = created_field()
    updated_at: datetime | None = time_field()


class AgentTest(SQLModel, table=True):
    """One case of a suite."""

    __tablename__ = "agent_tests"
    __test__ = False
    __table_args__ = (sa.Index("ix_agent_tests_suite_position", "suite_id", "position"),)
    id: uuid.UUID = id_field()
    org_id: uuid.UUID = fk("organizations.id", ondelete="CASCADE")
    suite_id: uuid.UUID = fk("test_suites.id", ondelete="CASCADE", index=False)
    name: str = Field(max_length=200)
    # {"message": str, "variables": {name: value}, "conversation": [{role, content}, ...]}
    input: dict[str, Any] = json_field()
    assertions: list[dict[str, Any]] = json_field(list)
    expected: str | None = Field(default=None, sa_type=sa.Text, nullable=True)
    threshold: float | None = None  # pass on weighted score ≥ threshold, not every assertion
    tags: list[str] = json_field(list)
    weight: float = 1.0
    position: int = 0
    status: CaseStatus = enum_field(CaseStatus, CaseStatus.ACCEPTED)
    source: CaseSource = enum_field(CaseSource, CaseSource.MANUAL)
    probe: str | None = Field(default=None, max_length=40)  # the OWASP category of a probe
    created_at: datetime = created_field()
    updated_at: datetime | None = time_field()


class SuiteRunStatus(enum.StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    PASSED = "passed"
    FAILED = "failed"
    CANCELLED = "cancelled"
    BUDGET = "budget"  # stopped cleanly when the cost budget was reached
    ERROR = "error"  # could not start (no version, no model): see `error`


class SuiteRun(SQLModel, table=True):
    __tablename__ = "suite_runs"
    __table_args__ = (sa.Index("ix_suite_runs_suite_created", "suite_id", "created_at"),)
    id: uuid.UUID = id_field()
    org_id: uuid.UUID = fk("organizations.id", ondelete="CASCADE")
    suite_id: uuid.UUID = fk("test_suites.id", ondelete="CASCADE", index=False)
    agent_id: uuid.UUID | None = fk("agents.id", ondelete="SET NULL", nullable=True, index=False)
    agent_version_id: uuid.UUID | None = fk(
        "agent_versions.id", ondelete="SET NULL", nullable=True, index=False
    )
    status: SuiteRunStatus = enum_field(SuiteRunStatus, SuiteRunStatus.QUEUED)
    trigger: str = Field(default="ui", max_length=20)  # ui, api, cli, schedule, version
    repeat: int = 1
    total_runs: int = 0
    finished_runs: int = 0
    passed_cases: int = 0
    failed_cases: int = 0
    flaky_cases: int = 0
    score: float | None = None
    cost: Decimal = Field(default=Decimal("0"), sa_type=sa.Numeric(14, 6), nullable=False)
    budget_usd: Decimal | None = Field(default=None, sa_type=sa.Numeric(14, 6), nullable=True)
    summary: dict[str, Any] = json_field()
    error: str | None = Field(default=None, sa_type=sa.Text, nullable=True)
    triggered_by_id: uuid.UUID | None = fk(
        "users.id", ondelete="SET NULL", nullable=True, index=False
    )
    created_at: datetime = created_field()
    started_at: datetime | None = time_field()
    finished_at: datetime | None = time_field()


class TestResult(SQLModel, table=True):
    """One repeat of one case in one suite run: its run, grades, judge output and verdict."""

    __tablename__ = "test_results"
    __test__ = False
    __table_args__ = (
        sa.UniqueConstraint(
            "suite_run_id", "test_id", "repeat_index", name="uq_test_results_run_case_repeat"
        ),
        sa.Index("ix_test_results_test_created", "test_id", "created_at"),
    )
    id: uuid.UUID = id_field()
    org_id: uuid.UUID = fk("organizations.id", ondelete="CASCADE")
    suite_run_id: uuid.UUID = fk("suite_runs.id", ondelete="CASCADE", index=False)
    test_id: uuid.UUID = fk("agent_tests.id", ondelete="CASCADE", index=False)
    repeat_index: int = 0
    execution_id: uuid.UUID | None = fk(
        "executions.id", ondelete="SET NULL", nullable=True, index=True
    )
    agent_version_id: uuid.UUID | None = fk(
        "agent_versions.id", ondelete="SET NULL", nullable=True, index=False
    )
    canary: str | None = Field(default=None, max_length=64)
    passed: bool | None = None  # None until graded
    score: float | None = None
    details: dict[str, Any] = json_field()
    overruled: bool | None = None  # a person's verdict, when they disagreed with the graders
    overruled_by_id: uuid.UUID | None = fk(
        "users.id", ondelete="SET NULL", nullable=True, index=False
    )
    overrule_note: str | None = Field(default=None, max_length=1000)
    created_at: datetime = created_field()
    graded_at: datetime | None = time_field()


class JudgeVerdict(SQLModel, table=True):
    """A judge's answer, kept so a re-run with the same (input, output, rubric, model) is free."""

    __tablename__ = "judge_verdicts"
    key: str = Field(primary_key=True, max_length=64)  # sha256 of the org and the four parts
    org_id: uuid.UUID = fk("organizations.id", ondelete="CASCADE")
    judge_model: str = Field(max_length=200)
    verdict: dict[str, Any] = json_field()
    created_at: datetime = created_field()


class EvalRule(SQLModel, table=True):
    """Online evaluation: score a share of an agent's production runs with reference-free
    graders. The sampler walks finished runs from `scanned_until` on, so the run path itself
    pays nothing for it."""

    __tablename__ = "eval_rules"
    id: uuid.UUID = id_field()
    org_id: uuid.UUID = fk("organizations.id", ondelete="CASCADE")
    agent_id: uuid.UUID = fk("agents.id", ondelete="CASCADE")
    name: str = Field(max_length=120)
    sample_rate: float = 0.1  # the share of runs scored, 0–1
    statuses: list[str] = json_field(list)  # run statuses to sample; empty: every final one
    assertions: list[dict[str, Any]] = json_field(list)
    judge_model: str | None = Field(default=None, max_length=200)
    alert_below: float | None = None  # alert when a sampled run scores below this
    alert_webhook_url: str | None = Field(default=None, max_length=500)
    enabled: bool = True
    scanned_until: datetime | None = time_field()
    created_by_id: uuid.UUID | None = fk(
        "users.id", ondelete="SET NULL", nullable=True, index=False
    )
    created_at: datetime = created_field()


class OnlineScore(SQLModel, table=True):
    __tablename__ = "online_scores"
    __table_args__ = (
        sa.UniqueConstraint("rule_id", "execution_id", name="uq_online_scores_rule_run"),
        sa.Index("ix_online_scores_rule_created", "rule_id", "created_at"),
    )
    id: uuid.UUID = id_field()
    org_id: uuid.UUID = fk("organizations.id", ondelete="CASCADE")
    rule_id: uuid.UUID = fk("eval_rules.id", ondelete="CASCADE", index=False)
    execution_id: uuid.UUID = fk("executions.id", ondelete="CASCADE", index=False)
    passed: bool
    score: float
    details: dict[str, Any] = json_field()
    # What the judge's calls for this score cost: 0 with no judge call, a cached verdict or
    # an unpriced judge model; None for scores kept before it was recorded.
    judge_cost: Decimal | None = Field(default=None, sa_type=sa.Numeric(14, 6), nullable=True)
    created_at: datetime = created_field()


class QualityAlert(SQLModel, table=True):
    """A score fell below its threshold, or a safety case failed: shown in the app and, when
    a webhook URL is set, posted there (through the outbound guard)."""

    __tablename__ = "quality_alerts"
    __table_args__ = (sa.Index("ix_quality_alerts_org_created", "org_id", "created_at"),)
    id: uuid.UUID = id_field()
    org_id: uuid.UUID = fk("organizations.id", ondelete="CASCADE", index=False)
    agent_id: uuid.UUID | None = fk("agents.id", ondelete="CASCADE", nullable=True, index=False)
    kind: str = Field(max_length=30)  # online_score, safety_failed, suite_below
    message: str = Field(max_length=500)
    details: dict[str, Any] = json_field()
    webhook_url: str | None = Field(default=None, max_length=500)
    delivered_at: datetime | None = time_field()
    delivery_error: str | None = Field(default=None, max_length=500)
    created_at: datetime = created_field()
