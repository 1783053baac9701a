"""Schedules over REST (/api/v1, organization API keys): list, create, update, pause, resume,
delete, fire history. HTTP only; every rule is in `services.schedules`.

A schedule made through a key runs as the key's creator (a key has no person of its own).
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header
from fastapi.responses import Response
from pydantic import BaseModel

from agent_platform.db import session_scope
from agent_platform.models import Schedule, ScheduleFire
from services import api_keys, schedules
from services.access import Actor
from services.errors import NotFound

from .v1 import api_actor, scoped

router = APIRouter(prefix="/api/v1", tags=["schedules"])

ApiActor = Annotated[Actor, Depends(api_actor)]
# Changes need a key with the write scope (a read-only key reads).
WriteActor = Annotated[Actor, Depends(scoped("write"))]


class ScheduleOut(BaseModel):
    id: str
    agent_id: str
    agent_name: str | None = None
    name: str
    kind: str
    cron: str
    timezone: str
    interval_seconds: int | None
    run_at: datetime | None
    message: str
    variables: dict[str, str]
    enabled: bool
    misfire_policy: str
    overlap_policy: str
    target_type: str
    next_fire_at: datetime | None
    last_fire_at: datetime | None
    next_fire_times: list[datetime]


class SchedulePage(BaseModel):
    items: list[ScheduleOut]
    total: int


class FireOut(BaseModel):
    fire_at: datetime
    outcome: str
    run_id: str | None
    note: str | None


class FirePage(BaseModel):
    items: list[FireOut]
    total: int


def _out(schedule: Schedule, agent_name: str | None = None) -> ScheduleOut:
    return ScheduleOut(
        id=str(schedule.id),
        agent_id=str(schedule.agent_id),
        agent_name=agent_name,
        name=schedule.name,
        kind=schedule.kind.value,
        cron=schedule.cron,
        timezone=schedule.timezone,
        interval_seconds=schedule.interval_seconds,
        run_at=schedule.run_at,
        message=str(schedule.input.get("message", "")),
        variables=dict(schedule.input.get("variables") or {}),
        enabled=schedule.enabled,
        misfire_policy=schedule.misfire_policy.value,
        overlap_policy=schedule.overlap_policy.value,
        target_type=schedule.target_type.value,
        next_fire_at=schedule.next_fire_at,
        last_fire_at=schedule.last_fire_at,
        next_fire_times=schedules.next_times(schedule),
    )


def _fire_out(fire: ScheduleFire) -> FireOut:
    return FireOut(
        fire_at=fire.fire_at,
        outcome=fire.outcome.value,
        run_id=str(fire.execution_id) if fire.execution_id else None,
        note=fire.note,
    )


def _id(value: str) -> uuid.UUID:
    try:
        return uuid.UUID(value)
    except ValueError:
        raise NotFound("Not found.") from None


def _key_creator(authorization: str | None) -> uuid.UUID | None:
    secret = (authorization or "").removeprefix("Bearer ").strip()
    with session_scope() as session:
        return api_keys.creator_of_key(session, secret)


@router.get("/schedules", response_model=SchedulePage)
def list_schedules(
    actor: ApiActor,
    agent_id: str | None = None,
    search: str = "",
    offset: int = 0,
    limit: int = 50,
) -> SchedulePage:
    with session_scope() as session:
        rows, total = schedules.list_schedules(
            session,
            actor,
            agent_id=_id(agent_id) if agent_id else None,
            search=search,
            offset=offset,
            limit=limit,
        )
        return SchedulePage(items=[_out(s, name) for s, name in rows], total=total)


@router.post("/agents/{agent_id}/schedules", response_model=ScheduleOut, status_code=201)
def create_schedule(
    agent_id: str,
    data: dict[str, Any],
    actor: WriteActor,
    authorization: Annotated[str | None, Header()] = None,
) -> ScheduleOut:
    runs_as = _key_creator(authorization)
    with session_scope() as session:
        schedule = schedules.create_schedule(session, actor, _id(agent_id), data, runs_as=runs_as)
        return _out(schedule)


@router.get("/schedules/{schedule_id}", response_model=ScheduleOut)
def get_schedule(schedule_id: str, actor: ApiActor) -> ScheduleOut:
    with session_scope() as session:
        return _out(schedules.get_schedule(session, actor, _id(schedule_id)))


@router.put("/schedules/{schedule_id}", response_model=ScheduleOut)
def update_schedule(
    schedule_id: str,
    data: dict[str, Any],
    actor: WriteActor,
    authorization: Annotated[str | None, Header()] = None,
) -> ScheduleOut:
    runs_as = _key_creator(authorization)
    with session_scope() as session:
        schedule = schedules.update_schedule(
            session, actor, _id(schedule_id), data, runs_as=runs_as
        )
        return _out(schedule)


@router.post("/schedules/{schedule_id}/pause", response_model=ScheduleOut)
def pause_schedule(schedule_id: str, actor: WriteActor) -> ScheduleOut:
    with session_scope() as session:
        return _out(schedules.set_enabled(session, actor, _id(schedule_id), enabled=False))


@router.post("/schedules/{schedule_id}/resume", response_model=ScheduleOut)
def resume_schedule(
    schedule_id: str, actor: WriteActor, authorization: Annotated[str | None, Header()] = None
) -> ScheduleOut:
    runs_as = _key_creator(authorization)
    with session_scope() as session:
        schedule = schedules.set_enabled(
            session, actor, _id(schedule_id), enabled=True, runs_as=runs_as
        )
        return _out(schedule)


@router.delete("/schedules/{schedule_id}", status_code=204)
def delete_schedule(schedule_id: str, actor: WriteActor) -> Response:
    with session_scope() as session:
        schedules.delete_schedule(session, actor, _id(schedule_id))
    return Response(status_code=204)


@router.get("/schedules/{schedule_id}/fires", response_model=FirePage)
def list_fires(schedule_id: str, actor: ApiActor, offset: int = 0, limit: int = 20) -> FirePage:
    with session_scope() as session:
        fires, total = schedules.list_fires(
            session, actor, _id(schedule_id), offset=offset, limit=limit
        )
        return FirePage(items=[_fire_out(f) for f in fires], total=total)
