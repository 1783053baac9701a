"""The platform's one limiter: every limit is checked and counted in Redis in one atomic step.

What lives where:
- sign-in attempts: exponential delays per (account, client) and per client (`LoginLimiter`);
- calls per minute on an integration connection: a fixed window (`take_in_window`);
- runs a month per organization: a counter seeded from the database (`Quota`);
- runs at once per organization: RQ 3's own `RateLimit` on the job (services/queue.py), which
  keeps runs over the cap in Redis (its rate_limited set) until a slot frees, never in a
  worker's memory.

Throttling in Redis: exponential delays per key, checked and counted in one atomic step.

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
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime

from redis import Redis
from redis.asyncio import Redis as AsyncRedis

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


# KEYS[1]: a counter. ARGV: limit, seed (-1: not counted yet), idle seconds.
# Returns {1, n}: taken, n counted now; {0, n}: refused at n; {-1, 0}: no counter yet (the
# caller counts in the database and calls again with that count as the seed).
_TAKE = """
local n = redis.call('GET', KEYS[1])
local fresh = not n
if fresh then
  if tonumber(ARGV[2]) < 0 then return {-1, 0} end
  n = ARGV[2]
end
n = tonumber(n)
if n >= tonumber(ARGV[1]) then
  if fresh then redis.call('SET', KEYS[1], n, 'EX', ARGV[3]) end
  return {0, n}
end
redis.call('SET', KEYS[1], n + 1, 'EX', ARGV[3])
return {1, n + 1}
"""

# KEYS[1]: a counter; one taken unit back (never below zero, the expiry unchanged).
_GIVE_BACK = """
if tonumber(redis.call('GET', KEYS[1]) or '0') > 0 then return redis.call('DECR', KEYS[1]) end
return 0
"""


def monthly_runs_key(org_id: uuid.UUID, month_start: datetime) -> str:
    return f"ratelimit:runs:{org_id}:{month_start:%Y-%m}"


class Quota:
    """Counted allowances (runs a month), taken atomically: at limit-1, of two concurrent
    takers exactly one passes.

    Why not count-then-insert: two transactions counting at once both see room. The count
    lives in Redis and is seeded from the database, the record, whenever Redis has none: after
    a restart or a flush, in a new month, or after `idle_seconds` without a take. The last case
    heals the count from drift (a process that died between taking and committing, rows
    removed since) without ever reseeding in the middle of a burst, when uncommitted takes are
    in flight that the database cannot see yet. A refusal does not extend the idle time.
    """

    def __init__(self, redis: Redis, *, idle_seconds: int = 600) -> None:
        self.redis = redis
        self.idle_seconds = idle_seconds
        self._take = redis.register_script(_TAKE)
        self._give_back = redis.register_script(_GIVE_BACK)

    def take(self, key: str, *, limit: int, count: Callable[[], int]) -> bool:
        """Take one unit under `limit`; `count()` (the database's figure) is asked only when
        Redis holds no count for `key`. False: the limit is reached, nothing was taken."""
        taken, _ = self._take(keys=[key], args=[limit, -1, self.idle_seconds])
        if int(taken) < 0:
            taken, _ = self._take(keys=[key], args=[limit, count(), self.idle_seconds])
        return int(taken) == 1

    def give_back(self, key: str) -> None:
        """Return a unit `take` counted whose work was not done (its transaction rolled back)."""
        self._give_back(keys=[key])


# KEYS[1]: a window's counter. ARGV: limit, window (ms). Returns 0 (counted) or the ms to wait.
_WINDOW = """
local n = redis.call('INCR', KEYS[1])
local ttl = redis.call('PTTL', KEYS[1])
if ttl < 0 then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  ttl = tonumber(ARGV[2])
end
if n > tonumber(ARGV[1]) then return ttl end
return 0
"""


async def take_in_window(
    redis: AsyncRedis, key: str, *, limit: int, window_seconds: int, what: str
) -> None:
    """Count one call in `key`'s window (it opens with its first call), or raise `Throttled`
    with the time left in the window once `limit` calls were counted in it.

    One script: a separate INCR and EXPIRE can leave a counter without expiry (a crash in
    between) that refuses every call for ever."""
    script = redis.register_script(_WINDOW)
    wait_ms = int(await script(keys=[key], args=[limit, window_seconds * 1000]))
    if wait_ms > 0:
        wait = wait_ms / 1000
        raise Throttled(f"Too many {what}. Try again in {_wait_words(wait)}.", retry_after=wait)


# KEYS: window counters; ARGV: window (ms), then each key's limit. A call is counted in every
# window only if none is full (a refused call counts nowhere). Returns {over, {{n, ttl}, ...}}.
_WINDOWS = """
local window = tonumber(ARGV[1])
local uses = {}
local over = 0
for i, key in ipairs(KEYS) do
  local n = tonumber(redis.call('GET', key) or '0')
  local ttl = redis.call('PTTL', key)
  if ttl < 0 then ttl = window end
  if n >= tonumber(ARGV[i + 1]) then over = 1 end
  uses[i] = {n, ttl}
end
if over == 0 then
  for i, key in ipairs(KEYS) do
    uses[i][1] = redis.call('INCR', key)
    if redis.call('PTTL', key) < 0 then redis.call('PEXPIRE', key, window) end
  end
end
return {over, uses}
"""


@dataclass(frozen=True)
class WindowUse:
    """One window after a call: its limit, the calls counted, seconds until it starts over."""

    limit: int
    used: int
    reset_seconds: float

    @property
    def remaining(self) -> int:
        return max(0, self.limit - self.used)


class WindowFull(Throttled):
    """Refused: one of the windows is full; `uses` says where each stands (for headers)."""

    def __init__(self, message: str, *, retry_after: float, uses: list[WindowUse]) -> None:
        super().__init__(message, retry_after=retry_after)
        self.uses = uses


def take_in_windows(
    redis: Redis, windows: Sequence[tuple[str, int]], *, window_seconds: int, what: str
) -> list[WindowUse]:
    """Count one call in each (key, limit) window at once, or raise `WindowFull` (counting
    nothing) when any of them is full: the per-org and per-key request limits of the API."""
    script = redis.register_script(_WINDOWS)
    args = [window_seconds * 1000, *(limit for _, limit in windows)]
    over, raw = script(keys=[key for key, _ in windows], args=args)
    uses = [
        WindowUse(limit=limit, used=int(n), reset_seconds=int(ttl) / 1000)
        for (_, limit), (n, ttl) in zip(windows, raw, strict=True)
    ]
    if int(over):
        wait = max(u.reset_seconds for u in uses if u.used >= u.limit)
        raise WindowFull(
            f"Too many {what}. Try again in {_wait_words(wait)}.", retry_after=wait, uses=uses
        )
    return uses


# KEYS[1]: a month's spend (a hash of micro-dollars: spent, reserved, the cap last seen).
# ARGV: cap, amount to reserve, seed spent and seed reserved (-1: not counted yet), idle seconds.
# Returns {1, spent, reserved}: reserved now; {0, spent, reserved}: refused (at the cap);
# {2, spent, reserved}: refused (the amount does not fit in what is left); {-1, 0, 0}: no
# counter yet (the caller sums the database and calls again with the seed).
_SPEND_TAKE = """
local fresh = redis.call('EXISTS', KEYS[1]) == 0
if fresh then
  if tonumber(ARGV[3]) < 0 then return {-1, 0, 0} end
  redis.call('HSET', KEYS[1], 'spent', ARGV[3], 'reserved', ARGV[4])
  redis.call('EXPIRE', KEYS[1], ARGV[5])
end
redis.call('HSET', KEYS[1], 'cap', ARGV[1])
local spent = tonumber(redis.call('HGET', KEYS[1], 'spent') or '0')
local reserved = tonumber(redis.call('HGET', KEYS[1], 'reserved') or '0')
if spent + reserved >= tonumber(ARGV[1]) then return {0, spent, reserved} end
if spent + reserved + tonumber(ARGV[2]) > tonumber(ARGV[1]) then return {2, spent, reserved} end
redis.call('HINCRBY', KEYS[1], 'reserved', ARGV[2])
redis.call('EXPIRE', KEYS[1], ARGV[5])
return {1, spent, reserved + tonumber(ARGV[2])}
"""

# KEYS[1]: a month's spend. ARGV: the amount reserved, the amount spent. Returns {before,
# after} (spent, micro-dollars), or {-1, -1} when no counter exists (nothing to settle: the
# next reservation sums the database, which holds this spend).
_SPEND_SETTLE = """
if redis.call('EXISTS', KEYS[1]) == 0 then return {-1, -1} end
local reserved = tonumber(redis.call('HGET', KEYS[1], 'reserved') or '0') - tonumber(ARGV[1])
if reserved < 0 then reserved = 0 end
local before = tonumber(redis.call('HGET', KEYS[1], 'spent') or '0')
local after = before + tonumber(ARGV[2])
redis.call('HSET', KEYS[1], 'spent', after, 'reserved', reserved)
return {before, after}
"""


@dataclass(frozen=True)
class SpendTake:
    taken: bool
    over_cap: bool  # refused because the cap is reached (else: the amount did not fit)
    seeded: bool  # the counter was (re)made from the database's figures by this call
    spent: int  # micro-dollars settled this month
    reserved: int  # micro-dollars held by runs in flight (this one's included when taken)


class SpendMeter:
    """A month's spend per organization against its cap, in micro-dollars, checked and
    reserved atomically: a run reserves its budget when it starts and settles its real cost
    when it ends, so of two starts that would together pass the cap, one is refused.

    Seeded from the database like `Quota` (whenever Redis holds no counter, and after
    `idle_seconds` without a reservation, which heals drift); a refusal does not extend the
    idle time.
    """

    def __init__(self, redis: Redis, *, idle_seconds: int = 600) -> None:
        self.redis = redis
        self.idle_seconds = idle_seconds
        self._take = redis.register_script(_SPEND_TAKE)
        self._settle = redis.register_script(_SPEND_SETTLE)

    def take(
        self, key: str, *, cap: int, amount: int, seed: Callable[[], tuple[int, int]]
    ) -> SpendTake:
        """Reserve `amount` unless spent + reserved already reached `cap` or `amount` does not
        fit in what is left (an amount of 0 passes while anything is left); `seed()` gives
        (spent, reserved) from the database, asked only when Redis has no counter."""
        taken, spent, reserved = self._take(
            keys=[key], args=[cap, amount, -1, -1, self.idle_seconds]
        )
        seeded = int(taken) < 0
        if seeded:
            seed_spent, seed_reserved = seed()
            taken, spent, reserved = self._take(
                keys=[key], args=[cap, amount, seed_spent, seed_reserved, self.idle_seconds]
            )
        return SpendTake(int(taken) == 1, int(taken) == 0, seeded, int(spent), int(reserved))

    def settle(self, key: str, *, reserved: int, spent: int) -> tuple[int, int] | None:
        """A run ended: its reservation is released and its cost counted. (before, after)
        spent, or None when there was no counter."""
        before, after = self._settle(keys=[key], args=[reserved, spent])
        return None if int(before) < 0 else (int(before), int(after))

    def release(self, key: str, amount: int) -> None:
        """Give a reservation back (its start rolled back)."""
        self._settle(keys=[key], args=[amount, 0])
