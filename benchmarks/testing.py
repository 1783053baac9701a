"""Testing-engine benchmark: a 100-case suite × 3 repeats with an LLM judge, then the same again.

Real worker processes (the async agent worker for the runs and their gradings, forking RQ
workers on the testing queue for the rest) against the scripted OpenAI-compatible server with
100 ms model latency, on PostgreSQL/Redis at 127.0.0.1 when they answer, SQLite and the
bundled Redis otherwise. The agent's answer and the judge's verdict are the same JSON text, so
the rerun sees identical answers and every verdict comes from the cache. The baseline beside
it: the same 300 runs without any grading (a plain start of 300 runs, waited for alike).

Ends with one JSON line: suite_wall_s (goal ≤ 15), judge_calls, rerun_wall_s,
rerun_judge_cache_hit (goal 1.0), plain_runs_wall_s (the baseline).

    python benchmarks/testing.py [--cases 100] [--repeat 3] [--graders 2] [--redis-db 14]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")

from benchmarks.runtime import (  # noqa: E402 - after the path is set
    configure_environment,
    setup_org,
    start_llm_server,
)

VERDICT = '{"criteria": [{"id": 1, "score": 0.9, "reason": "fine"}]}'


def set_default(base_url: str, delay: float) -> None:
    import httpx

    root = base_url.removesuffix("/v1")
    httpx.post(
        f"{root}/_default", json={"text": VERDICT, "delay": delay}, timeout=5
    ).raise_for_status()


def spawn(args: list[str], log: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "agent_platform", *args],
        cwd=ROOT,
        env=dict(os.environ),
        stdout=subprocess.DEVNULL,
        stderr=log.open("ab"),
    )


def make_suite(
    actor: Any, agent_id: uuid.UUID, cases: int, repeat: int, *, name: str = "Bench"
) -> uuid.UUID:
    from agent_platform.db import session_scope
    from services.testing import suites

    with session_scope() as s:
        suite = suites.create_suite(
            s,
            actor,
            agent_id,
            {"name": name, "judge_models": ["bench/gpt-b"], "repeat": repeat},
        )
        for i in range(cases):
            suites.add_case(
                s,
                actor,
                suite.id,
                {
                    "name": f"Case {i}",
                    "message": f"question number {i}",
                    "assertions": [
                        {"type": "icontains", "value": "criteria"},
                        {"type": "llm-rubric", "value": "Answers the question", "threshold": 0.5},
                    ],
                },
            )
        return suite.id


def run_suite(actor: Any, suite_id: uuid.UUID, timeout: float) -> tuple[float, int, float]:
    """Wall seconds until the suite run closes, judge calls made, share of cached verdicts."""
    from sqlmodel import select

    from agent_platform.db import session_scope
    from agent_platform.models import SuiteRun, SuiteRunStatus, TestResult
    from services.testing import runner

    start = time.perf_counter()
    with session_scope() as s:
        suite_run_id = runner.start_suite_run(s, actor, suite_id, trigger="api").id
    deadline = time.monotonic() + timeout
    while True:
        with session_scope() as s:
            run = s.get(SuiteRun, suite_run_id)
            assert run is not None
            if run.status not in (SuiteRunStatus.QUEUED, SuiteRunStatus.RUNNING):
                wall = time.perf_counter() - start
                results = s.exec(
                    select(TestResult).where(TestResult.suite_run_id == suite_run_id)
                ).all()
                break
        if time.monotonic() > deadline:
            raise TimeoutError(f"the suite run did not finish within {timeout} s")
        time.sleep(0.05)
    outcomes = sum(len(r.details.get("judges", [])) for r in results)
    cached = sum(len(r.details.get("judge_cached", [])) for r in results)
    return wall, outcomes - cached, (cached / outcomes if outcomes else 0.0)


def plain_runs(actor: Any, agent_id: uuid.UUID, count: int, timeout: float) -> float:
    from sqlmodel import col, func, select

    from agent_platform.db import session_scope
    from agent_platform.models import Execution, ExecutionStatus
    from services import runs

    start = time.perf_counter()
    with session_scope() as s:
        ids = [runs.start_run(s, actor, agent_id, message=f"plain {i}").id for i in range(count)]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with session_scope() as s:
            open_runs = s.exec(
                select(func.count()).where(
                    col(Execution.id).in_(ids),
                    col(Execution.status).in_((ExecutionStatus.QUEUED, ExecutionStatus.RUNNING)),
                )
            ).one()
        if open_runs == 0:
            return time.perf_counter() - start
        time.sleep(0.05)
    raise TimeoutError("plain runs did not finish")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--cases", type=int, default=100)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--graders", type=int, default=1, help="RQ workers on `testing`")
    parser.add_argument("--agent-workers", type=int, default=1, help="async agent workers")
    parser.add_argument("--latency", type=float, default=0.1)
    parser.add_argument("--redis-db", type=int, default=14)
    parser.add_argument("--timeout", type=float, default=600)
    args = parser.parse_args()

    pg_name, redis_proc = configure_environment(args.redis_db)
    from agent_platform import migrations
    from agent_platform.redis_client import get_redis

    migrations.upgrade()
    get_redis().flushdb()
    llm, base_url = start_llm_server()
    set_default(base_url, args.latency)
    log = Path(os.environ["DATA_DIR"]) / "workers.log"
    procs = [spawn(["agent-worker"], log) for _ in range(args.agent_workers)]
    procs += [spawn(["worker", "--queues", "testing"], log) for _ in range(args.graders)]
    try:
        actor, agent_id = setup_org(base_url)
        suite_id = make_suite(actor, agent_id, args.cases, args.repeat)
        total = args.cases * args.repeat
        # Warm-up, not measured: every worker process up, LiteLLM imported, clients pooled.
        plain_runs(actor, agent_id, 4, args.timeout)
        warm = make_suite(actor, agent_id, 2, 1, name="Warm-up")
        run_suite(actor, warm, args.timeout)
        baseline = plain_runs(actor, agent_id, total, args.timeout)
        wall, judge_calls, _hit = run_suite(actor, suite_id, args.timeout)
        rerun_wall, rerun_calls, rerun_hit = run_suite(actor, suite_id, args.timeout)
    finally:
        for proc in procs:
            proc.terminate()
        for proc in procs:
            proc.wait(timeout=30)
        llm.terminate()
        if redis_proc is not None:
            redis_proc.terminate()
    print(f"{'measure':<34}{'value':>10}")
    print(f"{'plain runs, same count (baseline) s':<34}{baseline:>10.2f}")
    print(f"{'suite run with judge s':<34}{wall:>10.2f}")
    print(f"{'judge calls':<34}{judge_calls:>10}")
    print(f"{'rerun s':<34}{rerun_wall:>10.2f}")
    print(f"{'rerun judge calls':<34}{rerun_calls:>10}")
    print(f"{'rerun cache hit':<34}{rerun_hit:>10.2f}")
    print(
        json.dumps(
            {
                "cases": args.cases,
                "repeat": args.repeat,
                "suite_wall_s": round(wall, 2),
                "judge_calls": judge_calls,
                "rerun_wall_s": round(rerun_wall, 2),
                "rerun_judge_cache_hit": round(rerun_hit, 3),
                "plain_runs_wall_s": round(baseline, 2),
                "database": "postgresql" if pg_name else "sqlite",
            }
        )
    )


if __name__ == "__main__":
    main()
