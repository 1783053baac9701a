"""Live events of a run on Redis: `events:run:{id}` (pub/sub) plus the current partial text.

Why the partial text is also kept in a key: a page opened mid-step subscribes after some
tokens were published; it reads the persisted steps, then this key, then follows the channel.
Redis may lose these; the database keeps every finished step.
"""

from __future__ import annotations

import json
import time
import uuid
from typing import Any

PARTIAL_TTL = 3600


def channel(run_id: uuid.UUID | str) -> str:
    return f"events:run:{run_id}"


def partial_key(run_id: uuid.UUID | str) -> str:
    return f"run:{run_id}:partial"


def cancel_key(run_id: uuid.UUID | str) -> str:
    return f"run:{run_id}:cancel"


def encode(event_type: str, /, **data: Any) -> str:
    return json.dumps({"type": event_type, **data}, default=str)


class RunEvents:
    """Publishes one run's events through an asyncio Redis client, batching tokens."""

    def __init__(self, redis: Any, run_id: uuid.UUID) -> None:
        self.redis = redis
        self.run_id = run_id
        self.channel = channel(run_id)
        self._buffer: list[str] = []
        self._last_flush = time.monotonic()

    async def emit(self, event_type: str, /, *, reset_partial: bool = False, **data: Any) -> None:
        """Publish an event, after any buffered tokens, in one round trip."""
        pipe = self.redis.pipeline(transaction=False)
        self._flush_into(pipe)
        if reset_partial:
            pipe.delete(partial_key(self.run_id))
        pipe.publish(self.channel, encode(event_type, **data))
        await pipe.execute()

    async def token(self, text: str) -> None:
        """Buffer tokens; send about every 50 ms (a frame per token would flood the browser)."""
        self._buffer.append(text)
        if time.monotonic() - self._last_flush >= 0.05:
            await self.flush()

    def _flush_into(self, pipe: Any) -> None:
        if not self._buffer:
            return
        text = "".join(self._buffer)
        self._buffer.clear()
        self._last_flush = time.monotonic()
        pipe.append(partial_key(self.run_id), text)
        pipe.expire(partial_key(self.run_id), PARTIAL_TTL)
        pipe.publish(self.channel, encode("token", text=text))

    async def flush(self) -> None:
        if not self._buffer:
            return
        pipe = self.redis.pipeline(transaction=False)
        self._flush_into(pipe)
        await pipe.execute()

    async def reset_partial(self) -> None:
        self._buffer.clear()
        await self.redis.delete(partial_key(self.run_id))

    async def cancel_requested(self) -> bool:
        return bool(await self.redis.exists(cancel_key(self.run_id)))
