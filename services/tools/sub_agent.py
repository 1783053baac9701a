"""Another agent of the same organization, offered to the model as a tool.

The sub-run is a real run (its own execution row and steps, visible on the runs page) executed
inline by the same worker, so it never waits for a free queue slot behind its parent. Depth is
capped: an agent that hands off to itself, directly or in a loop, stops with a clear error.

Spend: no hand-off once the organization's monthly spend cap is reached, and the sub-run's
budget is what is left of its parent's (the parent's reservation against the cap covers it;
the engine charges its cost to the parent), so a $1 run cannot delegate more than $1.
"""

from __future__ import annotations

import asyncio
import re
import uuid
from typing import Any

from agent_platform.models import Agent, Execution
from services import spend
from services.errors import Invalid
from services.tools.base import ToolContext, ToolError, ToolSpec

MAX_DEPTH = 3


def tool_name(agent_name: str, agent_id: str) -> str:
    slug = re.sub(r"[^a-z0-9]+", "_", agent_name.lower()).strip("_")[:40] or "agent"
    return f"ask_{slug}_{agent_id.replace('-', '')[:6]}"


class SubAgent:
    def __init__(self, agent_id: str, name: str, description: str = "") -> None:
        self.agent_id = agent_id
        self.spec = ToolSpec(
            name=tool_name(name, agent_id),
            description=f"Hand a task to the agent '{name}'. {description}".strip(),
            parameters={
                "type": "object",
                "properties": {
                    "message": {"type": "string", "description": "The task or question"}
                },
                "required": ["message"],
            },
        )

    async def run(self, args: dict[str, Any], ctx: ToolContext) -> dict[str, Any]:
        message = str(args.get("message", "")).strip()
        if not message:
            raise ToolError("message is required")
        if ctx.depth + 1 >= MAX_DEPTH:
            raise ToolError(f"Agents may hand off at most {MAX_DEPTH - 1} levels deep (a loop?).")
        if ctx.run_child is None:
            raise ToolError("Sub-agents are not available here.")
        child_id = await asyncio.to_thread(self._create_run, ctx, message)
        status = await ctx.run_child(child_id, ctx.depth + 1)
        output, error = await asyncio.to_thread(self._outcome, ctx, child_id)
        if status is None or error:
            raise ToolError(f"The agent failed: {error or 'it did not run'}")
        return {"answer": (output or {}).get("text", ""), "run_id": str(child_id)}

    def _create_run(self, ctx: ToolContext, message: str) -> uuid.UUID:
        budget = ctx.budget_left_usd
        if budget is not None and budget <= 0:
            raise ToolError(
                "This run's budget is spent (or held by the hand-offs running now), so it "
                "cannot hand off more work; answer with what you have."
            )
        with ctx.begin() as session:
            agent = session.get(Agent, uuid.UUID(self.agent_id))
            if agent is None or agent.org_id != ctx.org_id or agent.current_version_id is None:
                raise ToolError("That agent no longer exists.")
            try:
                spend.refuse_when_cap_reached(session, ctx.org_id)
            except Invalid as exc:
                raise ToolError(exc.message) from None
            run = Execution(
                org_id=ctx.org_id,
                agent_id=agent.id,
                agent_version_id=agent.current_version_id,
                input={"message": message, "variables": {}, "parent_run_id": str(ctx.run_id)},
                budget_usd=budget,
            )
            session.add(run)
            session.flush()
            return run.id

    def _outcome(
        self, ctx: ToolContext, run_id: uuid.UUID
    ) -> tuple[dict[str, Any] | None, str | None]:
        with ctx.begin() as session:
            run = session.get(Execution, run_id)
            return (run.output, run.error) if run else (None, "missing")
