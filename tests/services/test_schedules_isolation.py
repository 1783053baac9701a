"""Tenant isolation of schedules: another organization's schedule or agent does not exist for
you. Naming one of org A's ids from org B — at any role there — is NotFound (never Forbidden,
which would confirm the id), and A's schedule is left exactly as it was.

(Kept beside tests/services/test_tenant_isolation.py, which another change reworks; the same
rule, for the schedule functions that take ids.)"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

import pytest
from sqlmodel import Session, select

from agent_platform.models import AuditEntry, Role, Schedule
from services import agents, schedules
from services.access import Actor
from services.errors import NotFound
from tests.factories import add_member, make_user, personal_actor

FORM = {"name": "A's report", "kind": "cron", "cron": "0 9 * * *", "message": "report"}


@pytest.fixture
def org_a(session: Session) -> tuple[Actor, uuid.UUID, uuid.UUID]:
    alice = personal_actor(session, make_user(session, email="alice@a.example"))
    agent = agents.create_agent(session, alice, name="A agent", config={"model": "openai/gpt-4o"})
    schedule = schedules.create_schedule(session, alice, agent.id, FORM)
    session.commit()
    return alice, agent.id, schedule.id


@pytest.fixture(params=[Role.OWNER, Role.ADMIN, Role.BUILDER, Role.VIEWER])
def mallory(request: pytest.FixtureRequest, session: Session) -> Actor:
    owner = personal_actor(session, make_user(session, email="mallory@b.example"))
    if request.param == Role.OWNER:
        session.commit()
        return owner
    _, actor = add_member(session, owner.org_id, role=request.param)
    session.commit()
    return actor


CALLS: dict[str, Callable[[Session, Actor, uuid.UUID, uuid.UUID], Any]] = {
    "get_schedule": lambda s, a, _agent, sid: schedules.get_schedule(s, a, sid),
    "update_schedule": lambda s, a, _agent, sid: schedules.update_schedule(
        s, a, sid, {**FORM, "name": "taken"}
    ),
    "pause": lambda s, a, _agent, sid: schedules.set_enabled(s, a, sid, enabled=False),
    "resume": lambda s, a, _agent, sid: schedules.set_enabled(s, a, sid, enabled=True),
    "delete_schedule": lambda s, a, _agent, sid: schedules.delete_schedule(s, a, sid),
    "list_fires": lambda s, a, _agent, sid: schedules.list_fires(s, a, sid),
    "create_for_their_agent": lambda s, a, agent, _sid: schedules.create_schedule(
        s, a, agent, FORM
    ),
    "list_their_agent": lambda s, a, agent, _sid: schedules.list_schedules(s, a, agent_id=agent),
}


@pytest.mark.parametrize("call", sorted(CALLS))
def test_other_orgs_schedule_is_not_found(
    session: Session, org_a: tuple[Actor, uuid.UUID, uuid.UUID], mallory: Actor, call: str
) -> None:
    alice, agent_id, schedule_id = org_a
    before = session.get(Schedule, schedule_id).model_dump()
    audits = len(session.exec(select(AuditEntry)).all())
    if call in ("update_schedule", "pause", "resume", "delete_schedule", "create_for_their_agent"):
        expected: type[Exception] = NotFound if mallory.at_least(Role.BUILDER) else Exception
    else:
        expected = NotFound
    with pytest.raises(expected) as caught:
        CALLS[call](session, mallory, agent_id, schedule_id)
    if mallory.at_least(Role.BUILDER) or expected is NotFound:
        assert isinstance(caught.value, NotFound), caught.value
    session.rollback()
    session.expire_all()
    assert session.get(Schedule, schedule_id).model_dump() == before
    assert len(session.exec(select(AuditEntry)).all()) == audits


def test_listing_shows_only_your_orgs_schedules(
    session: Session, org_a: tuple[Actor, uuid.UUID, uuid.UUID], mallory: Actor
) -> None:
    rows, total = schedules.list_schedules(session, mallory, search="report")
    assert (rows, total) == ([], 0)
