"""Triggers: how late schedules fire, and what a tick costs, with 10,000 active schedules.

Seeds a throwaway PostgreSQL database (127.0.0.1:5432): one organization, one agent and
`--schedules` active schedules (default 10,000), then runs the real tick
(`services.schedule_tick.tick`, committed per tick like the `scheduler` process, the runs
enqueued on Redis after the commit) in one process, in real time:

- steady: every schedule is an interval schedule of `--period` seconds (default 600), their
  fire times spread evenly over the period, so about schedules/period fire each second. For
  `--seconds` (default 30) the loop ticks every `--tick` seconds (default 1, as in
  production). Fire lag = when the tick's transaction committed (and enqueued) minus the fire
  time; `tick_cpu_ms` = this process's CPU time per tick (the database's own CPU is not in it).
- burst: `--burst` schedules (default 1,000) of the 10,000 due at the same second (a
  "0 * * * *" at the top of the hour); lag of each of them, fired by back-to-back ticks.

Each section is a function returning its figures; `main` prints a table line per section and,
last, one JSON object merging them (other trigger kinds add their own section function to
SECTIONS). Drops the database unless --keep. Needs Redis (REDIS_URL, default
redis://127.0.0.1:6379/14; the database is flushed).

    python benchmarks/schedules.py [--schedules 10000] [--seconds 30] [--burst 1000] [--keep]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
ADMIN_URL = "postgresql://postgres@127.0.0.1:5432/test"


def create_database(name: str) -> None:
    import psycopg

    with psycopg.connect(ADMIN_URL, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')  # our own generated name


def drop_database(name: str) -> None:
    import psycopg

    from agent_platform.db import reset_engine

    reset_engine()
    with psycopg.connect(ADMIN_URL, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def seed_org() -> tuple[uuid.UUID, uuid.UUID, uuid.UUID]:
    """A registered user's organization with one agent: (org id, agent id, user id)."""
    from agent_platform.db import session_scope
    from services import accounts, agents
    from services.access import actor_for

    with session_scope() as s:
        user = accounts.register(
            s, email="bench@example.com", name="Bench", password="correct horse battery staple"
        )
        org_id = accounts.default_org_id(s, user.id)
        assert org_id is not None
        actor = actor_for(s, user, org_id)
        agent = agents.create_agent(s, actor, name="Bench", config={"model": "openai/gpt-4o"})
        return org_id, agent.id, user.id


def seed_schedules(
    org_id: uuid.UUID,
    agent_id: uuid.UUID,
    user_id: uuid.UUID,
    fire_times: list[datetime],
    period: int,
) -> None:
    """Active interval schedules, one per fire time, inserted in bulk (what the editor would
    have saved, without its audit entries)."""
    from sqlalchemy import insert

    from agent_platform.db import session_scope
    from agent_platform.models import Schedule, ScheduleKind
    from agent_platform.models.base import utcnow

    now = utcnow()
    rows = [
        {
            "id": uuid.uuid4(),
            "org_id": org_id,
            "agent_id": agent_id,
            "name": f"bench {i}",
            "cron": "",
            "timezone": "UTC",
            "input": {"message": f"tick {i}", "variables": {}},
            "enabled": True,
            "next_fire_at": at,
            "created_by_id": user_id,
            "created_at": now,
            "kind": ScheduleKind.INTERVAL,
            "interval_seconds": period,
        }
        for i, at in enumerate(fire_times)
    ]
    with session_scope() as s:
        for start in range(0, len(rows), 2_000):
            s.execute(insert(Schedule.__table__), rows[start : start + 2_000])


def run_ticks(
    until: Callable[[], bool], tick_every: float, batch: int
) -> tuple[list[tuple[datetime, float]], list[float]]:
    """Tick like the scheduler process until `until()`: ((fire time, lag ms) of every fire,
    CPU ms per tick)."""
    from agent_platform.db import session_scope
    from agent_platform.models.base import utcnow
    from services import schedule_tick

    lags: list[tuple[datetime, float]] = []
    cpu: list[float] = []
    while not until():
        cpu_before = time.process_time()
        with session_scope() as s:
            result = schedule_tick.tick(s, now=utcnow(), batch=batch)
        committed = utcnow()
        cpu.append((time.process_time() - cpu_before) * 1000)
        lags.extend(
            (at, (committed - at).total_seconds() * 1000) for at in result.started_fire_times
        )
        if result.schedules < batch:  # a full batch ticks again at once, as the process does
            # just after the next multiple of the tick on the clock, as the process does
            time.sleep(tick_every - time.time() % tick_every + 0.005)
    return lags, cpu


def bench_schedules(args: argparse.Namespace) -> dict[str, Any]:
    from agent_platform.models.base import utcnow

    org_id, agent_id, user_id = seed_org()
    period = args.period
    start = utcnow().replace(microsecond=0) + timedelta(seconds=3)
    steady = args.schedules - args.burst
    # Whole seconds, as the service makes them (cron minutes, intervals from a whole second).
    spread = [start + timedelta(seconds=period * i // steady) for i in range(steady)]
    burst_at = start + timedelta(seconds=args.seconds + 5)
    seed_schedules(org_id, agent_id, user_id, spread + [burst_at] * args.burst, period)

    steady_end = time.monotonic() + args.seconds + 3
    fired, cpu = run_ticks(lambda: time.monotonic() >= steady_end, args.tick, args.batch)
    lags = [lag for _, lag in fired]
    burst_fired, burst_cpu = run_ticks(
        lambda: _fired_at(burst_at) >= args.burst, args.tick, args.batch
    )
    burst_lags = [lag for at, lag in burst_fired if at == burst_at]
    return {
        "schedules": args.schedules,
        "steady_fires": len(lags),
        "fires_per_s": round(len(lags) / args.seconds, 1),
        "fire_lag_p50_ms": round(percentile(lags, 0.50), 1),
        "fire_lag_p99_ms": round(percentile(lags, 0.99), 1),
        "tick_cpu_ms": round(statistics.mean(cpu), 2),
        "tick_cpu_p99_ms": round(percentile(cpu, 0.99), 2),
        "burst_fires": len(burst_lags),
        "burst_fire_lag_p50_ms": round(percentile(burst_lags, 0.50), 1),
        "burst_fire_lag_p99_ms": round(percentile(burst_lags, 0.99), 1),
        "burst_tick_cpu_ms_max": round(max(burst_cpu), 1) if burst_cpu else 0.0,
    }


def _fired_at(moment: datetime) -> int:
    """How many schedules have fired at `moment`."""
    from sqlmodel import func, select

    from agent_platform.db import session_scope
    from agent_platform.models import ScheduleFire

    with session_scope() as s:
        return s.exec(select(func.count()).where(ScheduleFire.fire_at == moment)).one()


def bench_webhooks(args: argparse.Namespace) -> dict[str, Any]:
    """Webhook triggers: `--webhook-calls` signed calls (default 1,000) through the real route,
    served by a uvicorn subprocess on this database; `webhooks_per_s` accepted (202) beside
    GET /health on the same server (benchmarks/webhooks.py says what a call does)."""
    from benchmarks.webhooks import measure

    return measure(calls=args.webhook_calls, concurrency=args.webhook_concurrency)


# name → function(args) -> figures; each section seeds what it needs in the same database.
SECTIONS: dict[str, Callable[[argparse.Namespace], dict[str, Any]]] = {
    "schedules": bench_schedules,
    "webhooks": bench_webhooks,
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--schedules", type=int, default=10_000)
    parser.add_argument(
        "--period", type=int, default=600, help="seconds between a schedule's fires"
    )
    parser.add_argument("--seconds", type=int, default=30, help="steady part, in real time")
    parser.add_argument("--tick", type=float, default=1.0)
    parser.add_argument("--burst", type=int, default=1_000)
    parser.add_argument("--batch", type=int, default=50, help="SCHEDULE_TICK_BATCH")
    parser.add_argument("--webhook-calls", type=int, default=1_000)
    parser.add_argument("--webhook-concurrency", type=int, default=16)
    parser.add_argument("--only", choices=sorted(SECTIONS), action="append")
    parser.add_argument("--keep", action="store_true")
    args = parser.parse_args()

    name = f"bench_triggers_{uuid.uuid4().hex[:8]}"
    os.environ["DATA_DIR"] = tempfile.mkdtemp(prefix="ap-bench-")
    os.environ.setdefault("REDIS_URL", "redis://127.0.0.1:6379/14")
    os.environ["DATABASE_URL"] = f"postgresql+psycopg://postgres@127.0.0.1:5432/{name}"
    create_database(name)
    try:
        from agent_platform import migrations
        from agent_platform.redis_client import get_redis
        from agent_platform.settings import get_settings

        get_settings.cache_clear()
        migrations.upgrade()
        get_redis().flushdb()
        figures: dict[str, Any] = {}
        for section in args.only or list(SECTIONS):
            result = SECTIONS[section](args)
            print(f"{section}: " + ", ".join(f"{k}={v}" for k, v in result.items()))
            figures.update(result)
        print(json.dumps(figures))
    finally:
        if not args.keep:
            drop_database(name)


if __name__ == "__main__":
    main()
