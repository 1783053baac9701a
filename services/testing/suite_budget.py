"""A suite run's cost budget, counted before each case starts, in-flight runs included.

Grading adds each finished run's cost to its suite run and stops the suite once the budget is
spent — but the runs already running were not counted, so the budget could be overshot by
all of them. Here each test run, when a worker takes it, is given an allowance out of the
budget: what is left after the spend so far and the allowances of the runs in flight,
shared fairly among the runs still to start (at least twice the suite's average case once
one is known). The engine stops the run at its allowance like any run budget. A run for
which nothing is left (or less than an average case) does not start: it and every queued
run of the suite are closed as skipped, and the suite stops with status `budget`; the runs
in flight finish within their allowances. So spent + in flight never passes the budget by
more than each in-flight run's last model call.

Atomic: the suite run's row is locked (PostgreSQL) while the allowance is decided, in the
transaction that claims the run; on SQLite the claim already made that transaction the only
writer.
"""

from __future__ import annotations

from decimal import Decimal

from sqlalchemy import update
from sqlmodel import Session, col, func, select

from agent_platform.models import (
    Execution,
    ExecutionStatus,
    SuiteRun,
    SuiteRunStatus,
    TestResult,
)
from agent_platform.models.base import utcnow
from services.money import format_money
from services.testing.closing import finalize

NOT_RUN = "Not run: the suite's budget is spent or held by the runs in flight."


def allowance(session: Session, run: Execution) -> Decimal | None:
    """The most this test run may spend (None: its suite has no budget). Raises nothing:
    when nothing is left the run and the suite's queued runs are closed here, and the
    caller finds the run no longer running (`run.status`)."""
    if run.test_run_id is None:
        return None
    suite_run = session.get(SuiteRun, run.test_run_id, with_for_update=True)
    if suite_run is None or suite_run.budget_usd is None:
        return None
    budget, spent = suite_run.budget_usd, suite_run.cost
    held, in_flight = session.exec(
        select(func.coalesce(func.sum(Execution.budget_usd), 0), func.count()).where(
            Execution.test_run_id == suite_run.id,
            Execution.status == ExecutionStatus.RUNNING,
            Execution.id != run.id,
        )
    ).one()
    queued = session.exec(
        select(func.count()).where(
            Execution.test_run_id == suite_run.id, Execution.status == ExecutionStatus.QUEUED
        )
    ).one()
    average = spent / suite_run.finished_runs if suite_run.finished_runs else None
    available = budget - spent - Decimal(str(held))
    if (
        suite_run.status != SuiteRunStatus.RUNNING
        or available <= 0
        or (average is not None and available < average)
    ):
        _stop(session, suite_run, run, in_flight=int(in_flight), held=Decimal(str(held)))
        return None
    share = available / (queued + 1)
    granted = min(available, max(share, 2 * average)) if average else share
    granted = granted.quantize(Decimal("0.000001"))
    run.budget_usd = granted  # held against the budget while the run is in flight
    session.add(run)
    return granted


def _stop(
    session: Session, suite_run: SuiteRun, run: Execution, *, in_flight: int, held: Decimal
) -> None:
    """Close this run and the suite's queued ones as skipped; the suite stops at `budget`."""
    now = utcnow()
    if suite_run.status == SuiteRunStatus.RUNNING:
        suite_run.status = SuiteRunStatus.BUDGET
        suite_run.error = (
            f"Stopped: {format_money(suite_run.cost)} spent and {format_money(held)} held by "
            f"{in_flight} run{'s' if in_flight != 1 else ''} in flight of its "
            f"{format_money(suite_run.budget_usd)} budget."
        )
        session.add(suite_run)
    closed = list(
        session.execute(
            update(Execution)
            .where(
                col(Execution.test_run_id) == suite_run.id,
                (col(Execution.status) == ExecutionStatus.QUEUED)
                | (
                    (col(Execution.id) == run.id)
                    & (col(Execution.status) == ExecutionStatus.RUNNING)
                ),
            )
            .values(status=ExecutionStatus.CANCELLED, finished_at=now, error=NOT_RUN)
            .returning(col(Execution.id))
        ).scalars()
    )
    if not closed:
        return
    session.execute(
        update(TestResult)
        .where(col(TestResult.execution_id).in_(closed))
        .values(passed=None, graded_at=now, details={"skipped": NOT_RUN})
    )
    session.execute(
        update(SuiteRun)
        .where(col(SuiteRun.id) == suite_run.id)
        .values(finished_runs=SuiteRun.finished_runs + len(closed))
    )
    session.refresh(run)
    session.refresh(suite_run)
    if suite_run.finished_runs >= suite_run.total_runs:  # nothing in flight to close it
        finalize(session, suite_run)
