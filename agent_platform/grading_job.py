"""Grading one finished run of a test suite, as a coroutine.

The agent worker awaits it beside its runs, many at once on one loop: a grading is a few
database reads and writes around one judge call (I/O), so one forked process per grading (the
RQ job) spent more time forking and importing than grading — 100 s for a 300-run suite on
2 cores. The plain RQ job (`agent_platform.worker.grade_test_run`) runs the same coroutine,
for deployments whose plain workers take the `grading` queue too.

Three steps so no database session is held while a judge model answers. A run that cannot be
graded (a case saved under older rules, a grader bug) is recorded as failed with the reason, so
its suite run still closes; a database error is left to fail the job, and the reconciler's
sweep (`grading.stranded`) grades the run again later.
"""

from __future__ import annotations

import asyncio
import logging
import uuid

from sqlalchemy.exc import SQLAlchemyError

from agent_platform.db import session_scope
from services.errors import DomainError
from services.testing import grading

log = logging.getLogger("agent_platform.grading")


def _collect(execution_id: uuid.UUID) -> grading.GradingTask | None:
    with session_scope() as session:
        return grading.collect(session, execution_id)


def _record(task: grading.GradingTask, evaluation: grading.Evaluation) -> None:
    with session_scope() as session:
        grading.record(session, task, evaluation)


def _record_failure(execution_id: uuid.UUID, reason: str) -> None:
    with session_scope() as session:
        grading.record_failure(session, execution_id, reason)


async def grade(execution_id: uuid.UUID) -> str | None:
    """ "passed" or "failed", or None when the run is not (or no longer) a test run to grade."""
    try:
        task = await asyncio.to_thread(_collect, execution_id)
        if task is None:
            return None
        evaluation = await grading.evaluate(task, grading.call_judge)
    except SQLAlchemyError:
        raise
    except Exception as exc:  # noqa: BLE001 - recorded as the run's verdict, and logged
        log.exception("Grading test run %s failed", execution_id)
        reason = (
            str(exc)
            if isinstance(exc, DomainError)
            else f"an internal error ({type(exc).__name__}); the worker log has the details"
        )
        await asyncio.to_thread(_record_failure, execution_id, reason)
        return "failed"
    await asyncio.to_thread(_record, task, evaluation)
    return "passed" if evaluation.passed else "failed"
