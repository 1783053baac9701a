"""The run lifecycle: written to the DB first, enqueued after commit, reconciled after crashes."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from functools import partial
from typing import Any

from pydantic import BaseModel, Field
from sqlalchemy import ColumnElement, Integer, Update, bindparam, cast, extract, update
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, func, select
from sqlmodel.sql.expression import SelectOfScalar

from agent_platform.db import after_commit, after_rollback
from agent_platform.models import (
    Agent,
    AgentStatus,
    AgentVersion,
    Execution,
    ExecutionStatus,
    ExecutionStep,
    Organization,
    Role,
    Thread,
)
from agent_platform.models.base import UTCDateTime, utcnow
from agent_platform.redis_client import get_redis
from services import spend
from services.access import Actor, require_role
from services.agent_reads import get_agent_head, version_config
from services.agents import get_agent
from services.billing import usage
from services.errors import Conflict, Invalid, NotFound
from services.organizations import limits_for
from services.plan_limits import limit_reached
from services.queue import enqueue_grading, enqueue_run
from services.ratelimit import Quota, monthly_runs_key
from services.read_scope import where_of
from services.run_reads import get_run as get_run
from services.run_reads import get_thread, visible_runs, visible_steps, visible_threads
from services.runtime.events import cancel_key
from services.thread_titles import title_for
from services.validation import parse

ACTIVE = (ExecutionStatus.QUEUED, ExecutionStatus.RUNNING)
FINAL = (
    ExecutionStatus.SUCCEEDED,
    ExecutionStatus.FAILED,
    ExecutionStatus.CANCELLED,
    ExecutionStatus.TIMED_OUT,
)


MAX_MESSAGE_CHARS = 100_000


class RunInput(BaseModel):
    message: str = Field(min_length=1, max_length=MAX_MESSAGE_CHARS)
    variables: dict[str, str] = Field(default_factory=dict)


def enqueue(run_id: uuid.UUID, org_id: uuid.UUID | None = None, cap: int = -1) -> None:
    """Put a run on the `agents` queue; the RQ job id is the run id (idempotent enqueue)."""
    enqueue_run(run_id, org_id, cap)


def concurrency_cap(session: Session, org_id: uuid.UUID) -> int:
    limits = limits_for(session, org_id)
    return limits.max_concurrent_runs if limits else -1


def _take_run_allowance(session: Session, org_id: uuid.UUID) -> int:
    """One run of the organization's plan, taken atomically (services.ratelimit.Quota): of
    two starts at the last run of the month exactly one passes, which counting the month's
    rows and then inserting cannot promise. The run is given back if the caller's transaction
    rolls back, so a refused or failed start costs nothing.

    Returns the organization's cap on runs at once (-1: none), from the same read of its
    limits, for the enqueue."""
    limits = limits_for(session, org_id)
    if limits is None:
        return -1
    if limits.max_concurrent_runs == 0:
        raise Invalid(
            "Runs are paused for your organization. "
            + limit_reached(limits, allows="no runs at once", more="runs at once")
        )
    if limits.max_runs_per_month < 0:
        return limits.max_concurrent_runs
    month_start = utcnow().replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    key = monthly_runs_key(org_id, month_start)

    def used() -> int:
        return session.exec(
            select(func.count()).where(
                Execution.org_id == org_id,
                col(Execution.created_at) >= month_start,
                col(Execution.test_run_id).is_(None),  # test runs are not billed
            )
        ).one()

    quota = Quota(get_redis())
    if not quota.take(key, limit=limits.max_runs_per_month, count=used):
        raise Invalid(
            limit_reached(
                limits,
                allows=f"{limits.max_runs_per_month:,} runs a month",
                more="more runs a month",
            )
        )
    after_rollback(session, lambda: quota.give_back(key))
    return limits.max_concurrent_runs


def start_run(
    session: Session,
    actor: Actor,
    agent_id: uuid.UUID,
    *,
    message: str,
    variables: dict[str, str] | None = None,
    thread_id: uuid.UUID | None = None,
    schedule_id: uuid.UUID | None = None,
    idempotency_key: str | None = None,
    webhook_trigger_id: uuid.UUID | None = None,
    conversation: list[dict[str, str]] | None = None,
    budget_usd: Decimal | str | float | None = None,
) -> Execution:
    """A run, written now and enqueued after the caller's commit.

    `conversation`: earlier user/assistant turns the run brings with it (an OpenAI-style
    client sends the whole exchange each time), put before `message` like a thread's history.

    `idempotency_key`: the caller's "this request, once" (a webhook delivery, a retried API
    call). The same key in the same organization returns the run it started; nothing new
    starts and no plan allowance is taken. Two starts with one key at the very same moment:
    the unique index lets one in and the other is a `Conflict` to retry (it then gets the run).

    `budget_usd`: the most this run may spend; without it, the agent's "maximum spend per
    run" setting. The engine stops the run cleanly when its cost reaches it, and the
    organization's monthly spend cap holds it while the run is in flight.
    """
    require_role(actor, Role.BUILDER)
    if idempotency_key is not None:
        earlier = _run_for_key(session, actor.org_id, idempotency_key)
        if earlier is not None:
            return earlier
    _check_length(message)
    data = parse(RunInput, {"message": message, "variables": variables or {}})
    agent = get_agent_head(session, actor, agent_id)
    if agent.status == AgentStatus.ARCHIVED:
        raise Invalid("This agent is archived; restore it to run it.")
    if agent.current_version_id is None:
        raise Invalid("This agent has no saved version yet.")
    budget = _budget_of(session, agent.current_version_id, budget_usd)
    # Held while the plan and spend checks below read it: the session's identity map keeps
    # objects only weakly, so each of their reads was a query of its own.
    _org = session.get(Organization, actor.org_id)
    cap = _take_run_allowance(session, actor.org_id)
    spend.take_spend_allowance(session, actor.org_id, reserve=budget)
    if thread_id is not None:
        thread = get_thread(session, actor, thread_id)
        if thread.agent_id != agent.id:
            raise NotFound("Conversation not found.")
        thread.updated_at = utcnow()
        session.add(thread)
    run = Execution(
        org_id=actor.org_id,
        agent_id=agent.id,
        agent_version_id=agent.current_version_id,
        triggered_by_id=actor.user_id,
        schedule_id=schedule_id,
        thread_id=thread_id,
        input={**data.model_dump(), **({"conversation": conversation} if conversation else {})},
        idempotency_key=idempotency_key,
        webhook_trigger_id=webhook_trigger_id,
        budget_usd=budget,
    )
    session.add(run)
    try:
        session.flush()
    except IntegrityError:
        if idempotency_key is None:
            raise
        raise Conflict(
            "A request with this idempotency key is being handled right now; retry it to get "
            "its run."
        ) from None
    run_id, org_id = run.id, actor.org_id
    after_commit(session, lambda: enqueue(run_id, org_id, cap))
    return run


def start_pinned_run(
    session: Session,
    actor: Actor,
    version: AgentVersion,
    *,
    message: str,
    variables: dict[str, str] | None,
    budget_usd: Decimal,
    service_listing_id: uuid.UUID,
    service_price_cents: int,
) -> Execution:
    """A run in the actor's organization of a version that is not its own: a service
    listing's (services/marketplace/service_runs.py decides who may). It counts against the
    actor's organization's plan and spend cap like any run; the engine takes the models and
    knowledge from the version's owner and keeps its instructions out of the steps."""
    require_role(actor, Role.BUILDER)
    _check_length(message)
    data = parse(RunInput, {"message": message, "variables": variables or {}})
    cap = _take_run_allowance(session, actor.org_id)
    spend.take_spend_allowance(session, actor.org_id, reserve=budget_usd)
    run = Execution(
        org_id=actor.org_id,
        agent_id=version.agent_id,
        agent_version_id=version.id,
        triggered_by_id=actor.user_id,
        input=data.model_dump(),
        budget_usd=budget_usd,
        service_listing_id=service_listing_id,
        service_price_cents=service_price_cents,
    )
    session.add(run)
    session.flush()
    run_id, org_id = run.id, actor.org_id
    after_commit(session, lambda: enqueue(run_id, org_id, cap))
    return run


def _budget_of(
    session: Session, version_id: uuid.UUID, requested: Decimal | str | float | None
) -> Decimal | None:
    """The run's budget: the request's, else the agent version's maximum spend per run."""
    budget = spend.parse_usd(requested, what="The run's budget")
    if budget is not None:
        return budget
    config = version_config(session, version_id)  # parsed once per process
    setting = config.max_spend_per_run_usd if config is not None else None
    return spend.parse_usd(setting, what="The agent's maximum spend per run")


def _run_for_key(session: Session, org_id: uuid.UUID, key: str) -> Execution | None:
    return session.exec(
        select(Execution).where(Execution.org_id == org_id, Execution.idempotency_key == key)
    ).first()


def replay(session: Session, actor: Actor, run_id: uuid.UUID) -> Execution:
    """Run the same input again on the same agent version (not the agent's current one)."""
    require_role(actor, Role.BUILDER)
    original = get_run(session, actor, run_id)
    if original.agent_id is None or original.agent_version_id is None:
        raise Invalid("The agent of this run was deleted; it cannot be replayed.")
    if original.service_listing_id is not None:
        raise Invalid("This is a run of a marketplace service: run it again from its listing.")
    cap = _take_run_allowance(session, actor.org_id)
    spend.take_spend_allowance(session, actor.org_id, reserve=original.budget_usd)
    run = Execution(
        org_id=actor.org_id,
        agent_id=original.agent_id,
        agent_version_id=original.agent_version_id,
        triggered_by_id=actor.user_id,
        input={**original.input, "replay_of": str(original.id)},
        budget_usd=original.budget_usd,
    )
    session.add(run)
    session.flush()
    new_id, org_id = run.id, actor.org_id
    after_commit(session, lambda: enqueue(new_id, org_id, cap))
    return run


def new_thread(session: Session, actor: Actor, agent_id: uuid.UUID, *, title: str) -> Thread:
    require_role(actor, Role.BUILDER)
    agent = get_agent(session, actor, agent_id)
    thread = Thread(
        org_id=actor.org_id,
        agent_id=agent.id,
        title=title[:200] or "New conversation",
        created_by_id=actor.user_id,
    )
    session.add(thread)
    session.flush()
    return thread


def _check_length(message: str) -> None:
    if len(message) > MAX_MESSAGE_CHARS:
        raise Invalid(
            f"The message is too long: {len(message):,} characters, at most "
            f"{MAX_MESSAGE_CHARS:,}. Shorten it or put the text in a knowledge collection."
        )


def send_message(
    session: Session,
    actor: Actor,
    agent_id: uuid.UUID,
    *,
    message: str,
    thread_id: uuid.UUID | None = None,
    budget_usd: Decimal | str | float | None = None,
) -> Execution:
    """A chat message: its run, in the given conversation or in a new one titled after it.

    The conversation is made only together with its run, after the message passed every check
    of `start_run`, so a refused message (too long, over the plan, archived agent) leaves no
    empty conversation behind — in the database or in the caller's list."""
    _check_length(message)
    data = parse(RunInput, {"message": message, "variables": {}})
    if thread_id is None:
        title = title_for(session, actor, agent_id, data.message)
        thread_id = new_thread(session, actor, agent_id, title=title).id
    return start_run(
        session, actor, agent_id, message=message, thread_id=thread_id, budget_usd=budget_usd
    )


def list_threads(
    session: Session, actor: Actor, agent_id: uuid.UUID, *, limit: int = 50
) -> list[Thread]:
    agent = get_agent(session, actor, agent_id)
    return list(
        session.exec(
            visible_threads(actor)
            .where(Thread.agent_id == agent.id)
            .order_by(col(Thread.updated_at).desc())
            .limit(limit)
        ).all()
    )


def thread_runs(session: Session, actor: Actor, thread_id: uuid.UUID) -> list[Execution]:
    thread = get_thread(session, actor, thread_id)
    return list(
        session.exec(
            visible_runs(actor)
            .where(Execution.thread_id == thread.id)
            .order_by(col(Execution.created_at))
        ).all()
    )


def get_steps(session: Session, actor: Actor, run_id: uuid.UUID) -> list[ExecutionStep]:
    run = get_run(session, actor, run_id)
    return list(
        session.exec(
            visible_steps(actor)
            .where(ExecutionStep.execution_id == run.id)
            .order_by(col(ExecutionStep.position))
        ).all()
    )


class RunFilter(BaseModel):
    agent_id: uuid.UUID | None = None
    status: ExecutionStatus | None = None
    since: datetime | None = None
    until: datetime | None = None


def filtered_runs(actor: Actor, filters: RunFilter) -> SelectOfScalar[Execution]:
    """The actor's runs that match `filters`, unordered: for a caller that pages by cursor
    (the REST API) rather than by offset."""
    query = visible_runs(actor)
    if filters.agent_id:
        query = query.where(Execution.agent_id == filters.agent_id)
    if filters.status:
        query = query.where(Execution.status == filters.status)
    if filters.since:
        query = query.where(col(Execution.created_at) >= filters.since)
    if filters.until:
        query = query.where(col(Execution.created_at) < filters.until)
    return query


def list_runs(
    session: Session,
    actor: Actor,
    *,
    filters: RunFilter | None = None,
    offset: int = 0,
    limit: int = 50,
) -> tuple[list[tuple[Execution, str | None]], int]:
    """Runs with their agent's name, newest first, paged on the server."""
    f = filters or RunFilter()
    query = (
        select(Execution, Agent.name)
        .join(Agent, col(Agent.id) == col(Execution.agent_id), isouter=True)
        .where(where_of(visible_runs(actor)))
    )
    if f.agent_id:
        query = query.where(Execution.agent_id == f.agent_id)
    if f.status:
        query = query.where(Execution.status == f.status)
    if f.since:
        query = query.where(col(Execution.created_at) >= f.since)
    if f.until:
        query = query.where(col(Execution.created_at) < f.until)
    total = session.exec(select(func.count()).select_from(query.subquery())).one()
    rows = session.exec(
        query.order_by(col(Execution.created_at).desc()).offset(offset).limit(min(limit, 200))
    ).all()
    return [(run, name) for run, name in rows], total


def cancel_run(session: Session, actor: Actor, run_id: uuid.UUID) -> Execution:
    """Queued runs end at once; running ones get a flag the worker checks between tokens."""
    require_role(actor, Role.BUILDER)
    run = get_run(session, actor, run_id)
    if run.status == ExecutionStatus.QUEUED:
        run.status = ExecutionStatus.CANCELLED
        run.finished_at = utcnow()
        run.error = "Cancelled before it started."
        session.add(run)
        spend.settle_after_commit(session, run)
        # Its job will find it final and do nothing: grade it here, or its suite run would
        # wait for it forever.
        _grade_if_test(session, run)
    elif run.status == ExecutionStatus.RUNNING:
        # The flag goes out only once the caller commits (with the audit of the request).
        def raise_flag() -> None:
            get_redis().set(cancel_key(run_id), "1", ex=3600)

        after_commit(session, raise_flag)
    else:
        raise Invalid(f"This run already ended ({run.status.value}).")
    return run


@dataclass(frozen=True)
class ClaimedRun:
    """What the engine needs of a run it has just claimed, straight from the claim's
    RETURNING: one statement per claim instead of an UPDATE, a SELECT and an ORM object."""

    id: uuid.UUID
    org_id: uuid.UUID
    agent_id: uuid.UUID | None
    agent_version_id: uuid.UUID | None
    thread_id: uuid.UUID | None
    input: dict[str, Any]
    created_at: datetime
    test_run_id: uuid.UUID | None
    budget_usd: Decimal | None
    service_listing_id: uuid.UUID | None


_RUNS = Execution.__table__  # type: ignore[attr-defined]  # SQLModel types no __table__; tables have one
_CLAIMED = tuple(_RUNS.c[name] for name in ClaimedRun.__dataclass_fields__)
_FINISHED = (
    _RUNS.c.org_id,
    _RUNS.c.created_at,
    _RUNS.c.test_run_id,
    _RUNS.c.input,
    _RUNS.c.budget_usd,
    _RUNS.c.service_listing_id,
    _RUNS.c.service_price_cents,
)


# Built once: a statement whose values arrive as parameters is compiled once per process
# (SQLAlchemy's cache), where `.values(...)` with Python values coerces each one per call.
_CLAIM = (
    update(_RUNS)
    .where(_RUNS.c.id == bindparam("run_id"), _RUNS.c.status == ExecutionStatus.QUEUED)
    .values(status=ExecutionStatus.RUNNING, started_at=bindparam("now", type_=UTCDateTime()))
    .returning(*_CLAIMED)
)


def claim(session: Session, run_id: uuid.UUID) -> ClaimedRun | None:
    """queued → running, once: a second delivery of the same job finds nothing to claim
    (None). The run's columns come back with the claim, so the caller needs no SELECT."""
    row = session.execute(_CLAIM, {"run_id": run_id, "now": utcnow()}).first()
    _forget_loaded(session, run_id)
    return ClaimedRun(*row) if row is not None else None


def _forget_loaded(session: Session, run_id: uuid.UUID) -> None:
    """A Core UPDATE bypasses the session's identity map: a copy of the run the caller
    loaded before is expired, so its next read sees the new row, not the old values."""
    loaded = session.identity_map.get(session.identity_key(Execution, run_id))
    if loaded is not None:
        session.expire(loaded)


def _finish_statement(dialect: str) -> Update:
    """The UPDATE … RETURNING that ends a run. Its latency (from the start, or from creation
    for a run that never started) is computed by the statement itself, so finishing needs no
    read of the run first."""
    now = bindparam("now", type_=UTCDateTime())
    since = func.coalesce(_RUNS.c.started_at, _RUNS.c.created_at)
    millis: ColumnElement[Any]
    if dialect == "postgresql":
        millis = func.floor(extract("epoch", now - since) * 1000)
    else:
        millis = (func.julianday(now) - func.julianday(since)) * 86_400_000
    return (
        update(_RUNS)
        .where(_RUNS.c.id == bindparam("run_id"), _RUNS.c.status.not_in(FINAL))
        .values(
            status=bindparam("new_status", type_=_RUNS.c.status.type),
            output=bindparam("new_output", type_=_RUNS.c.output.type),
            error=bindparam("new_error", type_=_RUNS.c.error.type),
            tokens_used=bindparam("new_tokens", type_=_RUNS.c.tokens_used.type),
            cost=bindparam("new_cost", type_=_RUNS.c.cost.type),
            finished_at=now,
            latency_ms=cast(millis, Integer),
        )
        .returning(*_FINISHED)
    )


_FINISH = {dialect: _finish_statement(dialect) for dialect in ("postgresql", "sqlite")}


def finish(
    session: Session,
    run_id: uuid.UUID,
    *,
    status: ExecutionStatus,
    output: dict[str, Any] | None = None,
    error: str | None = None,
    tokens: int = 0,
    cost: Any = 0,
) -> None:
    """The run's outcome, once (a run already final is left alone), in one UPDATE … RETURNING
    of what settling its spend, grading and billing it read."""
    statement = _FINISH[session.get_bind().dialect.name]
    params = {
        "run_id": run_id,
        "now": utcnow(),
        "new_status": status,
        "new_output": output,
        "new_error": error,
        "new_tokens": tokens,
        "new_cost": cost,
    }
    row = session.execute(statement, params).first()
    _forget_loaded(session, run_id)
    if row is None:
        return
    # Not added to the session: the columns the hooks below read, of the row just written.
    run = Execution(
        id=run_id,
        org_id=row.org_id,
        created_at=row.created_at,
        test_run_id=row.test_run_id,
        input=row.input,
        budget_usd=row.budget_usd,
        service_listing_id=row.service_listing_id,
        service_price_cents=row.service_price_cents,
        status=status,
        cost=cost,
    )
    spend.settle_after_commit(session, run)
    _grade_if_test(session, run)
    if run.service_listing_id is not None and status == ExecutionStatus.SUCCEEDED:
        _bill_service_run(session, run)


def _bill_service_run(session: Session, run: Execution) -> None:
    """A finished run of a priced service listing is billed per run (after the commit), at the
    price the listing had when the run started."""
    if usage.price_of_run(session, run) > 0:
        usage.bill_service_run(session, run.id)


def _grade_if_test(session: Session, run: Execution) -> None:
    """A run of a test suite is graded once it has ended (after the commit that ends it)."""
    if run.test_run_id is not None:
        run_id = run.id
        after_commit(session, lambda: enqueue_grading(run_id))


def reconcile(
    session: Session,
    *,
    alive: Callable[[list[uuid.UUID]], set[uuid.UUID]],
    waiting: Callable[[list[uuid.UUID]], set[uuid.UUID]] | None = None,
    queued_grace: timedelta = timedelta(seconds=5),
    queued_after: timedelta = timedelta(minutes=2),
    lease_grace: timedelta = timedelta(seconds=20),
) -> dict[str, int]:
    """Runs stuck after a worker, Redis or machine crash: nothing stays "running" forever.

    `alive` says which running runs a worker still holds a lease on (a Redis key it refreshes).
    A running run without a lease failed with its worker: it is marked failed, not resumed,
    because its tools may already have had side effects. A queued run never started: when
    `waiting` says Redis holds no job for it (Redis lost it in a crash or flush, or a worker
    died holding it) it is enqueued again at once — after `queued_grace`, which covers the
    moment between the commit and the enqueue. Without `waiting`, only runs queued longer than
    `queued_after` are enqueued again.
    """
    now = utcnow()
    queued = session.exec(
        select(Execution.id, Execution.org_id, Execution.created_at).where(
            Execution.status == ExecutionStatus.QUEUED,
            col(Execution.created_at) < now - queued_grace,
        )
    ).all()
    held_jobs = waiting([run_id for run_id, _, _ in queued]) if waiting and queued else set()
    lost = [
        (run_id, org_id)
        for run_id, org_id, created_at in queued
        if (waiting is not None and run_id not in held_jobs)
        or (waiting is None and created_at < now - queued_after)
    ]
    running = session.exec(
        select(Execution).where(
            Execution.status == ExecutionStatus.RUNNING,
            col(Execution.started_at) < now - lease_grace,
        )
    ).all()
    held = alive([run.id for run in running]) if running else set()
    failed = 0
    for run in running:
        if run.id in held:
            continue
        run.status = ExecutionStatus.FAILED
        run.error = "The worker running this run stopped (crash or restart); run it again."
        run.finished_at = now
        session.add(run)
        spend.settle_after_commit(session, run)
        _grade_if_test(session, run)
        failed += 1
    for run_id, org_id in lost:
        cap = concurrency_cap(session, org_id)
        after_commit(session, partial(enqueue, run_id, org_id, cap))
    return {"requeued": len(lost), "failed": failed}
