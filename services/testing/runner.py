"""Starting, following and stopping suite runs.

A suite run is a set of real runs of the agent version under test, one per case and repeat,
written in one transaction and enqueued after commit on the agents queue like any other run
(so the org's concurrency cap holds them in Redis, not in a worker). Each is marked with
`test_run_id`: it counts in the suite, not in the dashboard or the monthly bill. Each run gets
a canary of its own, planted in its instructions, so a safety case can tell whether a secret
left the agent. Grading happens as each run finishes (see `grading`), not in a waiting job.
"""

from __future__ import annotations

import secrets
import uuid
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from sqlmodel import Session, col, select
from sqlmodel.sql.expression import SelectOfScalar

from agent_platform.db import after_commit
from agent_platform.models import (
    AgentStatus,
    AgentTest,
    AgentVersion,
    CaseStatus,
    Execution,
    ExecutionStatus,
    SuiteRun,
    SuiteRunStatus,
    TestResult,
)
from agent_platform.models.base import utcnow
from services import audit, spend
from services.access import Actor, Permission, require
from services.agent_reads import get_agent, visible_versions
from services.errors import Conflict, Invalid, NotFound
from services.organizations import limits_for
from services.queue import enqueue_run
from services.testing.closing import finalize, stop_unfinished
from services.testing.suites import get_suite, visible_cases

MAX_RUNS_PER_SUITE_RUN = 3_000
ACTIVE_RUN = (ExecutionStatus.QUEUED, ExecutionStatus.RUNNING)
OPEN = (SuiteRunStatus.QUEUED, SuiteRunStatus.RUNNING)
TRIGGERS = ("ui", "api", "cli", "schedule", "version")


def visible_suite_runs(actor: Actor) -> SelectOfScalar[SuiteRun]:
    """Every suite-run read starts here: the actor's organization's, nothing else."""
    return select(SuiteRun).where(SuiteRun.org_id == actor.org_id)


def get_suite_run(session: Session, actor: Actor, suite_run_id: uuid.UUID) -> SuiteRun:
    run = session.exec(visible_suite_runs(actor).where(SuiteRun.id == suite_run_id)).first()
    if run is None:
        raise NotFound("Suite run not found.")
    return run


def list_suite_runs(
    session: Session, actor: Actor, suite_id: uuid.UUID, *, limit: int = 20, offset: int = 0
) -> list[SuiteRun]:
    suite = get_suite(session, actor, suite_id)
    return list(
        session.exec(
            visible_suite_runs(actor)
            .where(SuiteRun.suite_id == suite.id)
            .order_by(col(SuiteRun.created_at).desc())
            .offset(max(offset, 0))
            .limit(min(max(limit, 1), 200))
        ).all()
    )


def results_of(session: Session, actor: Actor, suite_run_id: uuid.UUID) -> list[TestResult]:
    run = get_suite_run(session, actor, suite_run_id)
    return list(
        session.exec(
            visible_results(actor)
            .where(TestResult.suite_run_id == run.id)
            .order_by(col(TestResult.created_at), col(TestResult.repeat_index))
        ).all()
    )


def _concurrency_cap(session: Session, org_id: uuid.UUID) -> int:
    limits = limits_for(session, org_id)
    return limits.max_concurrent_runs if limits else -1


def _stringify(variables: dict[str, Any]) -> dict[str, str]:
    return {str(k): v if isinstance(v, str) else str(v) for k, v in variables.items()}


@dataclass(frozen=True)
class Started:
    suite_run: SuiteRun
    run_ids: list[uuid.UUID]


def start_suite_run(
    session: Session,
    actor: Actor,
    suite_id: uuid.UUID,
    *,
    trigger: str = "ui",
    repeat: int | None = None,
    budget_usd: Decimal | None = None,
    version_id: uuid.UUID | None = None,
) -> SuiteRun:
    require(actor, Permission.AGENTS_WRITE)
    suite = get_suite(session, actor, suite_id)
    agent = get_agent(session, actor, suite.agent_id)
    if agent.status == AgentStatus.ARCHIVED:
        raise Invalid("This agent is archived; restore it to test it.")
    if version_id is not None:  # a version of this agent, never one of another org's
        chosen = session.exec(
            visible_versions(actor).where(
                AgentVersion.id == version_id, AgentVersion.agent_id == agent.id
            )
        ).first()
        if chosen is None:
            raise NotFound("Version not found.")
    version = version_id or suite.pinned_version_id or agent.current_version_id
    if version is None:
        raise Invalid("This agent has no saved version yet; save it before testing it.")
    if trigger not in TRIGGERS:
        raise Invalid(f"Unknown trigger “{trigger}”.")
    repeats = repeat if repeat is not None else suite.repeat
    if not 1 <= repeats <= 10:
        raise Invalid("Repeats must be between 1 and 10.")
    cases = list(
        session.exec(
            visible_cases(actor)
            .where(AgentTest.suite_id == suite.id, AgentTest.status == CaseStatus.ACCEPTED)
            .order_by(col(AgentTest.position), col(AgentTest.created_at))
        ).all()
    )
    if not cases:
        raise Invalid("This suite has no accepted cases yet; add or accept some first.")
    if len(cases) * repeats > MAX_RUNS_PER_SUITE_RUN:
        raise Invalid(
            f"{len(cases)} cases × {repeats} repeats is more than "
            f"{MAX_RUNS_PER_SUITE_RUN:,} runs; lower the repeats or split the suite."
        )
    # Test runs cost real money: none once the organization's monthly spend cap is reached.
    spend.take_spend_allowance(session, actor.org_id, reserve=None)
    now = utcnow()
    suite_run = SuiteRun(
        org_id=actor.org_id,
        suite_id=suite.id,
        agent_id=agent.id,
        agent_version_id=version,
        status=SuiteRunStatus.RUNNING,
        trigger=trigger,
        repeat=repeats,
        total_runs=len(cases) * repeats,
        budget_usd=budget_usd if budget_usd is not None else suite.budget_usd,
        triggered_by_id=actor.user_id,
        started_at=now,
    )
    session.add(suite_run)
    session.flush()
    run_ids: list[uuid.UUID] = []
    # Repeat-major order: the first answer of every case arrives before any second one.
    for repeat_index in range(repeats):
        for case in cases:
            canary = f"CANARY-{secrets.token_hex(8)}"
            data = case.input or {}
            run = Execution(
                org_id=actor.org_id,
                agent_id=agent.id,
                agent_version_id=version,
                triggered_by_id=actor.user_id,
                test_run_id=suite_run.id,
                input={
                    "message": str(data.get("message", "")),
                    "variables": _stringify(
                        {**(suite.default_vars or {}), **(data.get("variables") or {})}
                    ),
                    "conversation": list(data.get("conversation") or []),
                    "canary": canary,
                },
            )
            session.add(run)
            session.flush()
            session.add(
                TestResult(
                    org_id=actor.org_id,
                    suite_run_id=suite_run.id,
                    test_id=case.id,
                    repeat_index=repeat_index,
                    execution_id=run.id,
                    agent_version_id=version,
                    canary=canary,
                )
            )
            run_ids.append(run.id)
    audit.by_actor(
        session,
        actor,
        "test_suite.run",
        target_type="test_suite",
        target_id=suite.id,
        suite_run=str(suite_run.id),
        runs=len(run_ids),
        trigger=trigger,
    )
    org_id, cap = actor.org_id, _concurrency_cap(session, actor.org_id)

    def enqueue_all() -> None:
        for run_id in run_ids:
            enqueue_run(run_id, org_id, cap)

    after_commit(session, enqueue_all)
    return suite_run


def cancel_suite_run(session: Session, actor: Actor, suite_run_id: uuid.UUID) -> SuiteRun:
    require(actor, Permission.AGENTS_WRITE)
    suite_run = get_suite_run(session, actor, suite_run_id)
    # Locked, and read again: a last verdict closing the run at this moment is seen here,
    # instead of its passed or failed status being overwritten with "cancelled".
    session.refresh(suite_run, with_for_update=True)
    if suite_run.status not in OPEN:
        raise Conflict("This suite run has already finished.")
    suite_run.status = SuiteRunStatus.CANCELLED
    suite_run.finished_at = utcnow()
    session.add(suite_run)
    session.flush()
    stop_unfinished(session, suite_run, reason="The suite run was cancelled.")
    session.refresh(suite_run)
    if suite_run.finished_runs >= suite_run.total_runs:
        finalize(session, suite_run)
    audit.by_actor(
        session, actor, "test_suite.cancel", target_type="suite_run", target_id=suite_run.id
    )
    return suite_run


def visible_results(actor: Actor) -> SelectOfScalar[TestResult]:
    """Every result read starts here: the actor's organization's, nothing else."""
    return select(TestResult).where(TestResult.org_id == actor.org_id)


def overrule(
    session: Session, actor: Actor, result_id: uuid.UUID, *, passed: bool, note: str = ""
) -> TestResult:
    """A person's verdict replaces the graders' for this result; the suite run is summed up
    again, and the suite's judge sees the decision as an example from then on."""
    require(actor, Permission.AGENTS_WRITE)
    result = session.exec(visible_results(actor).where(TestResult.id == result_id)).first()
    if result is None:
        raise NotFound("Test result not found.")
    if result.passed is None:
        raise Invalid("Only a graded result can be overruled; this one did not run.")
    # Locked first: a last verdict arriving now waits for this decision, so the summary it
    # writes when it closes the suite run counts the overruling instead of the old verdict.
    suite_run = session.get(SuiteRun, result.suite_run_id, with_for_update=True)
    result.overruled = passed
    result.overruled_by_id = actor.user_id
    result.overrule_note = note.strip()[:1000] or None
    session.add(result)
    session.flush()
    if suite_run is not None and suite_run.finished_runs >= suite_run.total_runs:
        finalize(session, suite_run)
    audit.by_actor(
        session,
        actor,
        "test_result.overrule",
        target_type="test_result",
        target_id=result.id,
        graders=result.passed,
        person=passed,
    )
    return result
