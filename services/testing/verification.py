"""Is this agent version verified? The one answer the marketplace's badge rests on.

Verified means, for this exact version: its platform safety suite passed in full, and its own
functional suites passed at their thresholds, both recently enough. It is earned by runs, not
granted, so a failing or stale re-run takes it away by itself.

Why no actor: a listing's badge is public and the question is about one version, which the
caller already holds; the answer carries only what the badge shows (statuses, scores, when).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlmodel import Session, col, select

from agent_platform.models import AgentVersion, SuiteRun, SuiteRunStatus, TestKind, TestSuite
from agent_platform.models.base import utcnow
from services.testing.safety import BUILTIN_KEY

MAX_AGE = timedelta(days=30)
FINISHED = (SuiteRunStatus.PASSED, SuiteRunStatus.FAILED)


@dataclass(frozen=True)
class Evidence:
    suite: str
    status: str
    score: float | None
    passed_cases: int
    failed_cases: int
    finished_at: datetime | None


@dataclass(frozen=True)
class Verification:
    verified: bool
    checked_at: datetime | None  # the oldest of the runs it rests on
    evidence: list[Evidence] = field(default_factory=list)
    reasons: list[str] = field(default_factory=list)  # why not, in words


def _latest(session: Session, version_id: uuid.UUID, suite_id: uuid.UUID) -> SuiteRun | None:
    return session.exec(
        select(SuiteRun)
        .where(
            SuiteRun.agent_version_id == version_id,
            SuiteRun.suite_id == suite_id,
            col(SuiteRun.status).in_(FINISHED),
        )
        .order_by(col(SuiteRun.finished_at).desc())
        .limit(1)
    ).first()


def verification(
    session: Session, version_id: uuid.UUID, *, max_age: timedelta = MAX_AGE
) -> Verification:
    """Whether `version_id` is verified now, and what that rests on."""
    version = session.get(AgentVersion, version_id)
    if version is None:
        return Verification(False, None, reasons=["This version no longer exists."])
    all_suites = session.exec(select(TestSuite).where(TestSuite.agent_id == version.agent_id)).all()
    safety = [s for s in all_suites if s.builtin == BUILTIN_KEY]
    functional = [s for s in all_suites if s.kind == TestKind.FUNCTIONAL and not s.builtin]
    reasons: list[str] = []
    evidence: list[Evidence] = []
    if not safety:
        reasons.append("The platform safety suite has never run on this agent.")
    if not functional:
        reasons.append("The agent has no functional suite of its own.")
    oldest: datetime | None = None
    now = utcnow()
    for suite in [*safety, *functional]:
        run = _latest(session, version_id, suite.id)
        if run is None:
            reasons.append(f"“{suite.name}” has not run on this version.")
            continue
        evidence.append(
            Evidence(
                suite=suite.name,
                status=run.status.value,
                score=run.score,
                passed_cases=run.passed_cases,
                failed_cases=run.failed_cases,
                finished_at=run.finished_at,
            )
        )
        if run.status != SuiteRunStatus.PASSED:
            reasons.append(f"“{suite.name}” failed its last run on this version.")
        if run.finished_at is not None:
            if now - run.finished_at > max_age:
                reasons.append(f"“{suite.name}” last ran more than {max_age.days} days ago.")
            oldest = run.finished_at if oldest is None else min(oldest, run.finished_at)
    return Verification(not reasons, oldest, evidence, reasons)
