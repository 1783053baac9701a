"""Schedules: the rules of a schedule and the tick that fires it (real database, real Redis)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlmodel import Session, col, select

from agent_platform.db import session_scope
from agent_platform.models import (
    AuditEntry,
    Execution,
    ExecutionStatus,
    FireOutcome,
    Membership,
    Role,
    Schedule,
    ScheduleFire,
)
from agent_platform.worker import waiting
from services import agents, schedule_tick, schedules
from services.access import Actor
from services.errors import Forbidden, Invalid
from services.queue import queue
from services.schedule_times import zone
from tests.factories import add_member, make_user, personal_actor

GRACE = timedelta(seconds=60)


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


@pytest.fixture
def owner(session: Session) -> Actor:
    actor = personal_actor(session, make_user(session, name="Ada"))
    session.commit()
    return actor


@pytest.fixture
def agent_id(session: Session, owner: Actor) -> uuid.UUID:
    agent = agents.create_agent(session, owner, name="Reporter", config={"model": "openai/gpt-4o"})
    session.commit()
    return agent.id


def form(**overrides: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "name": "Morning report",
        "kind": "cron",
        "cron": "0 9 * * *",
        "timezone": "Europe/Berlin",
        "message": "Write the report",
        "variables": {"team": "ops"},
    }
    return {**data, **overrides}


def make_schedule(owner: Actor, agent_id: uuid.UUID, **overrides: Any) -> Schedule:
    with session_scope() as s:
        return schedules.create_schedule(s, owner, agent_id, form(**overrides))


def tick(now: datetime) -> schedule_tick.TickResult:
    with session_scope() as s:
        return schedule_tick.tick(s, now=now, misfire_grace=GRACE)


def fires(session: Session, schedule_id: uuid.UUID) -> list[ScheduleFire]:
    session.expire_all()
    return list(
        session.exec(
            select(ScheduleFire)
            .where(ScheduleFire.schedule_id == schedule_id)
            .order_by(col(ScheduleFire.fire_at))
        ).all()
    )


def reload(session: Session, schedule_id: uuid.UUID) -> Schedule:
    session.expire_all()
    found = session.get(Schedule, schedule_id)
    assert found is not None
    return found


def set_next(session: Session, schedule_id: uuid.UUID, moment: datetime) -> None:
    schedule = reload(session, schedule_id)
    schedule.next_fire_at = moment
    session.add(schedule)
    session.commit()


def finish_runs(session: Session, schedule_id: uuid.UUID, at: datetime) -> None:
    for run in session.exec(select(Execution).where(Execution.schedule_id == schedule_id)):
        run.status = ExecutionStatus.SUCCEEDED
        run.finished_at = at
        session.add(run)
    session.commit()


class TestCreate:
    def test_cron_schedule_fires_next_at_its_time_in_its_zone(
        self, session: Session, owner: Actor, agent_id: uuid.UUID
    ) -> None:
        schedule = make_schedule(owner, agent_id)
        local = schedule.next_fire_at.astimezone(zone("Europe/Berlin"))
        assert (local.hour, local.minute) == (9, 0)
        assert schedule.input == {"message": "Write the report", "variables": {"team": "ops"}}
        times = schedules.next_times(reload(session, schedule.id))
        assert len(times) == 5 and times[0] == schedule.next_fire_at
        assert all(b - a == timedelta(days=1) for a, b in zip(times, times[1:], strict=False))
        entry = session.exec(select(AuditEntry).where(AuditEntry.action == "schedule.created"))
        assert entry.one().target_id == str(schedule.id)

    def test_once_takes_wall_time_in_the_chosen_zone(
        self, owner: Actor, agent_id: uuid.UUID
    ) -> None:
        schedule = make_schedule(
            owner, agent_id, kind="once", cron="", run_at="2099-07-01T10:00", timezone="Asia/Tokyo"
        )
        assert schedule.next_fire_at == utc(2099, 7, 1, 1, 0)

    @pytest.mark.parametrize(
        ("overrides", "words"),
        [
            ({"cron": "every monday"}, "five fields"),
            ({"cron": "61 * * * *"}, "not a valid cron expression"),
            ({"timezone": "Mars/Base"}, "Time zone is not a known time zone"),
            ({"kind": "interval", "interval_seconds": 5}, "Interval must be at least 60"),
            ({"kind": "interval"}, "needs the number of seconds"),
            ({"kind": "once", "run_at": None}, "needs the date and time"),
            ({"kind": "once", "run_at": "2001-01-01T00:00"}, "would never fire"),
            ({"message": ""}, "Message is required"),
            ({"name": "a\u202eb"}, "invisible or control characters"),
        ],
    )
    def test_bad_schedule_is_refused_in_words(
        self, owner: Actor, agent_id: uuid.UUID, overrides: dict[str, Any], words: str
    ) -> None:
        with pytest.raises(Invalid) as caught:
            make_schedule(owner, agent_id, **overrides)
        assert words in caught.value.message

    def test_viewer_cannot_schedule(
        self, session: Session, owner: Actor, agent_id: uuid.UUID
    ) -> None:
        _, viewer = add_member(session, owner.org_id, role=Role.VIEWER)
        session.commit()
        with pytest.raises(Forbidden):
            make_schedule(viewer, agent_id)
        assert session.exec(select(Schedule)).all() == []

    def test_preview_shows_next_five_without_saving(self) -> None:
        times = schedules.preview(
            form(cron="30 2 * * *", timezone="America/New_York"), now=utc(2026, 3, 6)
        )
        local = [t.astimezone(zone("America/New_York")).strftime("%d %H:%M") for t in times]
        assert local == ["06 02:30", "07 02:30", "08 03:00", "09 02:30", "10 02:30"]


class TestPauseResumeListDelete:
    def test_pause_stops_fires_and_resume_starts_from_now(
        self, session: Session, owner: Actor, agent_id: uuid.UUID
    ) -> None:
        schedule = make_schedule(owner, agent_id, kind="interval", cron="", interval_seconds=600)
        with session_scope() as s:
            schedules.set_enabled(s, owner, schedule.id, enabled=False)
        assert reload(session, schedule.id).next_fire_at is None
        assert schedules.next_times(reload(session, schedule.id)) == []
        assert tick(datetime.now(UTC) + timedelta(days=1)).schedules == 0
        with session_scope() as s:
            schedules.set_enabled(s, owner, schedule.id, enabled=True)
        resumed = reload(session, schedule.id)
        assert resumed.enabled
        assert timedelta(0) < resumed.next_fire_at - datetime.now(UTC) <= timedelta(minutes=10)
        actions = session.exec(select(AuditEntry.action).order_by(col(AuditEntry.created_at)))
        assert [a for a in actions if a.startswith("schedule.")] == [
            "schedule.created",
            "schedule.paused",
            "schedule.resumed",
        ]

    def test_editing_a_paused_schedule_keeps_it_paused(
        self, session: Session, owner: Actor, agent_id: uuid.UUID
    ) -> None:
        schedule = make_schedule(owner, agent_id)
        with session_scope() as s:
            schedules.set_enabled(s, owner, schedule.id, enabled=False)
        with session_scope() as s:
            schedules.update_schedule(s, owner, schedule.id, form(cron="0 10 * * *"))
        edited = reload(session, schedule.id)
        assert (edited.enabled, edited.next_fire_at, edited.cron) == (False, None, "0 10 * * *")

    def test_list_searches_pages_and_names_the_agent(
        self, session: Session, owner: Actor, agent_id: uuid.UUID
    ) -> None:
        for i in range(5):
            make_schedule(owner, agent_id, name=f"Digest {i}")
        make_schedule(owner, agent_id, name="Backup")
        rows, total = schedules.list_schedules(session, owner, search="digest", limit=2)
        assert total == 5 and len(rows) == 2 and rows[0][1] == "Reporter"
        rows, total = schedules.list_schedules(session, owner, search="reporter", offset=4)
        assert total == 6 and len(rows) == 2
        _, total = schedules.list_schedules(session, owner, agent_id=agent_id, search="back")
        assert total == 1

    def test_delete_keeps_the_runs_it_started(
        self, session: Session, owner: Actor, agent_id: uuid.UUID
    ) -> None:
        schedule = make_schedule(owner, agent_id)
        assert tick(schedule.next_fire_at).started == 1
        with session_scope() as s:
            schedules.delete_schedule(s, owner, schedule.id)
        session.expire_all()
        assert session.exec(select(Schedule)).all() == []
        assert session.exec(select(ScheduleFire)).all() == []
        assert len(session.exec(select(Execution)).all()) == 1


class TestTick:
    def test_due_schedule_fires_once_with_its_input_and_is_enqueued(
        self, session: Session, owner: Actor, agent_id: uuid.UUID
    ) -> None:
        schedule = make_schedule(owner, agent_id)
        at = schedule.next_fire_at
        assert tick(at - timedelta(seconds=1)).schedules == 0
        first = tick(at + timedelta(seconds=1))
        again = tick(at + timedelta(seconds=2))
        assert (first.started, again.schedules) == (1, 0)
        [fire] = fires(session, schedule.id)
        run = session.get(Execution, fire.execution_id)
        assert fire.fire_at == at and fire.outcome == FireOutcome.STARTED
        assert run.schedule_id == schedule.id and run.triggered_by_id == owner.user_id
        assert run.input == {"message": "Write the report", "variables": {"team": "ops"}}
        assert run.idempotency_key == schedule_tick.idempotency_key(schedule.id, at)
        assert str(run.id) in queue("agents").job_ids
        advanced = reload(session, schedule.id)
        assert advanced.last_fire_at == at
        assert advanced.next_fire_at == at + timedelta(days=1)

    def test_a_fire_recorded_by_another_tick_starts_nothing(
        self, session: Session, owner: Actor, agent_id: uuid.UUID
    ) -> None:
        schedule = make_schedule(owner, agent_id)
        at = schedule.next_fire_at
        session.add(ScheduleFire(schedule_id=schedule.id, fire_at=at))
        session.commit()
        result = tick(at)
        assert (result.duplicates, result.started) == (1, 0)
        assert session.exec(select(Execution)).all() == []
        assert reload(session, schedule.id).next_fire_at == at + timedelta(days=1)

    def test_once_fires_then_pauses(
        self, session: Session, owner: Actor, agent_id: uuid.UUID
    ) -> None:
        schedule = make_schedule(owner, agent_id, kind="once", cron="", run_at="2099-01-01T00:00")
        assert tick(schedule.next_fire_at).started == 1
        done = reload(session, schedule.id)
        assert (done.enabled, done.next_fire_at) == (False, None)

    def test_interval_keeps_its_rhythm_after_a_late_tick(
        self, session: Session, owner: Actor, agent_id: uuid.UUID
    ) -> None:
        schedule = make_schedule(owner, agent_id, kind="interval", cron="", interval_seconds=300)
        at = schedule.next_fire_at
        tick(at + timedelta(seconds=7))
        assert reload(session, schedule.id).next_fire_at == at + timedelta(seconds=300)

    def test_fires_on_the_dst_days_at_the_documented_instants(
        self, session: Session, owner: Actor, agent_id: uuid.UUID
    ) -> None:
        schedule = make_schedule(owner, agent_id, cron="30 1,2 * * *", timezone="America/New_York")
        set_next(session, schedule.id, utc(2026, 3, 8, 6, 30))  # 01:30 EST, before the gap
        moments = [utc(2026, 3, 8, 6, 30), utc(2026, 3, 8, 7, 0)]  # 02:30 → 03:00 EDT
        set_fall = utc(2026, 11, 1, 5, 30)  # 01:30 EDT, first pass of the repeated hour
        for now in moments:
            tick(now)
        set_next(session, schedule.id, set_fall)
        for now in (set_fall, utc(2026, 11, 1, 6, 30), utc(2026, 11, 1, 7, 30)):
            tick(now)
        local = [
            f.fire_at.astimezone(zone("America/New_York")).strftime("%m-%d %H:%M%z")
            for f in fires(session, schedule.id)
        ]
        assert local == [
            "03-08 01:30-0500",
            "03-08 03:00-0400",
            "11-01 01:30-0400",  # the second 01:30 (06:30 UTC) does not fire
            "11-01 02:30-0500",
        ]


class TestMisfire:
    def test_skip_records_the_missed_times_and_fires_only_the_next(
        self, session: Session, owner: Actor, agent_id: uuid.UUID
    ) -> None:
        schedule = make_schedule(
            owner, agent_id, cron="0 * * * *", timezone="UTC", misfire_policy="skip"
        )
        set_next(session, schedule.id, utc(2026, 6, 1, 0))
        result = tick(utc(2026, 6, 1, 5, 0, 20))  # down for five hours; 05:00 is on time
        assert (result.missed, result.started) == (5, 1)
        missed, started = fires(session, schedule.id)
        assert missed.outcome == FireOutcome.MISSED and "5 fire time(s)" in missed.note
        assert started.fire_at == utc(2026, 6, 1, 5) and started.execution_id is not None
        assert reload(session, schedule.id).next_fire_at == utc(2026, 6, 1, 6)

    def test_skip_with_nothing_on_time_starts_nothing(
        self, session: Session, owner: Actor, agent_id: uuid.UUID
    ) -> None:
        schedule = make_schedule(owner, agent_id, cron="0 * * * *", misfire_policy="skip")
        set_next(session, schedule.id, utc(2026, 6, 1, 0))
        result = tick(utc(2026, 6, 1, 2, 30))
        assert (result.missed, result.started) == (3, 0)
        assert session.exec(select(Execution)).all() == []

    def test_run_once_fires_once_for_all_missed_times(
        self, session: Session, owner: Actor, agent_id: uuid.UUID
    ) -> None:
        schedule = make_schedule(owner, agent_id, cron="0 * * * *", misfire_policy="run_once")
        set_next(session, schedule.id, utc(2026, 6, 1, 0))
        result = tick(utc(2026, 6, 1, 2, 30))
        assert (result.missed, result.started) == (0, 1)
        [fire] = fires(session, schedule.id)
        assert fire.fire_at == utc(2026, 6, 1, 2) and "Ran once for 3" in fire.note
        assert len(session.exec(select(Execution)).all()) == 1
        assert reload(session, schedule.id).next_fire_at == utc(2026, 6, 1, 3)


class TestOverlap:
    def start_first(self, session: Session, owner: Actor, agent_id: uuid.UUID, policy: str):
        schedule = make_schedule(owner, agent_id, cron="*/5 * * * *", overlap_policy=policy)
        set_next(session, schedule.id, utc(2026, 6, 1, 0))
        assert tick(utc(2026, 6, 1, 0)).started == 1
        return schedule

    def test_skip_while_the_previous_run_is_going(
        self, session: Session, owner: Actor, agent_id: uuid.UUID
    ) -> None:
        schedule = self.start_first(session, owner, agent_id, "skip")
        assert tick(utc(2026, 6, 1, 0, 5)).skipped == 1
        assert fires(session, schedule.id)[-1].outcome == FireOutcome.SKIPPED
        finish_runs(session, schedule.id, utc(2026, 6, 1, 0, 7))
        assert tick(utc(2026, 6, 1, 0, 10)).started == 1

    def test_allow_starts_both(self, session: Session, owner: Actor, agent_id: uuid.UUID) -> None:
        self.start_first(session, owner, agent_id, "allow")
        assert tick(utc(2026, 6, 1, 0, 5)).started == 1
        assert len(session.exec(select(Execution)).all()) == 2

    def test_queue_waits_for_the_previous_run_then_fires_once(
        self, session: Session, owner: Actor, agent_id: uuid.UUID
    ) -> None:
        schedule = self.start_first(session, owner, agent_id, "queue")
        assert tick(utc(2026, 6, 1, 0, 5)).schedules == 0  # waits, not even selected
        assert tick(utc(2026, 6, 1, 0, 12)).schedules == 0  # 00:10 is due too; still waiting
        assert len(fires(session, schedule.id)) == 1
        finish_runs(session, schedule.id, utc(2026, 6, 1, 0, 13))
        result = tick(utc(2026, 6, 1, 0, 14))
        assert (result.started, result.missed) == (1, 0)
        last = fires(session, schedule.id)[-1]
        assert last.fire_at == utc(2026, 6, 1, 0, 5) and "folded" in last.note
        assert reload(session, schedule.id).next_fire_at == utc(2026, 6, 1, 0, 15)


class TestRunsAsItsCreator:
    def test_creator_who_left_fails_the_fire_and_pauses_it(
        self, session: Session, owner: Actor, agent_id: uuid.UUID
    ) -> None:
        bob, bob_actor = add_member(session, owner.org_id, role=Role.BUILDER)
        session.commit()
        schedule = make_schedule(bob_actor, agent_id)
        membership = session.exec(
            select(Membership).where(
                Membership.user_id == bob.id, Membership.org_id == owner.org_id
            )
        ).one()
        session.delete(membership)
        session.commit()
        result = tick(schedule.next_fire_at)
        assert (result.failed, result.started) == (1, 0)
        [fire] = fires(session, schedule.id)
        assert fire.outcome == FireOutcome.FAILED and "no longer a member" in fire.note
        paused = reload(session, schedule.id)
        assert (paused.enabled, paused.next_fire_at) == (False, None)
        assert session.exec(select(Execution)).all() == []

    def test_creator_demoted_to_viewer_cannot_start_runs(
        self, session: Session, owner: Actor, agent_id: uuid.UUID
    ) -> None:
        bob, bob_actor = add_member(session, owner.org_id, role=Role.BUILDER)
        session.commit()
        schedule = make_schedule(bob_actor, agent_id)
        membership = session.exec(
            select(Membership).where(
                Membership.user_id == bob.id, Membership.org_id == owner.org_id
            )
        ).one()
        membership.role = Role.VIEWER
        session.add(membership)
        session.commit()
        assert tick(schedule.next_fire_at).failed == 1
        assert "builder role" in fires(session, schedule.id)[0].note

    def test_archived_agent_fails_the_fire_in_words_and_keeps_the_schedule(
        self, session: Session, owner: Actor, agent_id: uuid.UUID
    ) -> None:
        schedule = make_schedule(owner, agent_id)
        with session_scope() as s:
            agents.archive_agent(s, owner, agent_id)
        assert tick(schedule.next_fire_at).failed == 1
        assert "archived" in fires(session, schedule.id)[0].note
        assert reload(session, schedule.id).enabled


class TestRedisLosesTheJob:
    def test_a_fire_whose_job_redis_lost_is_enqueued_again(
        self, session: Session, owner: Actor, agent_id: uuid.UUID
    ) -> None:
        schedule = make_schedule(owner, agent_id)
        tick(schedule.next_fire_at)
        [fire] = fires(session, schedule.id)
        assert str(fire.execution_id) in queue("agents").job_ids
        queue("agents").connection.flushdb()  # a restart without persistence
        assert queue("agents").job_ids == []
        with session_scope() as s:
            assert schedule_tick.requeue_lost(s, waiting=waiting, grace=timedelta(0)) == 1
        assert queue("agents").job_ids == [str(fire.execution_id)]
        with session_scope() as s:  # held now: not enqueued a second time
            assert schedule_tick.requeue_lost(s, waiting=waiting, grace=timedelta(0)) == 0
        assert session.get(Execution, fire.execution_id).status == ExecutionStatus.QUEUED
