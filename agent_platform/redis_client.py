"""The process's Redis connection (queue, cache, rate limits); Redis may lose data, the DB not."""

from __future__ import annotations

import functools

from redis import Redis
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from agent_platform.settings import get_settings

# What a Redis outage raises (a refused or dropped connection, a read that never came back).
REDIS_DOWN = (RedisConnectionError, RedisTimeoutError)


@functools.cache
def get_redis() -> Redis:
    return Redis.from_url(
        get_settings().resolved_redis_url, socket_connect_timeout=2, socket_timeout=5
    )
