"""Following a run from a page: catch up from the database, then the live Redis channel.

Order matters: subscribe first, then read the persisted steps and the partial text, so no
event falls between the catch-up and the live stream (a duplicate step is dropped by position).
"""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator
from typing import Any

from redis.asyncio import Redis as AsyncRedis

from agent_platform.db import session_scope
from agent_platform.models import ExecutionStep
from agent_platform.settings import get_settings
from services import runs
from services.access import Actor
from services.runtime.events import channel, partial_key


def step_event(step: ExecutionStep) -> dict[str, Any]:
    base: dict[str, Any] = {
        "type": "step",
        "position": step.position,
        "kind": step.kind,
        "latency_ms": step.latency_ms,
        "error": step.error,
    }
    if step.kind == "model":
        response = step.response or {}
        base.update(
            model=step.model,
            text=response.get("text", ""),
            tool_calls=response.get("tool_calls", []),
            tokens=step.tokens,
            cost=None if response.get("cost_unknown") else str(step.cost),  # None: unpriced
            attempts=response.get("attempts", []),
        )
    else:
        base.update(tool_name=step.tool_name, arguments=step.arguments, result=step.result)
    return base


def _snapshot(
    actor: Actor, run_id: uuid.UUID
) -> tuple[list[dict[str, Any]], dict[str, Any] | None]:
    with session_scope() as session:
        run = runs.get_run(session, actor, run_id)
        steps = [step_event(s) for s in runs.get_steps(session, actor, run_id)]
        done = None
        if run.status in runs.FINAL:
            done = {
                "type": "done",
                "status": run.status.value,
                "output": run.output,
                "error": run.error,
                "tokens": run.tokens_used,
                "cost": str(run.cost),
                "cost_unknown": any(e["kind"] == "model" and e["cost"] is None for e in steps),
            }
        return steps, done


async def follow(
    actor: Actor, run_id: uuid.UUID, *, idle_timeout: float = 600
) -> AsyncIterator[dict[str, Any]]:
    """Yield the run's events from the beginning until `done` (authorised by `actor`)."""
    redis = AsyncRedis.from_url(get_settings().resolved_redis_url)
    pubsub = redis.pubsub()
    try:
        await pubsub.subscribe(channel(run_id))
        steps, done = await asyncio.to_thread(_snapshot, actor, run_id)
        seen = set()
        for event in steps:
            seen.add(event["position"])
            yield event
        if done is not None:
            yield done
            return
        partial = await redis.get(partial_key(run_id))
        if partial:
            yield {"type": "token", "text": partial.decode()}
        loop = asyncio.get_running_loop()
        last_event = loop.time()
        while True:
            message = await pubsub.get_message(ignore_subscribe_messages=True, timeout=5)
            if message is None:
                # Quiet channel: the run may have ended while we were not listening.
                steps, done = await asyncio.to_thread(_snapshot, actor, run_id)
                if done is not None:
                    yield done
                    return
                if loop.time() - last_event > idle_timeout:
                    return
                continue
            last_event = loop.time()
            event = json.loads(message["data"])
            if event["type"] == "step" and event["position"] in seen:
                continue
            yield event
            if event["type"] == "done":
                return
    finally:
        await pubsub.aclose()
        await redis.aclose()
