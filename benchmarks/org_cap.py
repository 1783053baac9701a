"""Org concurrency cap benchmark: the agent worker's CPU for a 200-run burst over a cap of 10.

Before RQ's `RateLimit` (issue 11 §5) the worker dequeued every run, found the organization
over its cap, put the job back and paused the slot 0.2 s, over and over, until a slot freed:
CPU spent on runs that cannot start. Now runs over the cap wait in Redis and the worker only
ever sees runs it may start. Both versions run side by side in one invocation: each git ref
is exported (`git archive`) to a temporary tree and measured there with its own code, its own
throwaway PostgreSQL database (SQLite without PostgreSQL) and the same Redis db (flushed
between them). The model is the scripted OpenAI-compatible server answering after `--delay`.

    python benchmarks/org_cap.py [--baseline 4cae3c0] [--candidate HEAD] [--runs 200]
        [--cap 10] [--delay 0.5] [--redis-db 15]

Prints one line per version and ends with one JSON line: per version the worker's CPU seconds
(user + system, from the burst's first start to its last run done), the burst's wall seconds
and the most model calls in flight at once (the cap seen from the model's side).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
PG_ADMIN = "postgresql://postgres@127.0.0.1:5432/test"


def port_open(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return True
    except OSError:
        return False


def export(ref: str, into: Path) -> Path:
    """The tree of `ref` (with this script copied in: older refs do not have it)."""
    tree = into / ref.replace("/", "_")
    tree.mkdir(parents=True)
    archive = subprocess.run(["git", "archive", ref], cwd=ROOT, capture_output=True, check=True)
    subprocess.run(["tar", "-x", "-C", str(tree)], input=archive.stdout, check=True)
    shutil.copy(Path(__file__), tree / "benchmarks" / "org_cap.py")
    return tree


def measure(tree: Path, args: argparse.Namespace) -> dict[str, float]:
    """Run the burst in a child process importing `tree`'s code; its JSON line back."""
    env = dict(os.environ)
    data_dir = Path(tempfile.mkdtemp(prefix="ap-bench-cap-"))
    env.update(
        DATA_DIR=str(data_dir),
        OUTBOUND_ALLOW_HOSTS="127.0.0.1",
        STRIPE_SECRET_KEY="sk_test_bench",  # plans (and so the caps) apply only with billing on
        BILLING_ENABLED="true",
        REDIS_URL=f"redis://127.0.0.1:6379/{args.redis_db}",
    )
    pg_name = None
    if port_open(5432):
        import psycopg

        pg_name = f"ap_bench_cap_{uuid.uuid4().hex[:8]}"
        with psycopg.connect(PG_ADMIN, autocommit=True) as c:
            c.execute(f'CREATE DATABASE "{pg_name}"')
        env["DATABASE_URL"] = f"postgresql+psycopg://postgres@127.0.0.1:5432/{pg_name}"
    try:
        child = subprocess.run(
            [sys.executable, "benchmarks/org_cap.py", "--child", *child_args(args)],
            cwd=tree,
            env=env,
            capture_output=True,
            text=True,
            timeout=900,
        )
        if child.returncode != 0:
            raise RuntimeError(f"{tree.name} failed:\n{child.stderr[-3000:]}")
        return json.loads(child.stdout.strip().splitlines()[-1])
    finally:
        if pg_name:
            import psycopg

            with psycopg.connect(PG_ADMIN, autocommit=True) as c:
                c.execute(f'DROP DATABASE IF EXISTS "{pg_name}" WITH (FORCE)')
        shutil.rmtree(data_dir, ignore_errors=True)


def child_args(args: argparse.Namespace) -> list[str]:
    return ["--runs", str(args.runs), "--cap", str(args.cap), "--delay", str(args.delay)]


def burst(args: argparse.Namespace) -> None:
    """In the child: one org capped at `--cap`, one agent worker, `--runs` started at once."""
    import psutil
    from redis import Redis
    from sqlmodel import col, func, select

    from agent_platform import migrations
    from agent_platform.db import session_scope
    from agent_platform.models import Execution, ExecutionStatus, Organization
    from services import accounts, agents, runs
    from services.access import actor_for
    from services.llm import providers
    from tests.fakes.openai_server import ScriptedLLM, Turn

    Redis.from_url(os.environ["REDIS_URL"]).flushdb()
    migrations.upgrade()
    llm = ScriptedLLM()
    llm.__enter__()
    llm.set_default(Turn(text="ok", delay=args.delay))
    with session_scope() as s:
        user = accounts.register(
            s, email=f"cap-{uuid.uuid4().hex[:6]}@example.com", name="Cap", password="bench pw 1234"
        )
        s.flush()
        org_id = accounts.default_org_id(s, user.id)
        org = s.get(Organization, org_id)
        org.max_concurrent_runs, org.max_runs_per_month = args.cap, -1
        s.flush()
        actor = actor_for(s, user, org_id)
        providers.save_provider(
            s,
            actor,
            {
                "name": "bench",
                "kind": "openai_compatible",
                "api_base": llm.base_url,
                "api_key": "sk-bench",
            },
        )
        agent_id = agents.create_agent(
            s,
            actor,
            name="Cap",
            config={"model": "bench/gpt-a", "memory": {"conversation": False}},
        ).id
    worker = subprocess.Popen(
        [sys.executable, "-m", "agent_platform", "agent-worker", "--concurrency", "200"],
        env=dict(os.environ),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        redis = Redis.from_url(os.environ["REDIS_URL"])
        deadline = time.monotonic() + 300
        while not redis.smembers("rq:workers:agents"):  # registered: imports done
            if time.monotonic() > deadline or worker.poll() is not None:
                raise RuntimeError("the agent worker did not start")
            time.sleep(0.2)  # sleep-ok: polling a subprocess's start
        process = psutil.Process(worker.pid)
        cpu_before = sum(process.cpu_times()[:2])
        started = time.perf_counter()
        with session_scope() as s:
            for i in range(args.runs):
                runs.start_run(s, actor, agent_id, message=f"q{i}")
        final = [ExecutionStatus.SUCCEEDED, ExecutionStatus.FAILED, ExecutionStatus.TIMED_OUT]
        while True:
            with session_scope() as s:
                done = s.exec(select(func.count()).where(col(Execution.status).in_(final))).one()
            if done >= args.runs:
                break
            if time.perf_counter() - started > 600:
                raise RuntimeError(f"only {done} of {args.runs} runs ended in 600 s")
            time.sleep(0.2)  # sleep-ok: polling the database for the burst's end
        wall = time.perf_counter() - started
        cpu = sum(process.cpu_times()[:2]) - cpu_before
        with session_scope() as s:
            failed = s.exec(
                select(func.count()).where(Execution.status != ExecutionStatus.SUCCEEDED)
            ).one()
    finally:
        worker.terminate()
        worker.wait(60)
        llm.__exit__(None, None, None)
    print(
        json.dumps(
            {
                "worker_cpu_s": round(cpu, 2),
                "wall_s": round(wall, 2),
                # (older fakes do not count it)
                "peak_in_flight": getattr(llm, "peak_in_flight", None),
                "failed": failed,
            }
        )
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--baseline", default="4cae3c0", help="git ref before the change")
    parser.add_argument("--candidate", default="HEAD", help="git ref to compare with it")
    parser.add_argument("--runs", type=int, default=200)
    parser.add_argument("--cap", type=int, default=10)
    parser.add_argument("--delay", type=float, default=0.5, help="model latency, seconds")
    parser.add_argument("--redis-db", type=int, default=15)
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        burst(args)
        return
    scratch = Path(tempfile.mkdtemp(prefix="ap-bench-trees-"))
    try:
        result = {}
        for name, ref in (("baseline", args.baseline), ("candidate", args.candidate)):
            figures = measure(export(ref, scratch), args)
            result[name] = {"ref": ref, **figures}
            print(
                f"{name:9} {ref:10} worker CPU {figures['worker_cpu_s']:6.2f} s, "
                f"wall {figures['wall_s']:6.2f} s, peak in flight {figures['peak_in_flight']} "
                f"(cap {args.cap}), {figures['failed']} not succeeded"
            )
        print(json.dumps({"runs": args.runs, "cap": args.cap, "delay_s": args.delay, **result}))
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


if __name__ == "__main__":
    main()
