"""The API's objects as typed models. Fields the server adds later are kept (extra="allow"),
so an older SDK keeps working against a newer server."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Generic, Literal, TypeVar

from pydantic import BaseModel, ConfigDict

T = TypeVar("T")


class Model(BaseModel):
    model_config = ConfigDict(extra="allow")


class Page(Model, Generic[T]):
    """One page of a list; `next_cursor` is None on the last one."""

    data: list[T]
    next_cursor: str | None = None


class AgentInfo(Model):
    """An agent as lists show it."""

    id: str
    name: str
    description: str = ""
    status: str
    model: str = ""
    created_at: datetime
    updated_at: datetime
    archived_at: datetime | None = None


class AgentDetail(AgentInfo):
    """An agent with its current config (`new_version` is set by saves: None = unchanged)."""

    config: dict[str, Any] = {}
    current_version: int | None = None
    new_version: int | None = None


class Version(Model):
    version: int
    created_at: datetime
    model: str = ""
    current: bool = False
    config: dict[str, Any] | None = None


class Step(Model):
    """One step of a run: a model answer (`text`, `tool_calls`) or a tool call."""

    position: int
    kind: str
    latency_ms: int | None = None
    error: str | None = None
    model: str | None = None
    text: str | None = None
    tool_calls: list[dict[str, Any]] | None = None
    tokens: int | None = None
    cost: str | None = None
    tool_name: str | None = None
    arguments: dict[str, Any] | None = None
    result: Any = None


FINAL_STATUSES = frozenset({"succeeded", "failed", "cancelled", "timed_out"})


class Run(Model):
    id: str
    agent_id: str | None = None
    agent_version_id: str | None = None
    thread_id: str | None = None
    status: str
    message: str = ""
    variables: dict[str, str] = {}
    output: dict[str, Any] | None = None
    error: str | None = None
    tokens_used: int = 0
    cost: str = "0"
    latency_ms: int | None = None
    created_at: datetime
    started_at: datetime | None = None
    finished_at: datetime | None = None

    @property
    def finished(self) -> bool:
        return self.status in FINAL_STATUSES

    @property
    def text(self) -> str | None:
        """The answer's text, once the run succeeded."""
        value = (self.output or {}).get("text")
        return value if isinstance(value, str) else None


class RunDetail(Run):
    steps: list[Step] = []


class Token(Model):
    access_token: str
    expires_in: int
    expires_at: datetime
    scopes: list[str] = []


# Events of GET /runs/{id}/events, in the order a run makes them.


class TokenEvent(Model):
    """A piece of the answer being written (the step in progress)."""

    type: Literal["token"] = "token"
    text: str


class StepEvent(Model):
    """A finished step."""

    type: Literal["step"] = "step"
    step: Step


class DiscardEvent(Model):
    """A fallback model takes over: drop the text streamed so far for this step."""

    type: Literal["discard"] = "discard"
    model: str | None = None
    reason: str | None = None


class EndEvent(Model):
    """The run ended; the stream closes after it."""

    type: Literal["end"] = "end"
    status: str
    output: dict[str, Any] | None = None
    error: str | None = None
    tokens: int | None = None
    cost: str | None = None

    @property
    def text(self) -> str | None:
        value = (self.output or {}).get("text")
        return value if isinstance(value, str) else None


RunEvent = TokenEvent | StepEvent | DiscardEvent | EndEvent
