"""A suite on a clock: an ordinary schedule (same tick, editor and fire history) whose target
is the suite. Apart from `gates` because schedules import runs, which import agents, which
import the publishing gate."""

from __future__ import annotations

import uuid

from sqlmodel import Session

from agent_platform.models import Schedule, TriggerTarget
from services import schedules
from services.access import Actor
from services.testing.suites import get_suite


def schedule_suite(
    session: Session, actor: Actor, suite_id: uuid.UUID, *, cron: str, timezone: str = "UTC"
) -> Schedule:
    """Run a suite on a clock: a schedule like any other (same tick, same editor, same fire
    history), whose target is the suite instead of the agent."""
    suite = get_suite(session, actor, suite_id)
    schedule = schedules.create_schedule(
        session,
        actor,
        suite.agent_id,
        {
            "name": f"Tests: {suite.name}"[:120],
            "kind": "cron",
            "cron": cron,
            "timezone": timezone,
            "message": f"Run the test suite “{suite.name}”",
        },
    )
    schedule.target_type = TriggerTarget.SUITE
    schedule.input = {**schedule.input, "suite_id": str(suite.id)}
    session.add(schedule)
    return schedule
