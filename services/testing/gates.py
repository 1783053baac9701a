"""Where tests gate or follow an agent's life: publishing waits for required suites, and a new
version starts the suites that asked to run on every version.

Kept apart from the runner's callers so `agents` and `agent_publishing` can import it without
importing each other.
"""

from __future__ import annotations

import uuid

from sqlmodel import Session, col, select

from agent_platform.models import SuiteRun, SuiteRunStatus, TestSuite
from services.access import Actor
from services.errors import DomainError
from services.testing.runner import start_suite_run
from services.testing.suites import visible_suites


def publish_gate_problems(
    session: Session, agent_id: uuid.UUID, version_id: uuid.UUID | None
) -> list[str]:
    """Why the suites the owner requires stop this version from being published."""
    required = session.exec(
        select(TestSuite).where(TestSuite.agent_id == agent_id, col(TestSuite.required_for_publish))
    ).all()
    problems: list[str] = []
    for suite in required:
        last = (
            session.exec(
                select(SuiteRun.status)
                .where(
                    SuiteRun.suite_id == suite.id,
                    SuiteRun.agent_version_id == version_id,
                    col(SuiteRun.status).in_((SuiteRunStatus.PASSED, SuiteRunStatus.FAILED)),
                )
                .order_by(col(SuiteRun.finished_at).desc())
                .limit(1)
            ).first()
            if version_id
            else None
        )
        if last is None:
            problems.append(f"the required suite “{suite.name}” has not run on this version")
        elif last != SuiteRunStatus.PASSED:
            problems.append(f"the required suite “{suite.name}” failed on this version")
    return problems


def run_on_new_version(
    session: Session, actor: Actor, agent_id: uuid.UUID, version_id: uuid.UUID
) -> list[uuid.UUID]:
    """Start every suite of the agent that runs on each new version; a suite that cannot
    start (no accepted cases yet) is skipped, never a reason to refuse the save."""
    started: list[uuid.UUID] = []
    suites = session.exec(
        visible_suites(actor).where(
            TestSuite.agent_id == agent_id, col(TestSuite.run_on_new_version)
        )
    ).all()
    for suite in suites:
        if suite.pinned_version_id is not None:
            continue
        try:  # it refuses before writing anything, so nothing is left half-written
            run = start_suite_run(
                session, actor, suite.id, trigger="version", version_id=version_id
            )
        except DomainError:
            continue
        started.append(run.id)
    return started
