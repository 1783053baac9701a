"""Schedules: start an agent's run at cron times, at a fixed interval, or once.

The rules of a schedule live here (who may change it, what a valid one is, when it fires
next); the tick that fires them is `services.schedule_tick`, the fire-time arithmetic
`services.schedule_times`. Reads are scoped to the actor's organization through one statement
builder, so another organization's schedule is a NotFound, never a Forbidden.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field, field_validator, model_validator
from sqlalchemy import delete
from sqlmodel import Session, col, func, or_, select
from sqlmodel.sql.expression import SelectOfScalar

from agent_platform.models import (
    Agent,
    AgentStatus,
    MisfirePolicy,
    OverlapPolicy,
    Schedule,
    ScheduleFire,
    ScheduleKind,
    TriggerTarget,
)
from agent_platform.models.base import utcnow
from services import audit
from services.access import Actor, Permission, require
from services.agent_reads import get_agent
from services.errors import Invalid, NotFound
from services.read_scope import where_of
from services.runs import MAX_MESSAGE_CHARS
from services.schedule_times import (
    MAX_INTERVAL_SECONDS,
    MIN_INTERVAL_SECONDS,
    TimeSpec,
    as_utc,
    cron_problem,
    first_fire,
    upcoming,
    wall_to_utc,
    zone,
)
from services.validation import SafeName, parse

PAGE_MAX = 200
PREVIEW_COUNT = 5


class ScheduleInput(BaseModel):
    """A schedule as the editor and the API send it; `run_at` without a zone is wall time in
    `timezone` (what a date-time field in the browser gives)."""

    name: SafeName = Field(min_length=1, max_length=120)
    kind: ScheduleKind = ScheduleKind.CRON
    cron: str = Field(default="", max_length=120)
    timezone: str = Field(default="UTC", max_length=64)
    interval_seconds: int | None = Field(
        default=None, ge=MIN_INTERVAL_SECONDS, le=MAX_INTERVAL_SECONDS
    )
    run_at: datetime | None = None
    message: str = Field(min_length=1, max_length=MAX_MESSAGE_CHARS)
    variables: dict[str, str] = Field(default_factory=dict)
    misfire_policy: MisfirePolicy = MisfirePolicy.RUN_ONCE
    overlap_policy: OverlapPolicy = OverlapPolicy.SKIP
    enabled: bool = True

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            zone(value.strip())
        except ValueError:
            raise ValueError("is not a known time zone; use a name such as Europe/Berlin") from None
        return value.strip()

    @field_validator("cron")
    @classmethod
    def _cron_spaces(cls, value: str) -> str:
        return " ".join(value.split())

    @model_validator(mode="after")
    def _kind_fields(self) -> ScheduleInput:
        if self.kind == ScheduleKind.CRON:
            problem = (
                cron_problem(self.cron) if self.cron else "A cron schedule needs a cron expression."
            )
            if problem:
                raise ValueError(problem.rstrip("."))
        elif self.kind == ScheduleKind.INTERVAL:
            if self.interval_seconds is None:
                raise ValueError("An interval schedule needs the number of seconds between runs")
        elif self.kind == ScheduleKind.ONCE:
            if self.run_at is None:
                raise ValueError("A one-off schedule needs the date and time to run at")
            if self.run_at.tzinfo is None:
                self.run_at = wall_to_utc(self.run_at, zone(self.timezone))
            self.run_at = as_utc(self.run_at)
        return self


LABELS = {
    "interval_seconds": "Interval",
    "run_at": "Run at",
    "timezone": "Time zone",
    "cron": "Cron expression",
    "misfire_policy": "After downtime",
    "overlap_policy": "While the previous run is going",
}


def parse_input(data: dict[str, Any]) -> ScheduleInput:
    return parse(ScheduleInput, data, labels=LABELS)


def spec_of(schedule: Schedule | ScheduleInput) -> TimeSpec:
    return TimeSpec(
        kind=schedule.kind,
        timezone=schedule.timezone,
        cron=schedule.cron,
        interval_seconds=schedule.interval_seconds,
        run_at=schedule.run_at,
    )


def preview(data: dict[str, Any], *, now: datetime | None = None) -> list[datetime]:
    """The next fire times (UTC) of a schedule being edited, before it is saved."""
    spec = spec_of(parse_input(data))
    return upcoming(spec, first_fire(spec, now or utcnow()), PREVIEW_COUNT)


def next_times(schedule: Schedule, count: int = PREVIEW_COUNT) -> list[datetime]:
    """The next fire times of a saved schedule (none while it is paused)."""
    if not schedule.enabled:
        return []
    return upcoming(spec_of(schedule), schedule.next_fire_at, count)


def visible_schedules(actor: Actor) -> SelectOfScalar[Schedule]:
    """Every schedule read starts here: the actor's organization's schedules, nothing else."""
    return select(Schedule).where(Schedule.org_id == actor.org_id)


def get_schedule(session: Session, actor: Actor, schedule_id: uuid.UUID) -> Schedule:
    schedule = session.exec(visible_schedules(actor).where(Schedule.id == schedule_id)).first()
    if schedule is None:
        raise NotFound("Schedule not found.")
    return schedule


def list_schedules(
    session: Session,
    actor: Actor,
    *,
    agent_id: uuid.UUID | None = None,
    search: str = "",
    offset: int = 0,
    limit: int = 50,
) -> tuple[list[tuple[Schedule, str]], int]:
    """Schedules with their agent's name, soonest next fire first (paused last), paged."""
    query = select(Schedule, Agent.name).join(Agent, col(Agent.id) == col(Schedule.agent_id))
    query = query.where(where_of(visible_schedules(actor)))
    if agent_id is not None:
        query = query.where(Schedule.agent_id == get_agent(session, actor, agent_id).id)
    words = search.strip()
    if words:
        query = query.where(
            or_(
                col(Schedule.name).icontains(words, autoescape=True),
                col(Agent.name).icontains(words, autoescape=True),
            )
        )
    total = session.exec(select(func.count()).select_from(query.subquery())).one()
    rows = session.exec(
        query.order_by(
            col(Schedule.enabled).desc(),
            col(Schedule.next_fire_at).asc().nulls_last(),
            col(Schedule.name),
            col(Schedule.id),
        )
        .offset(max(offset, 0))
        .limit(min(max(limit, 1), PAGE_MAX))
    ).all()
    return [(schedule, name) for schedule, name in rows], total


def _apply(schedule: Schedule, data: ScheduleInput, now: datetime) -> None:
    schedule.name = data.name
    schedule.kind = data.kind
    schedule.cron = data.cron if data.kind == ScheduleKind.CRON else ""
    schedule.timezone = data.timezone
    schedule.interval_seconds = (
        data.interval_seconds if data.kind == ScheduleKind.INTERVAL else None
    )
    schedule.run_at = data.run_at if data.kind == ScheduleKind.ONCE else None
    suite = schedule.input.get("suite_id") if schedule.input else None
    schedule.input = {"message": data.message, "variables": data.variables}
    if suite:  # a suite's schedule keeps pointing at its suite
        schedule.input["suite_id"] = suite
    schedule.misfire_policy = data.misfire_policy
    schedule.overlap_policy = data.overlap_policy
    schedule.enabled = data.enabled
    schedule.next_fire_at = first_fire(spec_of(schedule), now) if data.enabled else None
    schedule.updated_at = now
    if data.enabled and schedule.next_fire_at is None:
        raise Invalid("This schedule would never fire: its time is already past.")


def _person(actor: Actor, runs_as: uuid.UUID | None) -> uuid.UUID:
    """Who the schedule's runs act as: the acting person, or for an API key (which has no
    person of its own) the key's creator, passed as `runs_as`."""
    person = actor.user_id or runs_as
    if person is None:
        raise Invalid("A schedule runs as a person; this key has no creator any more.")
    return person


def create_schedule(
    session: Session,
    actor: Actor,
    agent_id: uuid.UUID,
    data: dict[str, Any],
    *,
    runs_as: uuid.UUID | None = None,
) -> Schedule:
    """A new schedule for one of the org's agents; it runs as its creator (at most their role)."""
    require(actor, Permission.AGENTS_WRITE)
    person = _person(actor, runs_as)
    parsed = parse_input(data)
    agent = get_agent(session, actor, agent_id)
    if agent.status == AgentStatus.ARCHIVED:
        raise Invalid("This agent is archived; restore it before scheduling it.")
    schedule = Schedule(
        org_id=actor.org_id,
        agent_id=agent.id,
        target_type=TriggerTarget.AGENT,
        created_by_id=person,
        name=parsed.name,
        cron="",
    )
    _apply(schedule, parsed, utcnow())
    session.add(schedule)
    session.flush()
    _audit(session, actor, "schedule.created", schedule)
    return schedule


def update_schedule(
    session: Session,
    actor: Actor,
    schedule_id: uuid.UUID,
    data: dict[str, Any],
    *,
    runs_as: uuid.UUID | None = None,
) -> Schedule:
    """Change a schedule; its next fire is computed again from now (never a burst of old ones).

    Whoever saves it last is the person it runs as from then on."""
    require(actor, Permission.AGENTS_WRITE)
    person = _person(actor, runs_as)
    schedule = get_schedule(session, actor, schedule_id)
    # A paused schedule stays paused through an edit unless the edit says otherwise.
    _apply(schedule, parse_input({"enabled": schedule.enabled, **data}), utcnow())
    schedule.created_by_id = person
    session.add(schedule)
    _audit(session, actor, "schedule.updated", schedule)
    return schedule


def set_enabled(
    session: Session,
    actor: Actor,
    schedule_id: uuid.UUID,
    *,
    enabled: bool,
    runs_as: uuid.UUID | None = None,
) -> Schedule:
    """Pause or resume. A resumed schedule fires next at its next time from now: the fires it
    would have had while paused are not made up."""
    require(actor, Permission.AGENTS_WRITE)
    schedule = get_schedule(session, actor, schedule_id)
    if schedule.enabled == enabled:
        return schedule
    now = utcnow()
    schedule.enabled = enabled
    schedule.next_fire_at = first_fire(spec_of(schedule), now) if enabled else None
    if enabled and schedule.next_fire_at is None:
        raise Invalid("This schedule would never fire again: its time is already past.")
    if enabled:
        schedule.created_by_id = _person(actor, runs_as)  # it runs as whoever resumed it
    schedule.updated_at = now
    session.add(schedule)
    _audit(session, actor, "schedule.resumed" if enabled else "schedule.paused", schedule)
    return schedule


def delete_schedule(session: Session, actor: Actor, schedule_id: uuid.UUID) -> None:
    """Delete a schedule and its fire history; the runs it started stay."""
    require(actor, Permission.AGENTS_WRITE)
    schedule = get_schedule(session, actor, schedule_id)
    _audit(session, actor, "schedule.deleted", schedule)
    session.execute(delete(ScheduleFire).where(col(ScheduleFire.schedule_id) == schedule.id))
    session.delete(schedule)
    session.flush()


def list_fires(
    session: Session, actor: Actor, schedule_id: uuid.UUID, *, offset: int = 0, limit: int = 20
) -> tuple[list[ScheduleFire], int]:
    """A schedule's fires, newest first; each started one names its run."""
    schedule = get_schedule(session, actor, schedule_id)
    query = select(ScheduleFire).where(ScheduleFire.schedule_id == schedule.id)
    total = session.exec(select(func.count()).select_from(query.subquery())).one()
    rows = session.exec(
        query.order_by(col(ScheduleFire.fire_at).desc())
        .offset(max(offset, 0))
        .limit(min(max(limit, 1), PAGE_MAX))
    ).all()
    return list(rows), total


def _audit(session: Session, actor: Actor, action: str, schedule: Schedule) -> None:
    audit.by_actor(
        session,
        actor,
        action,
        target_type="schedule",
        target_id=schedule.id,
        name=schedule.name,
        agent_id=str(schedule.agent_id),
    )
