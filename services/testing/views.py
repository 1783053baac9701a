"""What the Tests page shows, assembled from the tenant-scoped reads: suites with their case
counts and last run, a suite run's results with expected beside actual, a suite's score over
its runs and versions. Read-only; the UI and the API render these rows as they are."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlmodel import Session, col, func, select

from agent_platform.models import (
    Agent,
    AgentTest,
    AgentVersion,
    CaseStatus,
    SuiteRun,
    TestResult,
    TestSuite,
)
from services.access import Actor
from services.agent_reads import get_agent, visible_agents, visible_versions
from services.read_scope import where_of
from services.testing.runner import get_suite_run, visible_results, visible_suite_runs
from services.testing.suites import get_suite, visible_cases, visible_suites

PAGE_SIZE = 20


@dataclass(frozen=True)
class SuiteRow:
    id: uuid.UUID
    name: str
    kind: str
    agent_id: uuid.UUID
    agent_name: str
    cases: int
    drafts: int
    last_status: str | None
    last_score: float | None
    last_at: datetime | None
    builtin: bool


def suite_rows(
    session: Session,
    actor: Actor,
    *,
    agent_id: uuid.UUID | None = None,
    search: str = "",
    offset: int = 0,
    limit: int = PAGE_SIZE,
) -> tuple[list[SuiteRow], int]:
    query = visible_suites(actor)
    if agent_id is not None:
        query = query.where(TestSuite.agent_id == get_agent(session, actor, agent_id).id)
    if search.strip():
        query = query.where(col(TestSuite.name).icontains(search.strip()))
    total = int(session.exec(select(func.count()).select_from(query.subquery())).one())
    suites = session.exec(
        query.order_by(col(TestSuite.name)).offset(max(offset, 0)).limit(max(1, limit))
    ).all()
    ids = [s.id for s in suites]
    names = dict(
        session.exec(
            select(Agent.id, Agent.name).where(
                col(Agent.id).in_([s.agent_id for s in suites]),
                where_of(visible_agents(actor)),
            )
        ).all()
    )
    counts: dict[tuple[uuid.UUID, str], int] = {
        (suite_id, str(status)): n
        for suite_id, status, n in session.exec(
            select(AgentTest.suite_id, AgentTest.status, func.count())
            .where(col(AgentTest.suite_id).in_(ids), where_of(visible_cases(actor)))
            .group_by(col(AgentTest.suite_id), col(AgentTest.status))
        ).all()
    }
    rows: list[SuiteRow] = []
    for suite in suites:
        last = session.exec(
            visible_suite_runs(actor)
            .where(SuiteRun.suite_id == suite.id)
            .order_by(col(SuiteRun.created_at).desc())
            .limit(1)
        ).first()
        rows.append(
            SuiteRow(
                id=suite.id,
                name=suite.name,
                kind=suite.kind.value,
                agent_id=suite.agent_id,
                agent_name=names.get(suite.agent_id, ""),
                cases=counts.get((suite.id, CaseStatus.ACCEPTED.value), 0),
                drafts=counts.get((suite.id, CaseStatus.DRAFT.value), 0),
                last_status=last.status.value if last else None,
                last_score=last.score if last else None,
                last_at=last.created_at if last else None,
                builtin=suite.builtin is not None,
            )
        )
    return rows, total


@dataclass(frozen=True)
class ResultRow:
    id: uuid.UUID
    case: str
    repeat: int
    passed: bool | None  # the verdict that counts: a person's overruling, else the graders'
    graders_passed: bool | None
    overruled: bool
    score: float | None
    expected: str
    actual: str
    reasons: str
    run_id: uuid.UUID | None


def result_rows(session: Session, actor: Actor, suite_run_id: uuid.UUID) -> list[ResultRow]:
    suite_run = get_suite_run(session, actor, suite_run_id)
    found = session.exec(
        visible_results(actor)
        .where(TestResult.suite_run_id == suite_run.id)
        .order_by(col(TestResult.created_at), col(TestResult.repeat_index))
    ).all()
    cases = {
        c.id: c
        for c in session.exec(
            visible_cases(actor).where(col(AgentTest.id).in_([r.test_id for r in found]))
        ).all()
    }
    rows: list[ResultRow] = []
    for result in found:
        case = cases.get(result.test_id)
        details: dict[str, Any] = result.details or {}
        failed = [g for g in details.get("grades", []) if not g.get("passed")]
        reasons = (
            details.get("skipped")
            or "; ".join(f"{g['assertion']}: {g['reason']}" for g in failed)
            or ("waiting for the run" if result.graded_at is None else "all assertions passed")
        )
        rows.append(
            ResultRow(
                id=result.id,
                case=case.name if case else "(deleted case)",
                repeat=result.repeat_index,
                passed=result.overruled if result.overruled is not None else result.passed,
                graders_passed=result.passed,
                overruled=result.overruled is not None,
                score=result.score,
                expected=(case.expected or "") if case else "",
                actual=str(details.get("output") or details.get("error") or ""),
                reasons=str(reasons),
                run_id=result.execution_id,
            )
        )
    return rows


@dataclass(frozen=True)
class ScorePoint:
    suite_run_id: uuid.UUID
    label: str  # "v3 · 12-01 14:05"
    version: int | None
    score: float | None
    passed_cases: int
    failed_cases: int
    status: str


def score_history(
    session: Session, actor: Actor, suite_id: uuid.UUID, *, limit: int = 30
) -> list[ScorePoint]:
    """A suite's runs, oldest first: the quality chart's points, with the version each ran."""
    suite = get_suite(session, actor, suite_id)
    runs = list(
        session.exec(
            visible_suite_runs(actor)
            .where(SuiteRun.suite_id == suite.id)
            .order_by(col(SuiteRun.created_at).desc())
            .limit(limit)
        ).all()
    )[::-1]
    versions: dict[uuid.UUID | None, int] = {
        v.id: v.version
        for v in session.exec(
            visible_versions(actor).where(
                col(AgentVersion.id).in_([r.agent_version_id for r in runs])
            )
        ).all()
    }
    return [
        ScorePoint(
            suite_run_id=r.id,
            label=f"v{versions.get(r.agent_version_id, '?')} · {r.created_at:%m-%d %H:%M}",
            version=versions.get(r.agent_version_id),
            score=r.score,
            passed_cases=r.passed_cases,
            failed_cases=r.failed_cases,
            status=r.status.value,
        )
        for r in runs
    ]


@dataclass(frozen=True)
class Comparison:
    case: str
    before: bool | None
    after: bool | None
    regression: bool


def compare_runs(
    session: Session, actor: Actor, before_id: uuid.UUID, after_id: uuid.UUID
) -> list[Comparison]:
    """Two suite runs (two versions) side by side, case by case; regressions first."""
    before = get_suite_run(session, actor, before_id)
    after = get_suite_run(session, actor, after_id)

    def verdicts(run: SuiteRun) -> dict[str, bool | None]:
        cases = run.summary.get("cases", {}) if run.summary else {}
        return {case_id: data.get("passed") for case_id, data in cases.items()}

    old, new = verdicts(before), verdicts(after)
    names = {
        str(c.id): c.name
        for c in session.exec(
            visible_cases(actor).where(col(AgentTest.id).in_([uuid.UUID(k) for k in {*old, *new}]))
        ).all()
    }
    rows = [
        Comparison(
            case=names.get(key, "(deleted case)"),
            before=old.get(key),
            after=new.get(key),
            regression=old.get(key) is True and new.get(key) is False,
        )
        for key in {*old, *new}
    ]
    return sorted(rows, key=lambda r: (not r.regression, r.case))
