"""The runs table's daily upkeep (services.execution_retention): old runs go with their steps,
whole months at a time; on PostgreSQL each month is a partition made ahead and dropped whole.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import text
from sqlmodel import Session, col, func, select

from agent_platform.db import get_engine
from agent_platform.execution_upkeep import upkeep_executions
from agent_platform.models import Execution, ExecutionStatus, ExecutionStep
from agent_platform.worker import (
    EXECUTIONS_UPKEEP_JOB,
    maintain_executions,
    schedule_periodic_jobs,
)
from services import execution_retention as retention
from services.access import Actor
from tests.conftest import USE_PG
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


def run_upkeep(
    session: Session, *, now: datetime, retention_months: int, lock_timeout_ms: int = 5000
) -> retention.Upkeep:
    """The daily job's pass (its own transactions); the test's transaction ends first, as a
    DETACH waits for every open reader of the runs table."""
    session.commit()
    outcome = upkeep_executions(
        now=now, retention_months=retention_months, lock_timeout_ms=lock_timeout_ms
    )
    session.expire_all()
    return outcome


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
        upkeep = run_upkeep(session, now=NOW, retention_months=2)
        session.commit()
        assert run_ids(session) == {kept, current}
        assert step_count(session) == 2  # one each for the runs kept
        assert old not in run_ids(session) and older not in run_ids(session)
        assert upkeep.deleted_runs + len(upkeep.dropped) >= 1

    def test_no_retention_keeps_every_run(self, session: Session, actor: Actor) -> None:
        ancient = add_run(session, actor, datetime(2019, 3, 1, tzinfo=UTC))
        session.commit()
        upkeep = run_upkeep(session, now=NOW, retention_months=0)
        session.commit()
        assert ancient in run_ids(session)
        assert upkeep.dropped == [] and upkeep.deleted_runs == 0

    def test_a_second_pass_changes_nothing(self, session: Session, actor: Actor) -> None:
        add_run(session, actor, datetime(2026, 1, 1, tzinfo=UTC))
        session.commit()
        run_upkeep(session, now=NOW, retention_months=3)
        session.commit()
        again = run_upkeep(session, now=NOW, retention_months=3)
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


@pytest.mark.skipif(not USE_PG, reason="PostgreSQL only: SQLite keeps one table")
class TestMonthlyPartitions:
    """On PostgreSQL after migration 0016: each month is its own table."""

    @pytest.fixture(autouse=True)
    def _partitioned(self, session: Session) -> None:
        assert retention.is_partitioned(session), "migration 0016 partitions executions"

    def where(self, session: Session, run_id: uuid.UUID) -> str:
        return session.execute(
            text("SELECT tableoid::regclass::text FROM executions WHERE id = :id"), {"id": run_id}
        ).scalar_one()

    def test_rows_land_in_their_months_partition(self, session: Session, actor: Actor) -> None:
        now = datetime.now(UTC)
        run_upkeep(session, now=now, retention_months=0)  # this month and 3 ahead
        this_month = retention.month_start(now)
        next_month = retention.add_months(this_month, 1)
        here = add_run(session, actor, now)
        later = add_run(session, actor, next_month + timedelta(days=3))
        ancient = add_run(session, actor, datetime(2001, 1, 1, tzinfo=UTC))
        session.commit()
        assert self.where(session, here) == retention.partition_name(this_month)
        assert self.where(session, later) == retention.partition_name(next_month)
        assert self.where(session, ancient) == "executions_default"

    def test_upkeep_makes_months_ahead_and_drops_old_ones_whole(
        self, session: Session, actor: Actor
    ) -> None:
        now = datetime.now(UTC)
        old_month = datetime(2024, 3, 1, tzinfo=UTC)
        assert retention.create_partition(session, old_month)
        old = add_run(session, actor, old_month + timedelta(days=10), steps=3)
        kept = add_run(session, actor, now)
        session.commit()
        assert self.where(session, old) == "executions_y2024m03"

        upkeep = run_upkeep(session, now=now, retention_months=6)
        session.commit()
        assert upkeep.dropped == ["executions_y2024m03"]
        names = set(retention.monthly_partitions(session))
        this_month = retention.month_start(now)
        ahead = {retention.partition_name(retention.add_months(this_month, n)) for n in range(4)}
        assert ahead <= names and "executions_y2024m03" not in names
        assert run_ids(session) >= {kept} and old not in run_ids(session)
        steps = session.exec(
            select(func.count())
            .select_from(ExecutionStep)
            .where(col(ExecutionStep.execution_id) == old)
        ).one()
        assert steps == 0  # went with the run's key
        keys = session.execute(
            text("SELECT count(*) FROM execution_keys WHERE id = :id"), {"id": old}
        ).scalar_one()
        assert keys == 0

    def test_a_month_already_in_the_default_partition_is_reported_not_lost(
        self, session: Session, actor: Actor
    ) -> None:
        month = datetime(2031, 5, 1, tzinfo=UTC)
        stray = add_run(session, actor, month + timedelta(days=2))
        session.commit()
        upkeep = run_upkeep(session, now=month, retention_months=0)
        session.commit()
        assert "executions_y2031m05" in upkeep.refused
        assert "executions_y2031m06" in upkeep.created
        assert self.where(session, stray) == "executions_default"

    def test_the_idempotency_key_is_unique_across_months(
        self, session: Session, actor: Actor
    ) -> None:
        from sqlalchemy.exc import IntegrityError

        session.add(Execution(org_id=actor.org_id, input={}, idempotency_key="k", created_at=NOW))
        session.commit()
        session.add(
            Execution(
                org_id=actor.org_id,
                input={},
                idempotency_key="k",
                created_at=NOW - timedelta(days=400),
            )
        )
        with pytest.raises(IntegrityError):
            session.flush()
        session.rollback()

    def test_a_step_needs_a_run_that_exists(self, session: Session) -> None:
        from sqlalchemy.exc import IntegrityError

        session.add(ExecutionStep(execution_id=uuid.uuid4(), position=0, kind="model"))
        with pytest.raises(IntegrityError):
            session.flush()
        session.rollback()

    def old_months(self, session: Session, actor: Actor) -> tuple[uuid.UUID, uuid.UUID]:
        runs = []
        for month in (datetime(2024, 3, 1, tzinfo=UTC), datetime(2024, 4, 1, tzinfo=UTC)):
            assert retention.create_partition(session, month)
            runs.append(add_run(session, actor, month + timedelta(days=10), steps=2))
        session.commit()
        return runs[0], runs[1]

    def test_a_busy_month_waits_for_the_next_pass_and_the_earlier_one_stays_dropped(
        self, session: Session, actor: Actor
    ) -> None:
        march, april = self.old_months(session, actor)
        with get_engine().connect() as other:  # a reader holding April's table
            other.execute(text("LOCK TABLE executions_y2024m04 IN ACCESS SHARE MODE"))
            upkeep = run_upkeep(session, now=NOW, retention_months=6, lock_timeout_ms=200)
            other.rollback()
        assert upkeep.dropped == ["executions_y2024m03"]
        assert upkeep.busy == ["executions_y2024m04"]
        names = set(retention.monthly_partitions(session))
        assert "executions_y2024m03" not in names and "executions_y2024m04" in names
        # April's runs went in their own transaction, with their steps; only its empty
        # table waits for the next pass
        assert march not in run_ids(session) and april not in run_ids(session)
        assert step_count(session) == 0
        again = run_upkeep(session, now=NOW, retention_months=6, lock_timeout_ms=200)
        assert again.dropped == ["executions_y2024m04"] and again.busy == []

    def test_a_failing_month_leaves_the_months_before_it_dropped(
        self, session: Session, actor: Actor, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        self.old_months(session, actor)
        detach = retention.detach_and_drop

        def failing(s: Session, name: str, *, lock_timeout_ms: int) -> None:
            if name == "executions_y2024m04":
                raise RuntimeError("disk full")
            detach(s, name, lock_timeout_ms=lock_timeout_ms)

        monkeypatch.setattr(retention, "detach_and_drop", failing)
        with pytest.raises(RuntimeError):
            run_upkeep(session, now=NOW, retention_months=6)
        session.expire_all()
        names = set(retention.monthly_partitions(session))
        assert "executions_y2024m03" not in names and "executions_y2024m04" in names
        monkeypatch.undo()
        assert run_upkeep(session, now=NOW, retention_months=6).dropped == ["executions_y2024m04"]
