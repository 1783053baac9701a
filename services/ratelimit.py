"""Login throttling in Redis: per account and per client, fixed windows.

Why Redis and not the DB: counters are hot, short-lived and shared by every web worker;
losing them on a Redis restart only resets the window.
"""

from __future__ import annotations

import math

from redis import Redis

from services.errors import RateLimited


class LoginLimiter:
    def __init__(self, redis: Redis, *, max_attempts: int, window_seconds: int) -> None:
        self.redis = redis
        self.max_attempts = max_attempts
        self.window = window_seconds

    def _keys(self, email: str, client: str | None) -> list[str]:
        keys = [f"ratelimit:login:account:{email}"]
        if client:
            keys.append(f"ratelimit:login:client:{client}")
        return keys

    def check(self, email: str, client: str | None) -> None:
        """Refuse before the password is even checked when either counter is exhausted."""
        keys = self._keys(email, client)
        counts = self.redis.mget(keys)
        for key, count in zip(keys, counts, strict=True):
            limit = self.max_attempts if ":account:" in key else self.max_attempts * 4
            if count is not None and int(count) >= limit:
                ttl = max(int(self.redis.ttl(key)), 1)
                minutes = math.ceil(ttl / 60)
                raise RateLimited(
                    f"Too many failed sign-in attempts. Try again in {minutes} minute"
                    f"{'s' if minutes != 1 else ''}."
                )

    def failed(self, email: str, client: str | None) -> None:
        pipe = self.redis.pipeline()
        for key in self._keys(email, client):
            # SET NX starts the window once (EXPIRE NX needs Redis 7; the bundled one is 6.2).
            pipe.set(key, 0, ex=self.window, nx=True)
            pipe.incr(key)
        pipe.execute()

    def succeeded(self, email: str) -> None:
        self.redis.delete(f"ratelimit:login:account:{email}")
