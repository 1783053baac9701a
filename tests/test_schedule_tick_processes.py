"""Three real `scheduler` processes over 1,000 due fire times: each fire happens exactly once.

The processes are the production command (`python -m agent_platform scheduler`) against the
test PostgreSQL database and Redis, ticking at the same time in small batches so they contend
for the same schedules; the database alone (row locks and the unique (schedule, fire time)
row) decides who fires what.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
import uuid
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import IO

import pytest
from sqlalchemy import func, update
from sqlmodel import Session, col, select

from agent_platform.db import session_scope
from agent_platform.models import Execution, Schedule, ScheduleFire
from agent_platform.models.base import utcnow
from services import agents, schedules
from services.access import Actor
from services.queue import queue
from tests.conftest import require_postgres
from tests.factories import make_user, personal_actor
from tests.waiting import wait_until

ROOT = Path(__file__).resolve().parents[1]
SCHEDULES = 1_000
PROCESSES = 3


def make_due_schedules(owner: Actor, count: int) -> uuid.UUID:
    """`count` daily schedules of one agent, all due now (their fire time just passed)."""
    with session_scope() as s:
        agent = agents.create_agent(s, owner, name="Nightly", config={"model": "openai/gpt-4o"})
        agent_id = agent.id
    with session_scope() as s:
        for i in range(count):
            schedules.create_schedule(
                s,
                owner,
                agent_id,
                {
                    "name": f"Job {i}",
                    "kind": "interval",
                    "interval_seconds": 86_400,
                    "message": f"run {i}",
                },
            )
    fire_at = utcnow().replace(microsecond=0) - timedelta(seconds=1)
    with session_scope() as s:
        s.execute(update(Schedule).values(next_fire_at=fire_at))
    return agent_id


@pytest.fixture
def schedulers() -> Iterator[list[subprocess.Popen[bytes]]]:
    """The scheduler processes a test starts; stopped (TERM, then KILL) whatever happens."""
    procs: list[subprocess.Popen[bytes]] = []
    yield procs
    for proc in procs:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
    for proc in procs:
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)


def start_schedulers(procs: list[subprocess.Popen[bytes]]) -> None:
    env = {
        **os.environ,
        "SCHEDULE_TICK_BATCH": "20",
        "SCHEDULE_TICK_SECONDS": "0.2",
        "LITELLM_LOCAL_MODEL_COST_MAP": "True",
    }
    command = [sys.executable, "-m", "agent_platform", "scheduler", "--interval", "1"]
    for _ in range(PROCESSES):
        procs.append(
            # stderr into a file, not a pipe: a pipe nobody reads fills up (64 KB) and blocks
            # the process on its next log line, so it could not even stop when asked.
            _spawn(command, env)
        )


LOGS: dict[int, IO[bytes]] = {}


def _spawn(command: list[str], env: dict[str, str]) -> subprocess.Popen[bytes]:
    log = tempfile.TemporaryFile()  # noqa: SIM115 - read by _stderr, closed with the process
    proc = subprocess.Popen(command, cwd=ROOT, env=env, stderr=log)  # noqa: S603
    LOGS[proc.pid] = log
    return proc


def _stderr(proc: subprocess.Popen[bytes]) -> str:
    log = LOGS.get(proc.pid)
    if log is None:
        return ""
    log.seek(0)
    return log.read().decode(errors="replace")


def fired_schedules(session: Session) -> int:
    session.expire_all()
    return session.exec(select(func.count()).where(col(Schedule.last_fire_at).is_not(None))).one()


def run_ids(session: Session) -> set[str]:
    session.expire_all()
    return {str(i) for i in session.exec(select(Execution.id)).all()}


def test_three_schedulers_fire_each_of_1000_times_exactly_once(
    session: Session, schedulers: list[subprocess.Popen[bytes]]
) -> None:
    require_postgres("several scheduler processes need row locks of a real server")
    owner = personal_actor(session, make_user(session))
    session.commit()
    make_due_schedules(owner, SCHEDULES)
    start_schedulers(schedulers)

    wait_until(
        lambda: fired_schedules(session) == SCHEDULES,
        timeout=180,
        what=f"all {SCHEDULES} schedules fired",
    )
    # A job whose after-commit enqueue a process had not yet made is enqueued by a scheduler's
    # requeue of lost fires; wait for every run to be on the queue before stopping them.
    wait_until(
        lambda: set(queue("agents").job_ids) >= run_ids(session),
        timeout=60,
        what="every fired run on the agents queue",
    )
    for proc in schedulers:
        assert proc.poll() is None, _stderr(proc)
        proc.send_signal(signal.SIGTERM)
    errors = []
    for proc in schedulers:
        proc.wait(60)
        err = _stderr(proc)
        if "Traceback" in err or "could not fire" in err:
            errors.append(err[-2000:])
    assert errors == []

    fires = session.exec(select(ScheduleFire)).all()
    runs = session.exec(select(Execution)).all()
    assert len(fires) == SCHEDULES
    assert len({f.schedule_id for f in fires}) == SCHEDULES  # one fire per schedule
    assert all(f.execution_id is not None for f in fires)
    assert len(runs) == SCHEDULES
    assert len({r.schedule_id for r in runs}) == SCHEDULES  # one run per schedule
    assert {r.id for r in runs} == {f.execution_id for f in fires}
    assert {r.input["message"] for r in runs} == {f"run {i}" for i in range(SCHEDULES)}
    assert set(queue("agents").job_ids) == {str(r.id) for r in runs}  # each enqueued once
