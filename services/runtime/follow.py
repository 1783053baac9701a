"""Following a run from a page: catch up from the database, then the live Redis channel.

Order matters: subscribe first, then read the persisted steps and the partial text, so no
event falls between the catch-up and the live stream (a duplicate step is dropped by position).
Each catch-up read is its own short transaction, opened in a thread through the caller's
`Transaction`: following a run may last minutes, and no transaction stays open that long.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import uuid
from collections.abc import AsyncIterator
from typing import Any

from redis.asyncio import Redis as AsyncRedis

from agent_platform.db import Transaction
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
    transaction: Transaction, actor: Actor, run_id: uuid.UUID
) -> tuple[list[dict[str, Any]], dict[str, Any] | None]:
    with transaction() as session:
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
    transaction: Transaction, actor: Actor, run_id: uuid.UUID, *, idle_timeout: float = 600
) -> AsyncIterator[dict[str, Any]]:
    """Yield the run's events from the beginning until `done` (authorised by `actor`)."""
    redis = AsyncRedis.from_url(get_settings().resolved_redis_url)
    pubsub = redis.pubsub()
    try:
        await pubsub.subscribe(channel(run_id))
        steps, done = await asyncio.to_thread(_snapshot, transaction, actor, run_id)
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
                steps, done = await asyncio.to_thread(_snapshot, transaction, actor, run_id)
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


# Each piece sent to a browser costs ~130 bytes of framing (a Reflex event in a Socket.IO
# message) whatever it carries, so a frame per 6-character chunk sends 20 times the text. A
# piece goes out once FULL characters have gathered, or ENOUGH after MAX_WAIT seconds, or
# whatever there is after PATIENCE seconds: framing stays under half the text for any stream
# faster than ENOUGH characters per PATIENCE seconds (100 characters a second), and the text
# never waits longer than that. The browser types each piece out (pages/live_log.jsx).
FULL = 400
ENOUGH = 300
MAX_WAIT = 1.0
PATIENCE = 3.0


async def batch_tokens(
    events: AsyncIterator[dict[str, Any]],
    *,
    full: int = FULL,
    enough: int = ENOUGH,
    max_wait: float = MAX_WAIT,
    patience: float = PATIENCE,
) -> AsyncIterator[dict[str, Any]]:
    """`events` with consecutive `token` events merged, for a browser that pays per frame.

    The first token after the start, a step or a discard goes at once (the person sees the
    answer begin); after that, see FULL/ENOUGH/MAX_WAIT/PATIENCE above. Every other event
    flushes what is buffered before it, except `discard`, which drops it (the browser would
    drop it too). Nothing is lost or reordered.
    """
    loop = asyncio.get_running_loop()
    source = aiter(events)
    buffered = ""
    sent_at: float | None = None  # when the last piece went out; None: next token goes at once
    pending: asyncio.Future[dict[str, Any]] | None = None

    def due() -> float | None:
        """Seconds until the buffer must go out (None: not before more text arrives)."""
        if not buffered or sent_at is None:
            return None
        wait = max_wait if len(buffered) >= enough else patience
        return max(sent_at + wait - loop.time(), 0)

    try:
        while True:
            if pending is None:
                pending = asyncio.ensure_future(anext(source))
            done, _ = await asyncio.wait({pending}, timeout=due())
            if not done:  # waited long enough: send what there is
                yield {"type": "token", "text": buffered}
                buffered, sent_at = "", loop.time()
                continue
            try:
                event = pending.result()
            except StopAsyncIteration:
                break
            finally:
                pending = None
            if event["type"] == "token":
                buffered += event["text"]
                if sent_at is None or len(buffered) >= full or due() == 0:
                    yield {"type": "token", "text": buffered}
                    buffered, sent_at = "", loop.time()
                continue
            if buffered and event["type"] != "discard":
                yield {"type": "token", "text": buffered}
            buffered, sent_at = "", None
            yield event
        if buffered:
            yield {"type": "token", "text": buffered}
    finally:
        if pending is not None:
            pending.cancel()
            with contextlib.suppress(Exception, asyncio.CancelledError):
                await pending
        aclose = getattr(source, "aclose", None)
        if aclose is not None:
            with contextlib.suppress(RuntimeError):
                await aclose()
