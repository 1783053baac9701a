"""The dashboard's reads: every SQL statement behind its figures, and nothing else.

Why apart from services/dashboard.py: the queries are where the speed is (each one reads one
window of the (org_id, created_at) index, see that module's notes and models/runs.py), the
assembly is where the meaning is (buckets, the cache, totals, rankings). Each changes for its
own reasons; these functions return rows, and `dashboard` turns them into figures.
"""

from __future__ import annotations

import math
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session, col, func, select
from sqlmodel.sql.expression import Select

from agent_platform.models import Agent, Execution, ExecutionStatus, ExecutionStep
from agent_platform.models.runs import step_attention
from services.access import Actor
from services.agent_reads import visible_agents
from services.dashboard_cache import ACTIVE
from services.read_scope import where_of
from services.run_reads import visible_runs

PERCENTILES = (0.5, 0.95, 0.99)
FAILED = (ExecutionStatus.FAILED, ExecutionStatus.TIMED_OUT)
RECENT_FAILURES = 10
ERROR_CHARS = 200
# Steps are written by a worker after their run was created; this margin keeps the step-side
# time bound (it only exists to use an index) a superset even if clocks drift a little.
STEP_CLOCK_MARGIN = timedelta(hours=1)

Scope = list[sa.ColumnElement[bool]]


@dataclass(frozen=True)
class Window:
    since: datetime
    until: datetime
    step: int
    count: int

    def start(self, index: int) -> datetime:
        return self.since + timedelta(seconds=self.step * index)


def runs_in(actor: Actor, since: datetime, until: datetime, agent_id: uuid.UUID | None) -> Scope:
    """The WHERE clause every executions query shares: org, time range, optional agent, and
    production runs only (a test suite's runs carry `test_run_id`)."""
    where: Scope = [
        where_of(visible_runs(actor)),
        col(Execution.test_run_id).is_(None),
        col(Execution.created_at) >= since,
        col(Execution.created_at) < until,
    ]
    if agent_id is not None:
        where.append(col(Execution.agent_id) == agent_id)
    return where


def newest_and_active(
    session: Session, actor: Actor, agent_id: uuid.UUID | None
) -> tuple[datetime | None, dict[ExecutionStatus, int]]:
    """The newest run's creation time and how many runs are queued or running: two index
    probes (of the organization's runs, or one agent's)."""
    latest = select(func.max(Execution.created_at)).where(where_of(visible_runs(actor)))
    active = (
        select(col(Execution.status), func.count())
        .where(where_of(visible_runs(actor)), col(Execution.status).in_(ACTIVE))
        .group_by(col(Execution.status))
    )
    if agent_id is not None:
        latest = latest.where(Execution.agent_id == agent_id)
        active = active.where(Execution.agent_id == agent_id)
    counts = dict(session.exec(active).all())
    return session.exec(latest).one(), counts


def count_runs(session: Session, scope: Scope) -> int:
    return session.exec(select(func.count()).where(*scope)).one()


def bucket_of(column: Any, win: Window, postgres: bool) -> Any:
    """The bucket of a timestamp, in SQL. Constants are inlined (our own numbers) because
    PostgreSQL matches GROUP BY expressions textually and two bind parameters never match.
    date_bin keeps PostgreSQL in timestamp arithmetic (epoch numerics are twice as slow)."""
    if postgres:
        return func.date_bin(
            sa.literal_column(f"interval '{int(win.step)} seconds'"),
            column,
            sa.literal_column(f"timestamptz '{win.since.isoformat()}'"),
        )
    offset = sa.cast(func.strftime("%s", column), sa.Integer) - int(win.since.timestamp())
    # CAST: SQLAlchemy may compile "/" as true division, and a fractional bucket number would
    # group by the second instead of the bucket (offsets are >= 0, so truncation is floor).
    return sa.cast(offset / sa.literal_column(str(int(win.step))), sa.Integer)


def run_groups(session: Session, scope: Scope, bucket: Any) -> list[Any]:
    """(bucket, status, agent id, runs, tokens, cost) per bucket, status and agent."""
    # sqlmodel's select() is typed up to four columns; wider rows use its Select class with
    # the row written out (bucket: a datetime or a number; sums: Decimal or float by database).
    query: Select[datetime | int, ExecutionStatus, uuid.UUID | None, int, int, Any] = Select(
        bucket,
        col(Execution.status),
        col(Execution.agent_id),
        func.count(),
        func.coalesce(func.sum(Execution.tokens_used), 0),
        func.coalesce(func.sum(Execution.cost), 0),
    )
    return list(
        session.exec(
            query.where(*scope).group_by(
                sa.literal_column("bucket"), col(Execution.status), col(Execution.agent_id)
            )
        ).all()
    )


def model_step_groups(session: Session, scope: Scope, bucket: Any, since: datetime) -> list[Any]:
    """(bucket, model ref, calls, tokens, cost) of the model steps that named their model.

    Steps whose every model failed have no model of their own: their attempts are read by
    `failed_or_unpriced` and counted under the models that failed (never as "(unknown)")."""
    query: Select[datetime | int, str, int, int, Any] = Select(
        bucket,
        col(ExecutionStep.model).label("model_ref"),
        func.count(),
        func.coalesce(func.sum(ExecutionStep.tokens), 0),
        func.coalesce(func.sum(ExecutionStep.cost), 0),
    )
    return list(
        session.exec(
            query.join(Execution, col(Execution.id) == col(ExecutionStep.execution_id))
            .where(
                *scope,
                ExecutionStep.kind == "model",
                col(ExecutionStep.model).is_not(None),
                col(ExecutionStep.created_at) >= since - STEP_CLOCK_MARGIN,
            )
            .group_by(sa.literal_column("bucket"), sa.literal_column("model_ref"))
        ).all()
    )


def failed_or_unpriced(
    session: Session, scope: Scope, bucket: Any, since: datetime, postgres: bool
) -> list[Any]:
    """Model steps with failed attempts or without a price: (bucket, model, attempts,
    unpriced). Both live in the step's JSON (the runtime writes them there); the condition is
    the partial index's own (`step_attention`), so only those few steps are read."""
    response = col(ExecutionStep.response)
    attempts = response["attempts"]
    unpriced = response["cost_unknown"].as_boolean().is_(True)
    attention = sa.text(step_attention("postgresql" if postgres else "sqlite", "execution_steps"))
    return list(
        session.exec(
            select(bucket, ExecutionStep.model, attempts, unpriced)
            .join(Execution, col(Execution.id) == col(ExecutionStep.execution_id))
            .where(
                *scope,
                attention,
                col(ExecutionStep.created_at) >= since - STEP_CLOCK_MARGIN,
            )
        ).all()
    )


def latency_percentiles(session: Session, scope: Scope, postgres: bool) -> dict[float, float]:
    """Exact PERCENTILES of finished runs' latency in ms (the runs, never a cache); empty
    without finished runs.

    PostgreSQL computes them in one sort (percentile_cont over an array). Elsewhere (SQLite) a
    window query numbers the sorted latencies and returns only the few rows the percentiles
    need, then the same linear interpolation is done here, so both give identical values.
    """
    where = [*scope, col(Execution.latency_ms).is_not(None)]
    if postgres:
        fractions: sa.ColumnClause[list[float]] = sa.literal_column(
            "ARRAY[" + ",".join(str(p) for p in PERCENTILES) + "]"
        )
        values = session.exec(
            select(func.percentile_cont(fractions).within_group(col(Execution.latency_ms))).where(
                *where
            )
        ).one()
        if values is None:
            return {}
        return {p: float(v) for p, v in zip(PERCENTILES, values, strict=True)}
    finished = session.exec(select(func.count()).where(*where)).one()
    if finished == 0:
        return {}
    positions: dict[float, tuple[int, int, float]] = {}
    for p in PERCENTILES:
        exact = p * (finished - 1)
        positions[p] = (math.floor(exact), math.ceil(exact), exact - math.floor(exact))
    wanted = sorted({i for lo, hi, _ in positions.values() for i in (lo, hi)})
    numbered = (
        select(
            col(Execution.latency_ms).label("latency"),
            (func.row_number().over(order_by=col(Execution.latency_ms)) - 1).label("position"),
        )
        .where(*where)
        .subquery()
    )
    found = dict(
        session.exec(
            select(numbered.c.position, numbered.c.latency).where(numbered.c.position.in_(wanted))
        ).all()
    )
    return {
        p: found[lo] + (found[hi] - found[lo]) * frac for p, (lo, hi, frac) in positions.items()
    }


def agent_names(session: Session, actor: Actor, agent_ids: set[uuid.UUID]) -> dict[uuid.UUID, str]:
    if not agent_ids:
        return {}
    rows = session.exec(
        select(Agent.id, Agent.name).where(
            where_of(visible_agents(actor)), col(Agent.id).in_(agent_ids)
        )
    ).all()
    return dict(rows)


def recent_failures(session: Session, actor: Actor, scope: Scope) -> list[Any]:
    """(run id, agent id, agent name, status, error, created) of the newest failed runs; the
    backward index scan stops after RECENT_FAILURES, however many runs succeeded."""
    query: Select[uuid.UUID, uuid.UUID | None, str | None, ExecutionStatus, str, datetime] = Select(
        col(Execution.id),
        col(Execution.agent_id),
        col(Agent.name),
        col(Execution.status),
        func.substr(func.coalesce(Execution.error, ""), 1, ERROR_CHARS),
        col(Execution.created_at),
    )  # six columns: see run_groups
    return list(
        session.exec(
            query.join(
                Agent,
                sa.and_(col(Agent.id) == col(Execution.agent_id), where_of(visible_agents(actor))),
                isouter=True,
            )
            .where(*scope, col(Execution.status).in_(FAILED))
            .order_by(col(Execution.created_at).desc())
            .limit(RECENT_FAILURES)
        ).all()
    )
