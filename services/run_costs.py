"""Which runs include model calls without a known price (their cost is a lower bound).

The cost columns cannot be NULL (schema), so an unpriced call stores 0 and marks its step
(`response.cost_unknown`, written by the runtime); a run's cost is "unknown" when any of its
model steps is so marked.
"""

from __future__ import annotations

import uuid

from sqlmodel import Session, col, select

from agent_platform.models import Execution, ExecutionStep
from services.access import Actor
from services.read_scope import where_of
from services.run_reads import visible_runs


def unpriced_runs(session: Session, actor: Actor, run_ids: list[uuid.UUID]) -> set[uuid.UUID]:
    """The runs among `run_ids` (of the actor's org) with at least one unpriced model call."""
    if not run_ids:
        return set()
    rows = session.exec(
        select(ExecutionStep.execution_id)
        .join(Execution, col(Execution.id) == col(ExecutionStep.execution_id))
        .where(
            where_of(visible_runs(actor)),
            col(ExecutionStep.execution_id).in_(run_ids),
            ExecutionStep.kind == "model",
            ExecutionStep.cost == 0,  # priced calls are never marked: skip their JSON
            col(ExecutionStep.response)["cost_unknown"].as_boolean().is_(True),
        )
        .distinct()
    ).all()
    return set(rows)
