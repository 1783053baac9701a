"""Webhook calls accepted per second, through the real HTTP route, beside its HTTP floor.

Starts the API (`agent_platform.api:create_api`, the routes Reflex mounts) in a uvicorn
subprocess on a throwaway PostgreSQL database (127.0.0.1:5432) and a Redis database
(REDIS_URL, default redis://127.0.0.1:6379/8, flushed before and after), creates one agent with
a signed trigger (rate limit at its maximum, so nothing is refused), then sends `--calls`
(default 1,000) signed calls, each its own payload and Idempotency-Key, `--concurrency` at a
time. Every call verifies the HMAC, maps the payload, writes the run and enqueues it (no worker
runs: this measures accepting, not answering). Baseline: `GET /health` through the same server
and client, the cost of the HTTP stack alone.

    python benchmarks/webhooks.py [--calls 1000] [--concurrency 16] [--keep]

Prints a table and one JSON line. `measure()` works on whatever database the environment names
(benchmarks/schedules.py runs it as its `webhooks` section); `webhook_figures()` wraps it in a
throwaway database for this script.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
ADMIN_URL = "postgresql://postgres@127.0.0.1:5432/test"
DEFAULT_REDIS = "redis://127.0.0.1:6379/8"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _percentiles(samples: list[float]) -> dict[str, float]:
    ordered = sorted(samples)
    return {
        "p50_ms": round(statistics.median(ordered), 2),
        "p95_ms": round(ordered[max(int(len(ordered) * 0.95) - 1, 0)], 2),
    }


def _setup() -> tuple[str, str]:
    """An enterprise-tier org with a saved agent and a signed trigger: (token, secret)."""
    from agent_platform.db import session_scope
    from agent_platform.models import Organization, Tier
    from services import accounts, agents, webhooks
    from services.access import actor_for

    with session_scope() as s:
        user = accounts.register(
            s, email=f"hooks-{uuid.uuid4().hex[:6]}@example.com", name="B", password="bench pw 1"
        )
        s.flush()
        org_id = accounts.default_org_id(s, user.id)
        org = s.get(Organization, org_id)
        assert org is not None and org_id is not None
        org.tier = Tier.ENTERPRISE
        s.flush()
        actor = actor_for(s, user, org_id)
        agent = agents.create_agent(s, actor, name="Bench", config={"model": "x/y"})
        s.flush()
        issued = webhooks.create_webhook(
            s,
            actor,
            agent.id,
            data={
                "name": "bench",
                "require_signature": True,
                "rate_limit_per_minute": 10_000,
                "input_mapping": {"message": "Order {{payload.id}}", "variables": {}},
            },
        )
        return issued.token, issued.secret


async def _blast(
    url: str, make: Any, calls: int, concurrency: int
) -> tuple[float, list[float], dict[int, int]]:
    import httpx

    latencies: list[float] = []
    statuses: dict[int, int] = {}
    queue = iter(range(calls))
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(timeout=60, limits=limits) as client:

        async def worker() -> None:
            for n in queue:
                method, kwargs = make(n)
                start = time.perf_counter()
                response = await client.request(method, url, **kwargs)
                latencies.append((time.perf_counter() - start) * 1000)
                statuses[response.status_code] = statuses.get(response.status_code, 0) + 1

        began = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        return time.perf_counter() - began, latencies, statuses


def measure(calls: int = 1000, concurrency: int = 16) -> dict[str, Any]:
    """The figures, on the database and Redis the environment names (already migrated): seeds
    its own org, agent and trigger, serves the API in a subprocess, sends the calls."""
    from services.webhook_delivery import sign

    token, secret = _setup()
    port = _free_port()
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "uvicorn",
            "agent_platform.api:create_api",
            "--factory",
            "--port",
            str(port),
            "--log-level",
            "warning",
            "--no-access-log",
        ],
        cwd=ROOT,
        env=dict(os.environ),
    )
    try:
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 120
        while True:
            try:
                with urllib.request.urlopen(base + "/health", timeout=2):
                    break
            except OSError:
                if time.monotonic() > deadline or server.poll() is not None:
                    raise RuntimeError("the API server did not start") from None
                time.sleep(0.2)  # waiting for a subprocess to listen, bounded by the deadline

        def health(_n: int) -> tuple[str, dict]:
            return "GET", {}

        def hook(n: int) -> tuple[str, dict]:
            body = json.dumps({"id": f"order-{n}", "total": n}).encode()
            stamp = str(int(time.time()))
            headers = {
                "Content-Type": "application/json",
                "X-Timestamp": stamp,
                "X-Signature": sign(secret, stamp, body),
                "Idempotency-Key": f"bench-{n}",
            }
            return "POST", {"content": body, "headers": headers}

        asyncio.run(_blast(base + "/health", health, 50, concurrency))  # warm-up
        h_time, h_lat, _ = asyncio.run(_blast(base + "/health", health, calls, concurrency))
        w_time, w_lat, statuses = asyncio.run(
            _blast(f"{base}/api/v1/hooks/{token}", hook, calls, concurrency)
        )
    finally:
        server.terminate()
        server.wait(30)
    accepted = statuses.get(202, 0)
    return {
        "webhook_calls": calls,
        "webhook_concurrency": concurrency,
        "webhooks_accepted": accepted,
        "webhook_statuses": {str(k): v for k, v in sorted(statuses.items())},
        "webhooks_per_s": round(accepted / w_time, 1),
        "webhook_latency_p50_ms": _percentiles(w_lat)["p50_ms"],
        "webhook_latency_p95_ms": _percentiles(w_lat)["p95_ms"],
        "health_per_s_baseline": round(calls / h_time, 1),
        "health_latency_p50_ms_baseline": _percentiles(h_lat)["p50_ms"],
        "health_latency_p95_ms_baseline": _percentiles(h_lat)["p95_ms"],
    }


def webhook_figures(calls: int = 1000, concurrency: int = 16, keep: bool = False) -> dict:
    """`measure` on a throwaway database (created, migrated, dropped) and a flushed Redis."""
    import psycopg
    import redis

    from agent_platform import migrations
    from agent_platform.db import reset_engine
    from agent_platform.settings import get_settings

    database = f"ap_bench_hooks_{uuid.uuid4().hex[:8]}"
    redis_url = os.environ.get("REDIS_URL", DEFAULT_REDIS)
    with psycopg.connect(ADMIN_URL, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{database}"')  # our own generated name
    os.environ.update(
        DATABASE_URL=f"postgresql+psycopg://postgres@127.0.0.1:5432/{database}",
        REDIS_URL=redis_url,
        DATA_DIR=os.environ.get("DATA_DIR") or tempfile.mkdtemp(prefix="ap-bench-"),
    )
    get_settings.cache_clear()
    redis.Redis.from_url(redis_url).flushdb()
    try:
        migrations.upgrade()
        return measure(calls, concurrency)
    finally:
        redis.Redis.from_url(redis_url).flushdb()
        reset_engine()
        if not keep:
            with psycopg.connect(ADMIN_URL, autocommit=True) as conn:
                conn.execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=1000)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--keep", action="store_true")
    args = parser.parse_args()
    figures = webhook_figures(args.calls, args.concurrency, args.keep)
    print(f"{'what':32} {'per s':>8} {'p50 ms':>8} {'p95 ms':>8}")
    rows = (
        ("GET /health (baseline)", "health_per_s_baseline", "health_latency_", "_baseline"),
        ("POST /api/v1/hooks/{token}", "webhooks_per_s", "webhook_latency_", ""),
    )
    for label, rate, lat, tail in rows:
        p50, p95 = figures[f"{lat}p50_ms{tail}"], figures[f"{lat}p95_ms{tail}"]
        print(f"{label:32} {figures[rate]:>8} {p50:>8} {p95:>8}")
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
