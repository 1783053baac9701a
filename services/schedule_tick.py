"""The schedule tick: the database decides what fires, and each fire happens exactly once.

Any number of `scheduler` processes, on any number of machines, call `tick` about once a second.
Each tick selects the due schedules (`FOR UPDATE SKIP LOCKED` on PostgreSQL, so two ticks
rarely look at the same schedule), records every fire as a `(schedule_id, fire_at)` row whose
unique constraint admits it once — whatever the locks did — and only the tick that inserted
the row starts the run, with `schedule:<id>:<fire time>` as the run's idempotency key. The
run is enqueued after the caller commits; if Redis loses the job, `requeue_lost` (and the
platform's reconciler) find the queued run in the database and enqueue it again.

Why RQ's own cron is not used: it evaluates in UTC and two schedulers enqueue twice.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import partial
from typing import assert_never

from sqlalchemy import exists, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlmodel import Session, col, or_, select

from agent_platform.db import after_commit
from agent_platform.models import (
    Execution,
    ExecutionStatus,
    FireOutcome,
    MisfirePolicy,
    OverlapPolicy,
    Schedule,
    ScheduleFire,
    ScheduleKind,
    SuiteRun,
    TriggerTarget,
    User,
)
from agent_platform.models.base import utcnow
from services import audit, runs
from services.access import Actor, actor_for
from services.errors import DomainError, Forbidden, NotFound
from services.schedule_times import TimeSpec, as_utc, due_times, following
from services.schedules import spec_of
from services.testing.runner import start_suite_run

log = logging.getLogger("agent_platform.schedules")

ACTIVE = (ExecutionStatus.QUEUED, ExecutionStatus.RUNNING)


@dataclass
class TickResult:
    """What one tick did, for logs, tests and the benchmark."""

    schedules: int = 0
    started: int = 0
    skipped: int = 0
    missed: int = 0
    failed: int = 0
    held: int = 0  # overlap policy `queue`: waiting for the previous run to end
    duplicates: int = 0  # another tick had already recorded the fire
    started_fire_times: list[datetime] = field(default_factory=list)


def idempotency_key(schedule_id: uuid.UUID, fire_at: datetime) -> str:
    return f"schedule:{schedule_id}:{as_utc(fire_at).isoformat()}"


def tick(
    session: Session,
    *,
    now: datetime | None = None,
    batch: int = 50,
    misfire_grace: timedelta = timedelta(seconds=60),
) -> TickResult:
    """Fire every schedule due at `now` (at most `batch` of them; the caller commits).

    A fire time older than `misfire_grace` was missed (no scheduler was running): the
    schedule's misfire policy says whether it is recorded as missed or run once for all."""
    now = as_utc(now or utcnow())
    result = TickResult()
    # A `queue` schedule whose previous run is still going waits unselected, so it never
    # fills a batch that other due schedules need.
    waiting_for_previous = exists().where(
        col(Execution.schedule_id) == col(Schedule.id), col(Execution.status).in_(ACTIVE)
    )
    due = session.exec(
        select(Schedule)
        .where(
            col(Schedule.enabled).is_(True),
            col(Schedule.next_fire_at) <= now,
            or_(col(Schedule.overlap_policy) != OverlapPolicy.QUEUE, ~waiting_for_previous),
        )
        .order_by(col(Schedule.next_fire_at))
        .limit(batch)
        .with_for_update(skip_locked=True)
    ).all()
    going = _going(session, [schedule.id for schedule in due])
    people: dict[tuple[uuid.UUID, uuid.UUID | None], Actor | NotFound] = {}
    for schedule in due:
        result.schedules += 1
        try:
            with session.begin_nested():
                run = Fire(session, now, result, people, going=schedule.id in going)
                _fire_schedule(run, schedule, misfire_grace)
        except Exception:  # one broken schedule must not stop the others; retried next tick
            log.exception("Schedule %s could not fire; retrying at the next tick", schedule.id)
    return result


@dataclass
class Fire:
    """What firing one schedule needs from its tick: the transaction, the tick's clock and
    result, the people runs act as (looked up once per tick), and whether the schedule's
    previous run is still going (one query per tick, not per schedule)."""

    session: Session
    now: datetime
    result: TickResult
    people: dict[tuple[uuid.UUID, uuid.UUID | None], Actor | NotFound]
    going: bool


def _going(session: Session, schedule_ids: list[uuid.UUID]) -> set[uuid.UUID]:
    """Which of these schedules have a run still queued or running."""
    if not schedule_ids:
        return set()
    found = session.exec(
        select(Execution.schedule_id)
        .where(col(Execution.schedule_id).in_(schedule_ids), col(Execution.status).in_(ACTIVE))
        .distinct()
    ).all()
    return {schedule_id for schedule_id in found if schedule_id is not None}


def _fire_schedule(run: Fire, schedule: Schedule, grace: timedelta) -> None:
    session, now, result, going = run.session, run.now, run.result, run.going
    spec = spec_of(schedule)
    assert schedule.next_fire_at is not None  # selected by `next_fire_at <= now`
    times = due_times(spec, schedule.next_fire_at, now)
    if going and schedule.overlap_policy == OverlapPolicy.QUEUE:
        result.held += 1  # stays due: fires at the first tick after the previous run ends
        return
    late = [t for t in times if t < now - grace]
    if late and _held_by_previous_run(session, schedule, times[0]):
        _fire(run, schedule, times[0], note=_folded(times))
    elif late and schedule.misfire_policy == MisfirePolicy.SKIP:
        _record(
            session,
            schedule,
            late[0],
            FireOutcome.MISSED,
            note=f"{len(late)} fire time(s) up to {late[-1]:%Y-%m-%d %H:%M} UTC passed while no "
            "scheduler was running; skipped by the misfire policy.",
        )
        result.missed += len(late)
        if len(late) < len(times):
            _fire(run, schedule, times[-1])
    elif late:
        note = f"Ran once for {len(times)} fire times passed while no scheduler was running."
        _fire(run, schedule, times[-1], note=note)
    else:
        _fire(run, schedule, times[-1])
    _advance(schedule, spec, times[-1], now)
    session.add(schedule)


def _folded(times: list[datetime]) -> str:
    extra = len(times) - 1
    waited = "Waited for the previous run of this schedule to end"
    return f"{waited}; {extra} later fire time(s) folded into this one." if extra else waited + "."


def _advance(schedule: Schedule, spec: TimeSpec, last: datetime, now: datetime) -> None:
    """The next fire after `now`, in the schedule's own zone; a one-off schedule pauses."""
    schedule.last_fire_at = last
    if not schedule.enabled:  # paused by this fire (its person left): no next time
        schedule.next_fire_at = None
        return
    if spec.kind == ScheduleKind.INTERVAL and spec.interval_seconds:
        step = timedelta(seconds=spec.interval_seconds)
        schedule.next_fire_at = last + step * ((now - last) // step + 1)
    else:
        schedule.next_fire_at = following(spec, max(last, now))
    if schedule.next_fire_at is None:
        schedule.enabled = False


def _held_by_previous_run(session: Session, schedule: Schedule, first: datetime) -> bool:
    """A late fire of a `queue` schedule was waiting for its previous run, not for a scheduler:
    that run ended after the fire time. It fires now instead of counting as a misfire."""
    if schedule.overlap_policy != OverlapPolicy.QUEUE:
        return False
    return bool(
        session.exec(
            select(
                exists().where(
                    col(Execution.schedule_id) == schedule.id,
                    col(Execution.finished_at) >= first,
                )
            )
        ).one()
    )


def _record(
    session: Session,
    schedule: Schedule,
    fire_at: datetime,
    outcome: FireOutcome,
    *,
    note: str | None = None,
) -> uuid.UUID | None:
    """Insert the fire row unless it exists; its id, or None when another tick recorded it."""
    values = {
        "id": uuid.uuid4(),
        "schedule_id": schedule.id,
        "fire_at": fire_at,
        "outcome": outcome,
        "note": note[:500] if note else None,
        "created_at": utcnow(),
    }
    dialect = session.get_bind().dialect.name
    insert = pg_insert if dialect == "postgresql" else sqlite_insert
    statement = (
        insert(ScheduleFire)
        .values(**values)
        .on_conflict_do_nothing(index_elements=["schedule_id", "fire_at"])
        .returning(col(ScheduleFire.id))
    )
    fire_id: uuid.UUID | None = session.execute(statement).scalar_one_or_none()
    return fire_id


def _fire(run: Fire, schedule: Schedule, fire_at: datetime, *, note: str | None = None) -> None:
    session, result = run.session, run.result
    if run.going and schedule.overlap_policy == OverlapPolicy.SKIP:
        fire_id = _record(
            session,
            schedule,
            fire_at,
            FireOutcome.SKIPPED,
            note="The previous run was still going.",
        )
        if fire_id is None:
            result.duplicates += 1
        else:
            result.skipped += 1
        return
    fire_id = _record(session, schedule, fire_at, FireOutcome.STARTED, note=note)
    if fire_id is None:
        result.duplicates += 1
        return
    try:
        started = _start_target(session, _run_as(run, schedule), schedule, fire_at)
    except DomainError as exc:
        outcome: dict[str, object] = {"outcome": FireOutcome.FAILED, "note": exc.message[:500]}
        result.failed += 1
        if isinstance(exc, Forbidden | NotFound):
            _pause_for(session, schedule, exc.message)
    else:
        if isinstance(started, SuiteRun):
            outcome = {"note": f"Started suite run {started.id}."}
        else:
            outcome = {"execution_id": started.id}
        result.started += 1
        result.started_fire_times.append(fire_at)
    session.execute(update(ScheduleFire).where(col(ScheduleFire.id) == fire_id).values(**outcome))


def _start_target(
    session: Session, actor: Actor, schedule: Schedule, fire_at: datetime
) -> Execution | SuiteRun:
    """Start what the schedule points at. One place to add a target kind (a workflow, a test
    suite): the type checker flags this match until the new kind is handled."""
    match schedule.target_type:
        case TriggerTarget.AGENT:
            return runs.start_run(
                session,
                actor,
                schedule.agent_id,
                message=str(schedule.input.get("message") or ""),
                variables=dict(schedule.input.get("variables") or {}),
                schedule_id=schedule.id,
                idempotency_key=idempotency_key(schedule.id, fire_at),
            )
        case TriggerTarget.SUITE:
            try:
                suite_id = uuid.UUID(str(schedule.input.get("suite_id")))
            except ValueError:
                raise NotFound("The scheduled test suite no longer exists.") from None
            return start_suite_run(session, actor, suite_id, trigger="schedule")
        case _:
            assert_never(schedule.target_type)


def _run_as(run: Fire, schedule: Schedule) -> Actor:
    """The schedule's creator, with their current role: a run never outranks its person.
    Looked up once per tick and person (a tick may fire hundreds of one person's schedules)."""
    key = (schedule.org_id, schedule.created_by_id)
    if key not in run.people:
        try:
            run.people[key] = _person(run.session, schedule)
        except NotFound as exc:
            run.people[key] = exc
    found = run.people[key]
    if isinstance(found, NotFound):
        raise found
    return found


def _person(session: Session, schedule: Schedule) -> Actor:
    user = session.get(User, schedule.created_by_id) if schedule.created_by_id else None
    if user is None:
        raise NotFound("The person who set up this schedule no longer has an account.")
    try:
        return actor_for(session, user, schedule.org_id)
    except NotFound:
        raise NotFound(
            f"{user.name or user.email} who set up this schedule is no longer a member of "
            "the organization."
        ) from None


def _pause_for(session: Session, schedule: Schedule, reason: str) -> None:
    """A fire that cannot start until someone acts: pause the schedule and say why in the audit
    log, rather than fail at every fire time."""
    schedule.enabled = False
    schedule.next_fire_at = None
    schedule.updated_at = utcnow()
    audit.record(
        session,
        "schedule.paused",
        org_id=schedule.org_id,
        actor_id=None,
        target_type="schedule",
        target_id=schedule.id,
        name=schedule.name,
        reason=reason,
    )


def requeue_lost(
    session: Session,
    *,
    waiting: Callable[[list[uuid.UUID]], set[uuid.UUID]],
    grace: timedelta = timedelta(seconds=5),
    within: timedelta = timedelta(days=1),
) -> int:
    """Enqueue again the queued runs of recent fires that Redis does not hold (it restarted
    without persistence, or was down when the tick committed). `waiting` is the same check
    the reconciler uses; the run id is the job id, so an enqueue twice leaves one job."""
    now = utcnow()
    queued = session.exec(
        select(Execution.id, Execution.org_id)
        .join(ScheduleFire, col(ScheduleFire.execution_id) == col(Execution.id))
        .where(
            col(Execution.status) == ExecutionStatus.QUEUED,
            col(Execution.created_at) < now - grace,
            col(ScheduleFire.fire_at) > now - within,
        )
    ).all()
    if not queued:
        return 0
    held = waiting([run_id for run_id, _ in queued])
    lost = [(run_id, org_id) for run_id, org_id in queued if run_id not in held]
    for run_id, org_id in lost:
        cap = runs.concurrency_cap(session, org_id)
        after_commit(session, partial(runs.enqueue, run_id, org_id, cap))
    return len(lost)
