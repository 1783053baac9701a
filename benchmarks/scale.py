"""Scaling benchmark: runs per second with 1, 2 and 4 agent-worker processes.

Against PostgreSQL and Redis on 127.0.0.1 (it refuses to run on SQLite: one file-locked
database says nothing about scaling) and the scripted OpenAI-compatible server with 100 ms
model latency. For each worker count the workers start, take 10 warm-up runs, then a batch of
runs is queued at once; the rate is measured between the first and the last `done` event, so
neither process start-up nor the inserting of the batch counts. On a machine with fewer cores
than workers the extra processes share the cores: the rate shows what the machine gives, not
what more machines would. Ends with one JSON line: runs_per_s_1, runs_per_s_2, runs_per_s_4.

    python benchmarks/scale.py [--runs 600] [--workers 1,2,4] [--redis-db 15]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")

from benchmarks.runtime import (  # noqa: E402 - after the path is set
    DoneWatcher,
    configure_environment,
    set_default,
    setup_org,
    start_llm_server,
    start_runs,
)


def start_workers(count: int) -> list[subprocess.Popen[bytes]]:
    return [
        subprocess.Popen(
            [sys.executable, "-m", "agent_platform", "agent-worker", "--concurrency", "300"],
            cwd=ROOT,
            env=dict(os.environ),
        )
        for _ in range(count)
    ]


def wait_registered(count: int, timeout: float = 60) -> None:
    """Until `count` agent workers are registered in RQ (their imports are done)."""
    from rq import Queue, Worker

    from agent_platform.redis_client import get_redis

    queue = Queue("agents", connection=get_redis())
    deadline = time.monotonic() + timeout
    while Worker.count(queue=queue) < count:
        if time.monotonic() > deadline:
            raise TimeoutError(f"{count} agent workers did not start within {timeout} s")
        time.sleep(0.1)  # sleep-ok: polling for processes that are importing


def stop_workers(workers: list[subprocess.Popen[bytes]]) -> None:
    for w in workers:
        w.terminate()
    for w in workers:
        w.wait(60)


def measure(actor: object, agent_id: object, watcher: DoneWatcher, runs: int) -> float:
    warm = start_runs(actor, agent_id, 10)
    watcher.wait(warm)
    batch = start_runs(actor, agent_id, runs)
    watcher.wait(batch, timeout=600)
    done = sorted(watcher.done[str(r)] for r in batch)
    return (len(done) - 1) / (done[-1] - done[0])


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=600, help="runs per worker count")
    parser.add_argument("--workers", default="1,2,4", help="worker counts, comma-separated")
    parser.add_argument("--redis-db", type=int, default=15, help="Redis db when 6379 answers")
    args = parser.parse_args()
    counts = [int(c) for c in args.workers.split(",")]

    pg_name, redis_proc = configure_environment(args.redis_db)
    if pg_name is None or redis_proc is not None:
        if redis_proc is not None:
            redis_proc.terminate()
        sys.exit("benchmarks/scale.py needs PostgreSQL on 127.0.0.1:5432 and Redis on :6379")
    from agent_platform import migrations
    from agent_platform.redis_client import get_redis

    migrations.upgrade()
    get_redis().flushdb()
    llm_proc, base_url = start_llm_server()
    rates: dict[int, float] = {}
    try:
        actor, agent_id = setup_org(base_url)
        set_default(base_url, 0.1)
        watcher = DoneWatcher()
        for count in counts:
            workers = start_workers(count)
            try:
                wait_registered(count)
                rates[count] = measure(actor, agent_id, watcher, args.runs)
            finally:
                stop_workers(workers)
            print(f"{count} agent worker(s): {rates[count]:7.1f} runs/s", flush=True)
        print(f"{os.cpu_count()} cores; {args.runs} runs per worker count, 100 ms model latency")
        print(json.dumps({f"runs_per_s_{c}": round(r, 1) for c, r in rates.items()}))
    finally:
        llm_proc.terminate()
        import psycopg

        from agent_platform.db import reset_engine

        reset_engine()
        with psycopg.connect("postgresql://postgres@127.0.0.1:5432/test", autocommit=True) as c:
            c.execute(f'DROP DATABASE IF EXISTS "{pg_name}" WITH (FORCE)')


if __name__ == "__main__":
    main()
