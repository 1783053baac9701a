"""An OpenAI-compatible endpoint (/api/v1/openai): any OpenAI client talks to an agent.

    POST /openai/chat/completions   `model` is an agent (its id, name or name's slug); the
                                    last user message is the run's input, earlier turns its
                                    conversation; `stream: true` answers chat.completion.chunk
                                    events ending in `data: [DONE]`
    GET  /openai/models             the organization's runnable agents as models
    GET  /openai/models/{model}     one of them

The API key is the client's `api_key`; `base_url` is `<site>/api/v1/openai`. A run starts per
request (its id is in the `X-Run-Id` header and in the completion's id) and is followed with
the same `services.runtime.follow` as the run pages. Variables of the agent's instructions go
in the request's `variables` (the OpenAI SDK's `extra_body`). Rules: services/openai_chat.py.

A stream carries the text of every model call of the run as it comes. When a model breaks off
mid-answer and a fallback model answers instead (a `discard` on the run's own event stream),
the words already sent cannot be taken back in OpenAI's format: the non-streaming answer, and
the run itself, hold the clean text.

The run is enqueued once the request's transaction commits, which is when the handler has
returned; so the answer is produced by the response itself (a stream, or a response that
waits for the run's end), not inside the handler.
"""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections.abc import AsyncGenerator, Awaitable, Callable, Coroutine
from dataclasses import dataclass
from typing import Any

from fastapi import APIRouter, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response, StreamingResponse
from fastapi.routing import APIRoute
from pydantic import BaseModel, ConfigDict, Field
from starlette.types import Receive, Scope, Send

from agent_platform.db import session_scope
from services import openai_chat, runs
from services.access import Actor
from services.errors import DomainError, Invalid
from services.openai_chat import ChatMessage, Usage
from services.runtime.follow import follow

from .errors import PROBLEM_JSON, problem
from .runs import with_heartbeats
from .v1 import ApiActor, RequestSession, RunStarter


def openai_error(response: Response) -> Response:
    """The API's problem details plus OpenAI's `error` object (an extension member): the
    OpenAI SDKs show `error.message`, so a refusal reaches the person in our words."""
    problem_body = json.loads(bytes(response.body))
    problem_body["error"] = {
        "message": problem_body.get("detail", ""),
        "type": str(problem_body.get("type", "")).rsplit(":", 1)[-1],
        "code": problem_body.get("status"),
    }
    headers = {k: v for k, v in response.headers.items() if k.lower() != "content-length"}
    return JSONResponse(
        problem_body, status_code=response.status_code, headers=headers, media_type=PROBLEM_JSON
    )


class OpenAIRoute(APIRoute):
    """Errors of these routes (the key check and the body's parsing included) answer what
    api/errors.py answers for them, with `openai_error`'s member added."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def route(request: Request) -> Response:
            try:
                return await handler(request)
            except (DomainError, RequestValidationError) as exc:
                for kind in type(exc).__mro__:
                    central = request.app.exception_handlers.get(kind)
                    if central is not None:
                        return openai_error(await central(request, exc))
                raise

        return route


router = APIRouter(prefix="/api/v1/openai", tags=["openai"], route_class=OpenAIRoute)


class StreamOptions(BaseModel):
    include_usage: bool = False


class ChatRequest(BaseModel):
    """OpenAI's request body; sampling options are the agent's own and are ignored here."""

    model_config = ConfigDict(extra="allow")

    model: str = Field(description="The agent: its id, its name or its name's slug.")
    messages: list[ChatMessage] = Field(min_length=1)
    stream: bool = False
    stream_options: StreamOptions | None = None
    n: int | None = None
    tools: list[Any] | None = None
    variables: dict[str, str] = Field(
        default_factory=dict, description="Values for the {{variables}} of the instructions."
    )


class ModelOut(BaseModel):
    id: str
    object: str = "model"
    created: int
    owned_by: str = "organization"
    name: str
    agent_id: str
    description: str


class ModelList(BaseModel):
    object: str = "list"
    data: list[ModelOut]


class CompletionMessage(BaseModel):
    role: str = "assistant"
    content: str


class Choice(BaseModel):
    index: int = 0
    message: CompletionMessage
    finish_reason: str = "stop"
    logprobs: None = None


class UsageOut(BaseModel):
    prompt_tokens: int
    completion_tokens: int
    total_tokens: int


class ChatCompletion(BaseModel):
    id: str
    object: str = "chat.completion"
    created: int
    model: str
    choices: list[Choice]
    usage: UsageOut


@dataclass(frozen=True)
class Started:
    """The run a request started, and what every chunk of its answer repeats."""

    actor: Actor
    run_id: uuid.UUID
    completion_id: str
    created: int
    model: str


def _usage(started: Started) -> UsageOut:
    with session_scope() as session:
        usage: Usage = openai_chat.usage_of(session, started.actor, started.run_id)
    return UsageOut(
        prompt_tokens=usage.prompt_tokens,
        completion_tokens=usage.completion_tokens,
        total_tokens=usage.total_tokens,
    )


async def _end_of(started: Started) -> dict[str, Any] | None:
    """The run's `done` event (None: nothing came for the follower's idle timeout)."""
    async for event in follow(session_scope, started.actor, started.run_id):
        if event["type"] == "done":
            return event
    return None


def _failure(started: Started, end: dict[str, Any] | None) -> str | None:
    """Why the run gave no answer, in words; None when it succeeded."""
    if end is None:
        return f"The agent's run {started.run_id} did not finish in time; read it later."
    if end["status"] == "succeeded":
        return None
    reason = end.get("error") or end["status"]
    return f"The agent's run {started.run_id} ended {end['status']}: {reason}"


def _answer(end: dict[str, Any]) -> str:
    output = end.get("output") or {}
    return str(output.get("text", ""))


class WaitingResponse(Response):
    """A response made once `make` has waited for it: the handler has returned by then, so
    its transaction is committed and the run it started is on the queue."""

    def __init__(self, make: Callable[[], Awaitable[Response]], headers: dict[str, str]) -> None:
        super().__init__(headers=headers)
        self.make = make
        self.extra = headers

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        response = await self.make()
        response.headers.update(self.extra)
        await response(scope, receive, send)


async def _completion(started: Started) -> Response:
    end = await _end_of(started)
    failure = _failure(started, end)
    if end is None or failure is not None:
        # Not a 5xx: OpenAI clients retry those, and each retry would start another run.
        return openai_error(problem(422, failure or "The run gave no answer."))
    usage = await asyncio.to_thread(_usage, started)
    body = ChatCompletion(
        id=started.completion_id,
        created=started.created,
        model=started.model,
        choices=[Choice(message=CompletionMessage(content=_answer(end)))],
        usage=usage,
    )
    return JSONResponse(body.model_dump(mode="json"))


def _chunk(started: Started, delta: dict[str, Any], finish_reason: str | None = None) -> str:
    body = {
        "id": started.completion_id,
        "object": "chat.completion.chunk",
        "created": started.created,
        "model": started.model,
        "choices": [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish_reason}],
    }
    return f"data: {json.dumps(body)}\n\n"


async def _chunks(started: Started, include_usage: bool) -> AsyncGenerator[str]:
    """OpenAI's stream: a role chunk, a chunk per token piece, a finish chunk, the usage chunk
    when asked for, `[DONE]`. A run that fails ends with an `error` object instead (the OpenAI
    SDKs raise it), since the 200 has already gone out."""
    yield _chunk(started, {"role": "assistant", "content": ""})
    end: dict[str, Any] | None = None
    async for event in follow(session_scope, started.actor, started.run_id):
        if event["type"] == "token" and event["text"]:
            yield _chunk(started, {"content": event["text"]})
        elif event["type"] == "done":
            end = event
    failure = _failure(started, end)
    if failure is not None:
        yield f"data: {json.dumps({'error': {'message': failure, 'type': 'run_failed'}})}\n\n"
        return
    yield _chunk(started, {}, finish_reason="stop")
    if include_usage:
        usage = await asyncio.to_thread(_usage, started)
        body = {
            "id": started.completion_id,
            "object": "chat.completion.chunk",
            "created": started.created,
            "model": started.model,
            "choices": [],
            "usage": usage.model_dump(),
        }
        yield f"data: {json.dumps(body)}\n\n"
    yield "data: [DONE]\n\n"


@router.post(
    "/chat/completions",
    response_class=JSONResponse,
    responses={
        200: {
            "model": ChatCompletion,
            "content": {"text/event-stream": {}},
            "description": "A chat.completion, or with `stream` chat.completion.chunk events",
        }
    },
)
def chat_completions(body: ChatRequest, session: RequestSession, actor: RunStarter) -> Response:
    if body.n not in (None, 1):
        raise Invalid(
            "Only one choice per request: leave n out or set it to 1.", fields={"n": ">1"}
        )
    if body.tools:
        raise Invalid(
            "The agent calls its own tools; send the request without `tools`.",
            fields={"tools": "not supported"},
        )
    agent = openai_chat.find_agent(session, actor, body.model)
    given = openai_chat.chat_input(body.messages)
    run = runs.start_run(
        session,
        actor,
        agent.id,
        message=given.message,
        variables=body.variables,
        conversation=given.conversation,
    )
    started = Started(
        actor=actor,
        run_id=run.id,
        completion_id=f"chatcmpl-{run.id.hex}",
        created=int(run.created_at.timestamp()) if run.created_at else int(time.time()),
        model=body.model,
    )
    headers = {"X-Run-Id": str(run.id)}
    if body.stream:
        include_usage = bool(body.stream_options and body.stream_options.include_usage)
        return StreamingResponse(
            with_heartbeats(_chunks(started, include_usage)),
            media_type="text/event-stream",
            headers={**headers, "Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
        )
    return WaitingResponse(lambda: _completion(started), headers)


def _model_out(model: openai_chat.AgentModel) -> ModelOut:
    agent = model.agent
    return ModelOut(
        id=model.id,
        created=int(agent.created_at.timestamp()),
        name=agent.name,
        agent_id=str(agent.id),
        description=agent.description,
    )


@router.get("/models", response_model=ModelList)
def list_models(session: RequestSession, actor: ApiActor) -> ModelList:
    return ModelList(data=[_model_out(m) for m in openai_chat.list_models(session, actor)])


@router.get("/models/{model}", response_model=ModelOut)
def get_model(model: str, session: RequestSession, actor: ApiActor) -> ModelOut:
    agent = openai_chat.find_agent(session, actor, model)
    listed = {m.agent.id: m for m in openai_chat.list_models(session, actor)}
    if agent.id not in listed:
        raise Invalid("This agent cannot run (archived, or no saved version).")
    return _model_out(listed[agent.id])
