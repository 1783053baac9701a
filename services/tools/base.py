"""What a tool is: a name, a JSON-schema of its arguments, and an async `run`.

Why results are plain JSON dicts and failures are `ToolError`: the agent loop sends both back
to the model as the tool message, so a bad argument or a refused URL becomes something the
model can read and correct, never a crash of the run.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from decimal import Decimal
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from sqlmodel import Session

    from agent_platform.db import Transaction


class ToolError(Exception):
    """A failure the model should see (bad arguments, refused URL, HTTP error...)."""

    def __init__(self, message: str, *, outcome: str = "error") -> None:
        super().__init__(message)
        self.message = message
        # What the integration call log records ("error", or an approval's "denied"/"expired").
        self.outcome = outcome


@dataclass(frozen=True)
class ToolSpec:
    name: str
    description: str
    parameters: dict[str, Any]  # JSON schema of the arguments object

    def openai_schema(self) -> dict[str, Any]:
        return {
            "type": "function",
            "function": {
                "name": self.name,
                "description": self.description,
                "parameters": self.parameters,
            },
        }


# (child run id, depth) -> the child's final status value, or None when it did not run.
ChildRunner = Callable[[uuid.UUID, int], Awaitable[str | None]]


@dataclass
class ToolContext:
    """Where a call happens; tools scope everything they touch by `org_id`."""

    org_id: uuid.UUID
    agent_id: uuid.UUID | None = None
    run_id: uuid.UUID | None = None
    knowledge_collections: list[str] = field(default_factory=list)
    depth: int = 0  # how deep in agent-calls-agent this run is
    redis: Any = None  # the run's asyncio Redis client (for sub-agent runs' events)
    allow_hosts: tuple[str, ...] = ()  # the org's private hosts, added to the instance's
    run_child: ChildRunner | None = None  # the engine's inline runner, for sub-agent tools
    transaction: Transaction | None = None  # how the run's entry point opens a transaction
    # What is left of the run's budget, for a sub-agent run's own (None: the run has none).
    budget_left_usd: Decimal | None = None

    def begin(self) -> AbstractContextManager[Session]:
        """One transaction for a tool's database work (call it in a thread). Tools never open
        sessions themselves: the run's job wrapper hands its `Transaction` down through the
        engine, so it owns every commit (agent_platform/db.py says why)."""
        if self.transaction is None:
            raise ToolError("This tool needs the platform's database; it runs only inside a run.")
        return self.transaction()


class Tool(Protocol):
    spec: ToolSpec

    async def run(self, args: dict[str, Any], ctx: ToolContext) -> dict[str, Any]: ...
