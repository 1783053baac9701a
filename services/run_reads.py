"""What an actor may read of runs: runs, their steps, and playground conversations.

Why a module of its own: runs are read by the run lifecycle (`runs`), the live log (`follow`),
costs, approvals and the dashboard. Each of them starts its query here, so a run of another
organization is never found (NotFound, not Forbidden: its existence is not confirmed), and
this module imports only models, so any of them can use it without an import cycle.
"""

from __future__ import annotations

import uuid

from sqlmodel import Session, col, select
from sqlmodel.sql.expression import SelectOfScalar

from agent_platform.models import Execution, ExecutionStep, Thread
from services.access import Actor
from services.errors import NotFound


def visible_runs(actor: Actor) -> SelectOfScalar[Execution]:
    """Every run read starts here: the actor's organization's runs, nothing else."""
    return select(Execution).where(Execution.org_id == actor.org_id)


def get_run(session: Session, actor: Actor, run_id: uuid.UUID) -> Execution:
    run = session.exec(visible_runs(actor).where(Execution.id == run_id)).first()
    if run is None:
        raise NotFound("Run not found.")
    return run


def visible_steps(actor: Actor) -> SelectOfScalar[ExecutionStep]:
    """Steps carry no org of their own: they are visible through their run."""
    return (
        select(ExecutionStep)
        .join(Execution, col(Execution.id) == col(ExecutionStep.execution_id))
        .where(Execution.org_id == actor.org_id)
    )


def visible_threads(actor: Actor) -> SelectOfScalar[Thread]:
    """Every conversation read starts here: the actor's organization's, nothing else."""
    return select(Thread).where(Thread.org_id == actor.org_id)


def get_thread(session: Session, actor: Actor, thread_id: uuid.UUID) -> Thread:
    thread = session.exec(visible_threads(actor).where(Thread.id == thread_id)).first()
    if thread is None:
        raise NotFound("Conversation not found.")
    return thread
