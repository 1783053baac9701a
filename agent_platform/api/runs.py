"""Runs and conversations over REST (/api/v1, organization API keys). HTTP only: every rule
lives in `services.runs`; the live stream is the same `services.runtime.follow` the run pages
use, written out as Server-Sent Events. Starting, cancelling and new conversations need a key
with the `run` scope; reading needs any key.

    POST /agents/{id}/runs          start a run (message, variables, thread_id; Idempotency-Key)
    GET  /runs                      list, newest first: agent_id, status, since, until; cursor
    GET  /runs/{id}                 one run with its steps
    POST /runs/{id}/cancel          cancel a queued or running run
    GET  /runs/{id}/events          text/event-stream: step, token, discard, end
    GET/POST /agents/{id}/threads   an agent's conversations / a new one
    GET  /threads/{id}              one conversation with its messages
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import uuid
from collections.abc import AsyncGenerator, AsyncIterator
from datetime import datetime
from decimal import Decimal
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header, Query
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, Field

from agent_platform.db import session_scope
from agent_platform.models import Execution, ExecutionStatus, ExecutionStep, Thread
from services import run_reads, runs
from services.access import Actor
from services.errors import Conflict, NotFound
from services.runtime.follow import follow, step_event
from services.webhook_delivery import idempotency_key

from .errors import documented
from .pagination import Page, Paging, keyset, paged
from .v1 import ApiActor, RequestSession, RunActor, RunStarter

router = APIRouter(prefix="/api/v1", tags=["runs"])

# Keys of API calls live beside those of webhook deliveries and schedule fires in one column:
# the prefix keeps a caller's "42" from ever meaning another source's run.
KEY_PREFIX = "api:"


class RunCreate(BaseModel):
    message: str = Field(description="The user's message: the run's input.")
    variables: dict[str, str] = Field(
        default_factory=dict, description="Values for the {{variables}} of the instructions."
    )
    thread_id: uuid.UUID | None = Field(
        default=None, description="A conversation of this agent to continue (its history)."
    )
    budget_usd: Decimal | None = Field(
        default=None,
        description="The most this run may spend, in USD; it stops cleanly (cancelled, with "
        "its steps kept) once its cost reaches it. Default: the agent's maximum spend per run.",
    )


class RunOut(BaseModel):
    id: str
    agent_id: str | None
    agent_version_id: str | None
    thread_id: str | None
    status: str
    message: str
    variables: dict[str, str]
    output: dict[str, Any] | None
    error: str | None
    tokens_used: int
    cost: str
    budget_usd: str | None = None
    latency_ms: int | None
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None


class StepOut(BaseModel):
    """One step as the live stream's `step` event carries it (the same shape in both)."""

    position: int
    kind: str
    latency_ms: int | None
    error: str | None
    model: str | None = None
    text: str | None = None
    tool_calls: list[dict[str, Any]] | None = None
    tokens: int | None = None
    cost: str | None = Field(default=None, description="null: the model has no known price")
    attempts: list[dict[str, Any]] | None = None
    tool_name: str | None = None
    arguments: dict[str, Any] | None = None
    result: Any = None


class RunDetail(RunOut):
    steps: list[StepOut]


class ThreadCreate(BaseModel):
    title: str = Field(default="New conversation", max_length=200)


class ThreadOut(BaseModel):
    id: str
    agent_id: str | None
    title: str
    created_at: datetime
    updated_at: datetime


class MessageOut(BaseModel):
    role: str = Field(description="user or assistant")
    content: str
    run_id: str
    status: str = Field(description="the status of the run the message belongs to")
    created_at: datetime


class ThreadDetail(ThreadOut):
    messages: list[MessageOut]


def _id(value: str, missing: str) -> uuid.UUID:
    """A path id; one that is not even a UUID is as absent as any other (404, not 422)."""
    try:
        return uuid.UUID(value)
    except ValueError:
        raise NotFound(missing) from None


def _run_id(value: str) -> uuid.UUID:
    return _id(value, "Run not found.")


def _agent_id(value: str) -> uuid.UUID:
    return _id(value, "Agent not found.")


def run_out(run: Execution) -> RunOut:
    return RunOut(
        id=str(run.id),
        agent_id=str(run.agent_id) if run.agent_id else None,
        agent_version_id=str(run.agent_version_id) if run.agent_version_id else None,
        thread_id=str(run.thread_id) if run.thread_id else None,
        status=run.status.value,
        message=str(run.input.get("message", "")),
        variables=dict(run.input.get("variables") or {}),
        output=run.output,
        error=run.error,
        tokens_used=run.tokens_used,
        cost=str(run.cost),
        budget_usd=str(run.budget_usd) if run.budget_usd is not None else None,
        latency_ms=run.latency_ms,
        created_at=run.created_at,
        started_at=run.started_at,
        finished_at=run.finished_at,
    )


def step_out(step: ExecutionStep) -> StepOut:
    event = step_event(step)
    event.pop("type")
    return StepOut.model_validate(event)


def _thread_out(thread: Thread) -> ThreadOut:
    return ThreadOut(
        id=str(thread.id),
        agent_id=str(thread.agent_id) if thread.agent_id else None,
        title=thread.title,
        created_at=thread.created_at,
        updated_at=thread.updated_at,
    )


@router.post(
    "/agents/{agent_id}/runs",
    response_model=RunOut,
    status_code=201,
    responses={400: documented("The Idempotency-Key header is empty, too long or not ASCII")},
)
def create_run(
    agent_id: str,
    body: RunCreate,
    session: RequestSession,
    actor: RunStarter,
    idempotency: Annotated[
        str | None,
        Header(
            alias="Idempotency-Key",
            description="The same key from the same organization returns the same run.",
        ),
    ] = None,
) -> RunOut:
    key = idempotency_key(idempotency)
    agent = _agent_id(agent_id)
    run = runs.start_run(
        session,
        actor,
        agent,
        message=body.message,
        variables=body.variables,
        thread_id=body.thread_id,
        idempotency_key=KEY_PREFIX + key if key else None,
        budget_usd=body.budget_usd,
    )
    if run.agent_id != agent:
        raise Conflict("This Idempotency-Key was already used to start a run of another agent.")
    same = (run.input.get("message"), run.input.get("variables") or {}, run.thread_id) == (
        body.message,
        body.variables,
        body.thread_id,
    )
    if not same:  # only a key's earlier run can differ from the request
        raise Conflict(
            "This Idempotency-Key was already used with another message, variables or "
            "conversation; use a new key for a new run."
        )
    return run_out(run)


@router.get("/runs", response_model=Page[RunOut])
def list_runs(
    session: RequestSession,
    actor: ApiActor,
    paging: Paging,
    agent_id: uuid.UUID | None = None,
    status: ExecutionStatus | None = None,
    since: Annotated[datetime | None, Query(description="created at or after")] = None,
    until: Annotated[datetime | None, Query(description="created before")] = None,
) -> Page[RunOut]:
    filters = runs.RunFilter(agent_id=agent_id, status=status, since=since, until=until)
    statement = keyset(
        runs.filtered_runs(actor, filters), Execution.created_at, Execution.id, paging
    )
    rows = list(session.exec(statement).all())
    return Page[RunOut](**paged([run_out(r) for r in rows], rows, paging))


@router.get("/runs/{run_id}", response_model=RunDetail)
def get_run(run_id: str, session: RequestSession, actor: ApiActor) -> RunDetail:
    run = runs.get_run(session, actor, _run_id(run_id))
    steps = [step_out(s) for s in runs.get_steps(session, actor, run.id)]
    return RunDetail(**run_out(run).model_dump(), steps=steps)


@router.post("/runs/{run_id}/cancel", response_model=RunOut)
def cancel_run(run_id: str, session: RequestSession, actor: RunActor) -> RunOut:
    """A queued run ends at once (`cancelled`); a running one stops at its next token or step,
    so it may still read `running` here: follow its events or read it again."""
    return run_out(runs.cancel_run(session, actor, _run_id(run_id)))


def _followed(run_id: str, session: RequestSession, actor: ApiActor) -> tuple[Actor, uuid.UUID]:
    """The run is looked up before the stream opens: another org's run is a plain 404, not an
    event stream that ends at once."""
    return actor, runs.get_run(session, actor, _run_id(run_id)).id


def sse(event: str, data: Any) -> str:
    return f"event: {event}\ndata: {json.dumps(data, default=str)}\n\n"


HEARTBEAT_SECONDS = 15.0


async def with_heartbeats(
    chunks: AsyncGenerator[str], every: float = HEARTBEAT_SECONDS
) -> AsyncIterator[str]:
    """`chunks`, plus an SSE comment whenever nothing went out for `every` seconds: proxies
    and load balancers close a connection that stays silent (a run in a long tool call), and
    SSE clients ignore comments."""
    pending: asyncio.Future[str] | None = None
    try:
        while True:
            if pending is None:
                pending = asyncio.ensure_future(anext(chunks))
            done, _ = await asyncio.wait({pending}, timeout=every)
            if not done:
                yield ": keep-alive\n\n"
                continue
            next_chunk, pending = pending, None
            try:
                chunk = next_chunk.result()
            except StopAsyncIteration:
                return
            yield chunk
    finally:
        if pending is not None:
            pending.cancel()
            with contextlib.suppress(Exception, asyncio.CancelledError):
                await pending
        await chunks.aclose()


async def _events(actor: Actor, run_id: uuid.UUID) -> AsyncGenerator[str]:
    async for event in follow(session_scope, actor, run_id):
        data = {k: v for k, v in event.items() if k != "type"}  # `follow` reads it after us
        yield sse("end" if event["type"] == "done" else event["type"], data)


@router.get(
    "/runs/{run_id}/events",
    response_class=StreamingResponse,
    responses={200: {"content": {"text/event-stream": {}}}},
)
def run_events(
    followed: Annotated[tuple[Actor, uuid.UUID], Depends(_followed)],
) -> StreamingResponse:
    """The run from its beginning: every finished `step`, the `token`s of the step in progress,
    `discard` when a fallback model takes over (drop the partial text), and one `end` with the
    run's status, output and error, after which the stream closes. A run that has already
    ended gives its steps and `end` at once."""
    actor, run_id = followed
    return StreamingResponse(
        with_heartbeats(_events(actor, run_id)),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )


@router.get("/agents/{agent_id}/threads", response_model=list[ThreadOut])
def list_threads(
    agent_id: str,
    session: RequestSession,
    actor: ApiActor,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> list[ThreadOut]:
    """The agent's conversations, most recently active first."""
    return [
        _thread_out(t) for t in runs.list_threads(session, actor, _agent_id(agent_id), limit=limit)
    ]


@router.post("/agents/{agent_id}/threads", response_model=ThreadOut, status_code=201)
def create_thread(
    agent_id: str, body: ThreadCreate, session: RequestSession, actor: RunActor
) -> ThreadOut:
    return _thread_out(runs.new_thread(session, actor, _agent_id(agent_id), title=body.title))


@router.get("/threads/{thread_id}", response_model=ThreadDetail)
def get_thread(thread_id: str, session: RequestSession, actor: ApiActor) -> ThreadDetail:
    """The conversation's messages in order: each run's message and, once it succeeded, its
    answer."""
    thread = run_reads.get_thread(session, actor, _id(thread_id, "Conversation not found."))
    messages: list[MessageOut] = []
    for run in runs.thread_runs(session, actor, thread.id):
        base = {"run_id": str(run.id), "status": run.status.value, "created_at": run.created_at}
        messages.append(MessageOut(role="user", content=str(run.input.get("message", "")), **base))
        answer = (run.output or {}).get("text")
        if run.status == ExecutionStatus.SUCCEEDED and isinstance(answer, str):
            messages.append(MessageOut(role="assistant", content=answer, **base))
    return ThreadDetail(**_thread_out(thread).model_dump(), messages=messages)
