"""The dashboard's cache of closed buckets: what one bucket adds up to, kept in Redis.

Why a cache at all (services/dashboard.py has the figures): a bucket that has ended, and whose
runs have all ended, never changes again, so a live refresh need not read its runs twice.
Redis may lose any of it: a missing or unreadable entry is simply computed again.
"""

from __future__ import annotations

import logging
from datetime import timedelta
from decimal import Decimal
from typing import cast

from pydantic import BaseModel, ValidationError
from redis import RedisError

from agent_platform.models import ExecutionStatus
from agent_platform.redis_client import get_redis

logger = logging.getLogger(__name__)

HOUR, DAY = 3600, 86400
ACTIVE = (ExecutionStatus.QUEUED, ExecutionStatus.RUNNING)
# As long as a bucket can be read: an hour for a day (24 h view, today), a day for 30 days.
CACHE_TTL = {HOUR: timedelta(hours=26), DAY: timedelta(days=31)}


class Slice(BaseModel):
    """The additive figures of one bucket's runs: what the cache stores, what totals sum."""

    counts: dict[str, int] = {}
    tokens: int = 0
    cost: Decimal = Decimal(0)
    agents: dict[str, tuple[int, Decimal]] = {}  # agent id ("" = deleted) → (runs, cost)
    # model ref → (calls, tokens, cost, failed attempts, unpriced calls); calls include the
    # failed attempts, and unpriced calls stored a cost of 0 that is really unknown
    models: dict[str, tuple[int, int, Decimal, int, int]] = {}

    def settled(self) -> bool:
        return not any(self.counts.get(s.value) for s in ACTIVE)


def add(total: Slice, part: Slice) -> None:
    for status, count in part.counts.items():
        total.counts[status] = total.counts.get(status, 0) + count
    total.tokens += part.tokens
    total.cost += part.cost
    for agent, (runs, cost) in part.agents.items():
        seen = total.agents.get(agent, (0, Decimal(0)))
        total.agents[agent] = (seen[0] + runs, seen[1] + cost)
    for model, figures in part.models.items():
        total.models[model] = add_usage(total.models.get(model), figures)


def add_usage(
    seen: tuple[int, int, Decimal, int, int] | None, more: tuple[int, int, Decimal, int, int]
) -> tuple[int, int, Decimal, int, int]:
    """One model's (calls, tokens, cost, failed, unpriced) plus another's."""
    if seen is None:
        return more
    calls, tokens, cost, failed, unpriced = seen
    return (
        calls + more[0],
        tokens + more[1],
        cost + more[2],
        failed + more[3],
        unpriced + more[4],
    )


def cache_get(keys: dict[int, str]) -> dict[int, Slice]:
    if not keys:
        return {}
    try:
        # redis-py types its sync and async clients alike (Awaitable | Any); ours is sync.
        values = cast("list[bytes | None]", get_redis().mget(list(keys.values())))
    except RedisError:
        logger.warning("dashboard cache unavailable; computing every bucket", exc_info=True)
        return {}
    found = {}
    for index, raw in zip(keys, values, strict=True):
        if raw is not None:
            try:
                found[index] = Slice.model_validate_json(raw)
            except ValidationError:  # an older format: recompute it
                continue
    return found


def cache_set(entries: dict[str, Slice], ttl: timedelta) -> None:
    if not entries:
        return
    try:
        pipe = get_redis().pipeline(transaction=False)
        for key, part in entries.items():
            pipe.set(key, part.model_dump_json(), ex=ttl)
        pipe.execute()
    except RedisError:
        logger.warning("could not cache dashboard buckets", exc_info=True)
