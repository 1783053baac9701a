"""The runs table's daily upkeep (services.execution_retention): old runs go with their steps,
whole months at a time; on PostgreSQL each month is a partition made ahead and dropped whole.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest
from sqlmodel import Session, func, select

from agent_platform.models import Execution, ExecutionStatus, ExecutionStep
from agent_platform.worker import (
    EXECUTIONS_UPKEEP_JOB,
    maintain_executions,
    schedule_periodic_jobs,
)
from services import execution_retention as retention
from services.access import Actor
from tests.factories import make_user, personal_actor

NOW = datetime(2026, 11, 20, 15, 30, tzinfo=UTC)


def add_run(session: Session, actor: Actor, created: datetime, *, steps: int = 1) -> uuid.UUID:
    run = Execution(
        org_id=actor.org_id,
        status=ExecutionStatus.SUCCEEDED,
        input={"message": "hi"},
        created_at=created,
    )
    session.add(run)
    session.flush()
    for position in range(steps):
        session.add(
            ExecutionStep(execution_id=run.id, position=position, kind="model", created_at=created)
        )
    session.flush()
    return run.id


def run_ids(session: Session) -> set[uuid.UUID]:
    return set(session.exec(select(Execution.id)).all())


def step_count(session: Session) -> int:
    return session.exec(select(func.count()).select_from(ExecutionStep)).one()


@pytest.fixture
def actor(session: Session) -> Actor:
    return personal_actor(session, make_user(session, name="Rhea"))


class TestMonths:
    def test_month_arithmetic_crosses_years(self) -> None:
        first = retention.month_start(NOW)
        assert first == datetime(2026, 11, 1, tzinfo=UTC)
        assert retention.add_months(first, 2) == datetime(2027, 1, 1, tzinfo=UTC)
        assert retention.add_months(first, -11) == datetime(2025, 12, 1, tzinfo=UTC)
        assert retention.partition_name(first) == "executions_y2026m11"

    def test_retention_keeps_whole_months(self) -> None:
        assert retention.retention_cutoff(NOW, 0) is None
        # Two months back from November 20 is September 20: September stays whole (a run is
        # kept at least two months, at most three); August and before go.
        assert retention.retention_cutoff(NOW, 2) == datetime(2026, 9, 1, tzinfo=UTC)


class TestRetention:
    def test_runs_before_the_cutoff_go_with_their_steps(
        self, session: Session, actor: Actor
    ) -> None:
        old = add_run(session, actor, datetime(2026, 8, 31, 23, 59, tzinfo=UTC), steps=2)
        older = add_run(session, actor, datetime(2025, 1, 5, tzinfo=UTC))
        kept = add_run(session, actor, datetime(2026, 9, 1, tzinfo=UTC))
        current = add_run(session, actor, NOW - timedelta(minutes=5))
        session.commit()
        upkeep = retention.maintain(session, now=NOW, retention_months=2)
        session.commit()
        assert run_ids(session) == {kept, current}
        assert step_count(session) == 2  # one each for the runs kept
        assert old not in run_ids(session) and older not in run_ids(session)
        assert upkeep.deleted_runs + len(upkeep.dropped) >= 1

    def test_no_retention_keeps_every_run(self, session: Session, actor: Actor) -> None:
        ancient = add_run(session, actor, datetime(2019, 3, 1, tzinfo=UTC))
        session.commit()
        upkeep = retention.maintain(session, now=NOW, retention_months=0)
        session.commit()
        assert ancient in run_ids(session)
        assert upkeep.dropped == [] and upkeep.deleted_runs == 0

    def test_a_second_pass_changes_nothing(self, session: Session, actor: Actor) -> None:
        add_run(session, actor, datetime(2026, 1, 1, tzinfo=UTC))
        session.commit()
        retention.maintain(session, now=NOW, retention_months=3)
        session.commit()
        again = retention.maintain(session, now=NOW, retention_months=3)
        session.commit()
        assert (again.created, again.dropped, again.deleted_runs) == ([], [], 0)


class TestJob:
    def test_the_scheduler_runs_the_upkeep_daily(self) -> None:
        from rq_scheduler import Scheduler

        from agent_platform.redis_client import get_redis

        scheduler = Scheduler(connection=get_redis())
        schedule_periodic_jobs(scheduler)
        assert EXECUTIONS_UPKEEP_JOB in scheduler
        job = next(j for j in scheduler.get_jobs() if j.id == EXECUTIONS_UPKEEP_JOB)
        assert job.meta["interval"] == 86400
        assert job.func_name == "agent_platform.worker.maintain_executions"

    def test_the_job_reads_the_setting(
        self, session: Session, actor: Actor, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        from agent_platform.settings import get_settings

        gone = add_run(session, actor, datetime.now(UTC) - timedelta(days=800))
        session.commit()
        monkeypatch.setenv("EXECUTION_RETENTION_MONTHS", "12")
        get_settings.cache_clear()
        try:
            outcome = maintain_executions()
        finally:
            monkeypatch.undo()
            get_settings.cache_clear()
        session.expire_all()
        assert gone not in run_ids(session)
        assert outcome["refused"] == []
