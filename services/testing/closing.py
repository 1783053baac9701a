"""Closing a suite run: stopping what has not run, and summing up its cases.

Shared by the runner (cancel) and grading (budget reached, last run graded), so neither
imports the other. A suite run that ends (or is summed up again after an overruling) asks for
the marketplace badges of its agent version to be re-checked, by a job after commit: the
marketplace builds on testing, so testing never imports it (tests/test_import_structure.py).
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from functools import partial
from typing import Any

from sqlalchemy import update
from sqlmodel import Session, col, select

from agent_platform.db import after_commit
from agent_platform.models import (
    Execution,
    ExecutionStatus,
    ListingVersion,
    SuiteRun,
    SuiteRunStatus,
    TestKind,
    TestResult,
    TestSuite,
)
from agent_platform.models.base import utcnow
from agent_platform.redis_client import get_redis
from services.queue import enqueue_badge_refresh
from services.runtime.events import cancel_key
from services.testing.alerts import raise_alert


def stop_unfinished(session: Session, suite_run: SuiteRun, *, reason: str) -> int:
    """Cancel the suite run's runs that have not finished; queued ones never start.

    Queued runs are cancelled here (their jobs find them final and do nothing) and their
    results are closed at once; running ones get the cancel signal and are graded when they
    stop, like any other finished run."""
    now = utcnow()
    queued = session.exec(
        select(Execution.id).where(
            Execution.test_run_id == suite_run.id, Execution.status == ExecutionStatus.QUEUED
        )
    ).all()
    running = list(
        session.exec(
            select(Execution.id).where(
                Execution.test_run_id == suite_run.id, Execution.status == ExecutionStatus.RUNNING
            )
        ).all()
    )
    stopped: list[uuid.UUID] = []
    if queued:
        # Only the runs this statement cancelled count as closed: one a worker claimed since
        # the read above is running now, and gets the cancel signal like the others.
        stopped = list(
            session.execute(
                update(Execution)
                .where(
                    col(Execution.id).in_(queued), col(Execution.status) == ExecutionStatus.QUEUED
                )
                .values(status=ExecutionStatus.CANCELLED, finished_at=now, error=reason)
                .returning(col(Execution.id))
            ).scalars()
        )
        running += [run_id for run_id in queued if run_id not in set(stopped)]
    if stopped:
        session.execute(
            update(TestResult)
            .where(col(TestResult.execution_id).in_(stopped))
            .values(passed=None, graded_at=now, details={"skipped": reason})
        )
        session.execute(
            update(SuiteRun)
            .where(col(SuiteRun.id) == suite_run.id)
            .values(finished_runs=SuiteRun.finished_runs + len(stopped))
        )
    if running:
        keys = [cancel_key(run_id) for run_id in running]

        def signal() -> None:
            redis = get_redis()
            for key in keys:
                redis.set(key, "1", ex=3600)

        after_commit(session, signal)
    return len(stopped) + len(running)


def finalize(session: Session, suite_run: SuiteRun) -> None:
    """Per case: pass rate over its repeats against k/n, flaky when repeats disagree."""
    suite = session.get(TestSuite, suite_run.suite_id)
    pass_k = min(suite.pass_k if suite else 1, suite_run.repeat)
    rows = session.exec(select(TestResult).where(TestResult.suite_run_id == suite_run.id)).all()
    by_case: dict[uuid.UUID, list[TestResult]] = defaultdict(list)
    for row in rows:
        by_case[row.test_id].append(row)
    cases: dict[str, Any] = {}
    passed_cases = failed_cases = flaky_cases = 0
    scores: list[float] = []
    for case_id, results in by_case.items():
        graded = [r for r in results if r.passed is not None]
        verdicts = [r.overruled if r.overruled is not None else r.passed for r in graded]
        passes = sum(1 for v in verdicts if v)
        case_scores = [r.score for r in graded if r.score is not None]
        flaky = 0 < passes < len(graded)
        ok = bool(graded) and passes >= pass_k
        passed_cases += ok
        failed_cases += not ok
        flaky_cases += flaky
        if case_scores:
            scores.append(sum(case_scores) / len(case_scores))
        cases[str(case_id)] = {
            "passed": ok,
            "passes": passes,
            "runs": len(graded),
            "skipped": len(results) - len(graded),
            "flaky": flaky,
            "spread": round(max(case_scores) - min(case_scores), 4) if case_scores else 0.0,
            "score": round(sum(case_scores) / len(case_scores), 4) if case_scores else None,
        }
    suite_run.passed_cases = passed_cases
    suite_run.failed_cases = failed_cases
    suite_run.flaky_cases = flaky_cases
    suite_run.score = round(sum(scores) / len(scores), 4) if scores else None
    suite_run.summary = {"cases": cases, "pass_k": pass_k}
    # A run stopped by its budget or by a person keeps that status; verdicts decide the rest
    # (again after a person overrules one).
    first_close = suite_run.status in (SuiteRunStatus.RUNNING, SuiteRunStatus.QUEUED)
    if suite_run.status not in (SuiteRunStatus.CANCELLED, SuiteRunStatus.BUDGET):
        share = passed_cases / max(len(by_case), 1)
        threshold = suite.pass_threshold if suite else 1.0
        suite_run.status = SuiteRunStatus.PASSED if share >= threshold else SuiteRunStatus.FAILED
    suite_run.finished_at = suite_run.finished_at or utcnow()
    session.add(suite_run)
    if first_close and suite is not None:
        _alert_if_needed(session, suite, suite_run)
    _recheck_listed_badges(session, suite_run)


def _recheck_listed_badges(session: Session, suite_run: SuiteRun) -> None:
    """A marketplace badge rests on this version's latest suite runs: when the version is
    listed, its badges are asked again once this run's end is committed (the job reads it)."""
    version_id = suite_run.agent_version_id
    if version_id is None:
        return
    listed = session.exec(
        select(ListingVersion.id).where(ListingVersion.agent_version_id == version_id).limit(1)
    ).first()
    if listed is not None:
        after_commit(session, partial(enqueue_badge_refresh, version_id))


def _alert_if_needed(session: Session, suite: TestSuite, suite_run: SuiteRun) -> None:
    """A failed safety case always alerts; any suite alerts below its own score threshold."""
    details = {
        "suite": suite.name,
        "suite_id": str(suite.id),
        "suite_run_id": str(suite_run.id),
        "score": suite_run.score,
        "failed_cases": suite_run.failed_cases,
    }
    if suite.kind == TestKind.SAFETY and suite_run.failed_cases:
        raise_alert(
            session,
            org_id=suite.org_id,
            agent_id=suite.agent_id,
            kind="safety_failed",
            message=f"{suite_run.failed_cases} safety case(s) failed in “{suite.name}”.",
            details=details,
            webhook_url=suite.alert_webhook_url,
        )
    elif (
        suite.alert_below is not None
        and suite_run.score is not None
        and suite_run.score < suite.alert_below
    ):
        raise_alert(
            session,
            org_id=suite.org_id,
            agent_id=suite.agent_id,
            kind="suite_below",
            message=f"“{suite.name}” scored {suite_run.score:.2f}, below {suite.alert_below:.2f}.",
            details=details,
            webhook_url=suite.alert_webhook_url,
        )
