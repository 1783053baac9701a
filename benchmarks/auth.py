"""Sign-in and per-request session cost, each beside its baseline, in one run.

- login: argon2id verify alone (baseline) vs the whole `accounts.login` (verify + Redis limiter
  + session row + audit, committed).
- session lookup (done on every page load and event): `SELECT 1` round trip (baseline) vs
  `accounts.user_for_token`.
Uses DATABASE_URL/REDIS_URL like the app (defaults: SQLite and bundled Redis must be running
under DATA_DIR; simplest is to point REDIS_URL at a Redis). Prints a table and one JSON line.
"""

from __future__ import annotations

import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DATA_DIR", tempfile.mkdtemp(prefix="ap-bench-"))


def timed(fn, n: int) -> list[float]:
    samples = []
    for _ in range(n):
        start = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - start) * 1000)
    return samples


def summary(samples: list[float]) -> dict[str, float]:
    ordered = sorted(samples)
    return {
        "p50_ms": round(statistics.median(ordered), 2),
        "p95_ms": round(ordered[int(len(ordered) * 0.95) - 1], 2),
    }


def main() -> None:
    from argon2 import PasswordHasher
    from sqlalchemy import text

    from agent_platform import migrations
    from agent_platform.db import get_engine, session_scope
    from agent_platform.redis_client import get_redis
    from services import accounts
    from services.ratelimit import DelayPolicy, LoginLimiter

    migrations.upgrade()
    email = f"bench-{time.time_ns()}@example.com"
    password = "benchmark password 1"
    with session_scope() as s:
        accounts.register(s, email=email, name="Bench", password=password)
    never = DelayPolicy(10**6, 1.0, 1.0)
    limiter = LoginLimiter(get_redis(), pair=never, client=never)
    hasher = PasswordHasher()
    stored = hasher.hash(password)

    tokens: list[str] = []

    def login() -> None:
        with session_scope() as s:
            tokens.append(accounts.login(s, limiter, email=email, password=password).token)

    def select_one() -> None:
        with get_engine().connect() as c:
            c.execute(text("SELECT 1"))

    def lookup() -> None:
        with session_scope() as s:
            assert accounts.user_for_token(s, tokens[0]) is not None

    results = {
        "argon2_verify (baseline)": summary(timed(lambda: hasher.verify(stored, password), 30)),
        "login": summary(timed(login, 30)),
        "select_1 (baseline)": summary(timed(select_one, 300)),
        "session_lookup": summary(timed(lookup, 300)),
    }
    print(f"database: {get_engine().dialect.name}")
    for name, figures in results.items():
        print(f"{name:28s} p50 {figures['p50_ms']:8.2f} ms   p95 {figures['p95_ms']:8.2f} ms")
    print(json.dumps({k.split(" ")[0]: v for k, v in results.items()}))


if __name__ == "__main__":
    main()
