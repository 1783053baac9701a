"""Throttling in Redis: exponential delays per key, checked and counted in one atomic step.

Why delays and not a lock: a hard lock on an account lets anyone lock its owner out by
guessing wrong on purpose. Sign-in attempts are counted per (account, client) pair and per
client; after a few free attempts each further attempt has to wait twice as long as the one
before, so guessing gets slow while the owner, on another client, is never held up.

Why one Lua script: a separate "read the count, then write the attempt" lets many parallel
requests all pass the read; the script refuses or counts in one step, for every key at once.

Why Redis and not the DB: counters are hot, short-lived and shared by every web worker;
losing them on a Redis restart only forgets recent failures.
"""

from __future__ import annotations

import hashlib
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from redis import Redis

from agent_platform.settings import Settings
from services.errors import RateLimited

# KEYS: the counters. ARGV: now (ms), forget (s), then per key: free attempts, base (ms), max (ms).
# A counter is a hash: n = attempts counted, until = the first moment (ms) the next is allowed.
_ACQUIRE = """
local now = tonumber(ARGV[1])
local forget = tonumber(ARGV[2])
local wait = 0
for i, key in ipairs(KEYS) do
  local allowed = tonumber(redis.call('HGET', key, 'until') or '0')
  if allowed - now > wait then wait = allowed - now end
end
if wait > 0 then return wait end
for i, key in ipairs(KEYS) do
  local free = tonumber(ARGV[3 * i])
  local base = tonumber(ARGV[3 * i + 1])
  local cap = tonumber(ARGV[3 * i + 2])
  local n = redis.call('HINCRBY', key, 'n', 1)
  if n >= free then
    local delay = math.min(base * 2 ^ (n - free), cap)
    redis.call('HSET', key, 'until', math.floor(now + delay))
  end
  redis.call('EXPIRE', key, forget)
end
return 0
"""

# KEYS[1]: a counter to give one attempt back to; ARGV[1]: its free attempts.
_REFUND = """
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
local n = redis.call('HINCRBY', KEYS[1], 'n', -1)
if n < 0 then redis.call('HSET', KEYS[1], 'n', 0) n = 0 end
if n < tonumber(ARGV[1]) then redis.call('HDEL', KEYS[1], 'until') end
return n
"""


@dataclass(frozen=True)
class DelayPolicy:
    """`free` attempts without waiting; then base, 2·base, 4·base … up to `max_seconds`."""

    free: int
    base_seconds: float
    max_seconds: float

    def delay_after(self, attempts: int) -> float:
        """Seconds to wait after `attempts` counted attempts (the same rule as the script)."""
        if attempts < self.free:
            return 0.0
        return min(self.base_seconds * 2.0 ** (attempts - self.free), self.max_seconds)


class Throttled(RateLimited):
    """Refused for now; `retry_after` says how many seconds until the next attempt may run."""

    def __init__(self, message: str, *, retry_after: float) -> None:
        super().__init__(message)
        self.retry_after = retry_after


def _wait_words(seconds: float) -> str:
    if seconds < 60:
        whole = max(math.ceil(seconds), 1)
        return f"{whole} second{'s' if whole != 1 else ''}"
    minutes = math.ceil(seconds / 60)
    return f"{minutes} minute{'s' if minutes != 1 else ''}"


class Throttle:
    """Atomic exponential-delay counters in Redis, one per key."""

    def __init__(
        self, redis: Redis, *, forget_seconds: int, clock: Callable[[], float] = time.time
    ) -> None:
        self.redis = redis
        self.forget_seconds = forget_seconds
        self.clock = clock
        self._acquire = redis.register_script(_ACQUIRE)
        self._refund = redis.register_script(_REFUND)

    def acquire(self, keys: Sequence[tuple[str, DelayPolicy]], *, what: str) -> None:
        """Count one attempt on every key, or raise `Throttled` (counting nothing) if any of
        them is still waiting. `what` words the refusal ("failed sign-in attempts")."""
        args: list[float | int] = [int(self.clock() * 1000), self.forget_seconds]
        for _, policy in keys:
            args += [policy.free, int(policy.base_seconds * 1000), int(policy.max_seconds * 1000)]
        wait_ms = int(self._acquire(keys=[k for k, _ in keys], args=args))
        if wait_ms > 0:
            wait = wait_ms / 1000
            raise Throttled(f"Too many {what}. Try again in {_wait_words(wait)}.", retry_after=wait)

    def refund(self, key: str, policy: DelayPolicy) -> None:
        """Give back the attempt `acquire` counted (it turned out to be a good one)."""
        self._refund(keys=[key], args=[policy.free])

    def reset(self, key: str) -> None:
        self.redis.delete(key)


def _digest(value: str) -> str:
    """Keys hold a digest, not the address: Redis needs no list of emails tried."""
    return hashlib.sha256(value.encode()).hexdigest()[:32]


class LoginLimiter:
    """Sign-in (and sign-up) throttling per (account, client) pair and per client.

    `attempt` counts before the password is checked, so parallel guesses cannot slip past;
    `succeeded` clears the pair (the owner proved who they are) and gives the client back the
    attempt, so good sign-ins never slow a shared address down.
    """

    def __init__(
        self,
        redis: Redis,
        *,
        pair: DelayPolicy,
        client: DelayPolicy,
        forget_seconds: int = 86_400,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.throttle = Throttle(redis, forget_seconds=forget_seconds, clock=clock)
        self.pair = pair
        self.client = client

    @classmethod
    def from_settings(cls, redis: Redis, settings: Settings) -> LoginLimiter:
        base, cap = settings.login_base_delay_seconds, settings.login_max_delay_seconds
        return cls(
            redis,
            pair=DelayPolicy(settings.login_free_attempts, base, cap),
            client=DelayPolicy(settings.login_client_free_attempts, base, cap),
            forget_seconds=settings.login_forget_seconds,
        )

    def _pair_key(self, email: str, client: str | None) -> str:
        return f"ratelimit:login:pair:{_digest(email + '|' + (client or '-'))}"

    def _client_key(self, client: str | None) -> str:
        return f"ratelimit:login:client:{_digest(client or '-')}"

    def attempt(self, email: str, client: str | None) -> None:
        """Count this attempt, or raise `Throttled` when the pair or the client must wait."""
        self.throttle.acquire(
            [(self._pair_key(email, client), self.pair), (self._client_key(client), self.client)],
            what="failed sign-in attempts",
        )

    def succeeded(self, email: str, client: str | None) -> None:
        self.throttle.reset(self._pair_key(email, client))
        self.throttle.refund(self._client_key(client), self.client)
