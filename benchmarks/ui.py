"""UI benchmark: seconds until each page is usable, in a real browser, with a seeded org.

Seeds one organization with 1,000 agents and 100,000 runs (bulk inserts), starts the platform
the way a user does (`python -m agent_platform up`), signs in with Chromium and opens each page
three times. "Usable" means: signed in, no loading spinner left, and the page's own content
(table, canvas, trace) on screen. The baseline is the sign-in page, which needs no data.
Ends with one JSON line mapping each page to its median seconds-to-usable, with the counts.

    python benchmarks/ui.py [--agents 1000] [--runs 100000] [--port 3917]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import signal
import statistics
import subprocess
import sys
import time
import urllib.request
import uuid
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))
os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")

from runtime import configure_environment  # noqa: E402

EMAIL, PASSWORD = "bench@example.com", "benchmark password 1"
USABLE_JS = """(selector) => {
  if (!document.querySelector('#current-user-name')) return false;
  const spinning = [...document.querySelectorAll('.rt-Spinner')].some(e => e.offsetParent);
  return !spinning && (!selector || !!document.querySelector(selector));
}"""


def seed(n_agents: int, n_runs: int) -> dict[str, str]:
    from sqlalchemy import insert

    from agent_platform import migrations
    from agent_platform.db import get_engine, session_scope
    from agent_platform.models import Agent, AgentVersion, Execution, ExecutionStep
    from agent_platform.models.base import utcnow
    from services import accounts

    migrations.upgrade()
    with session_scope() as session:
        user = accounts.register(session, email=EMAIL, name="Bench", password=PASSWORD)
        session.flush()
        org_id, user_id = accounts.default_org_id(session, user.id), user.id
    now = utcnow()
    config = {"model": "openai/gpt-4o-mini", "instructions": "You help.", "tools": []}
    agents, versions = [], []
    for i in range(n_agents):
        agent_id, version_id = uuid.uuid4(), uuid.uuid4()
        agents.append(
            {
                "id": agent_id,
                "org_id": org_id,
                "name": f"Agent {i:04d}",
                "description": "seeded",
                "config": config,
                "status": "draft",
                "current_version_id": None,
                "created_by_id": user_id,
                "created_at": now - timedelta(minutes=i),
                "updated_at": now - timedelta(minutes=i),
            }
        )
        versions.append(
            {
                "id": version_id,
                "agent_id": agent_id,
                "org_id": org_id,
                "version": 1,
                "config": config,
                "created_by_id": user_id,
                "created_at": now - timedelta(minutes=i),
            }
        )
    rng = random.Random(7)
    statuses = ["succeeded"] * 8 + ["failed", "cancelled"]
    engine = get_engine()
    with engine.begin() as conn:
        conn.execute(insert(Agent), agents)
        conn.execute(insert(AgentVersion), versions)
        for start in range(0, n_runs, 10_000):
            rows = []
            for i in range(start, min(start + 10_000, n_runs)):
                agent = agents[rng.randrange(n_agents)]
                status = rng.choice(statuses)
                created = now - timedelta(seconds=rng.randrange(30 * 86_400))
                rows.append(
                    {
                        "id": uuid.uuid4(),
                        "org_id": org_id,
                        "agent_id": agent["id"],
                        "agent_version_id": None,
                        "triggered_by_id": user_id,
                        "status": status,
                        "input": {"message": f"question {i}"},
                        "output": {"text": f"answer {i}"} if status == "succeeded" else None,
                        "tokens_used": rng.randrange(50, 2000),
                        "latency_ms": rng.randrange(200, 9000),
                        "cost": rng.randrange(1, 5000) / 1_000_000,
                        "error": "model failed" if status == "failed" else None,
                        "created_at": created,
                        "started_at": created,
                        "finished_at": created + timedelta(seconds=2),
                    }
                )
            conn.execute(insert(Execution), rows)
        last = rows[-1]["id"]
        conn.execute(
            insert(ExecutionStep),
            [
                {
                    "id": uuid.uuid4(),
                    "execution_id": last,
                    "position": p,
                    "kind": "model",
                    "model": "openai/gpt-4o-mini",
                    "tokens": 100,
                    "cost": 0.0001,
                    "latency_ms": 800,
                    "created_at": now,
                }
                for p in range(3)
            ],
        )
    return {"agent_id": str(agents[0]["id"]), "run_id": str(last)}


def wait_ready(url: str, proc: subprocess.Popen[bytes], timeout: float = 600) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"`up` exited with {proc.returncode}")
        try:
            with urllib.request.urlopen(url + "/ready", timeout=2) as answer:
                if answer.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.5)
    raise SystemExit("the platform did not become ready")


def measure(page, url: str, selector: str, repeat: int = 3) -> float:  # type: ignore[no-untyped-def]
    times = []
    for _ in range(repeat):
        began = time.perf_counter()
        page.goto(url)
        page.wait_for_function(USABLE_JS, arg=selector, timeout=60_000, polling=20)
        times.append(time.perf_counter() - began)
    return round(statistics.median(times), 3)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--agents", type=int, default=1000)
    parser.add_argument("--runs", type=int, default=100_000)
    parser.add_argument("--port", type=int, default=3917)
    args = parser.parse_args()

    pg_name, redis_proc = configure_environment()
    began = time.perf_counter()
    ids = seed(args.agents, args.runs)
    print(
        f"seeded {args.agents} agents and {args.runs} runs in {time.perf_counter() - began:.1f} s"
    )
    env = {**os.environ, "PORT": str(args.port)}
    url = f"http://localhost:{args.port}"
    proc = subprocess.Popen(
        [sys.executable, "-m", "agent_platform", "up", "--port", str(args.port)],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    results: dict[str, float] = {}
    try:
        wait_ready(url, proc)
        from playwright.sync_api import sync_playwright

        with sync_playwright() as pw:
            browser = pw.chromium.launch(
                executable_path="/usr/bin/chromium", args=["--no-sandbox"], headless=True
            )
            page = browser.new_page(viewport={"width": 1400, "height": 900})
            baseline = []
            for _ in range(3):
                t0 = time.perf_counter()
                page.goto(url + "/login")
                page.wait_for_selector("#login-submit")
                baseline.append(time.perf_counter() - t0)
            page.fill("#email", EMAIL)
            page.fill("#password", PASSWORD)
            page.click("#login-submit")
            page.wait_for_selector("#current-user-name", timeout=60_000)
            pages = {
                "/": "",
                "/agents": "#agents-table",
                f"/agent?id={ids['agent_id']}": "#agent-name",
                f"/builder?id={ids['agent_id']}": '.react-flow__node[data-id="model"]',
                f"/playground?agent={ids['agent_id']}": "#chat-input",
                "/runs": "#runs-table",
                f"/run?id={ids['run_id']}": ".trace-step, #run-output",
                "/integrations": "",
                "/knowledge": "",
                "/settings": "",
            }
            for path, selector in pages.items():
                results[path.split("?")[0]] = measure(page, url + path, selector)
                print(f"{path.split('?')[0]:<14} {results[path.split('?')[0]]:.3f} s")
            browser.close()
        print(f"{'baseline /login':<14} {statistics.median(baseline):.3f} s")
        print(
            json.dumps(
                {
                    "seconds_to_usable": results,
                    "baseline_login_s": round(statistics.median(baseline), 3),
                    "seeded": {"agents": args.agents, "runs": args.runs},
                    "database": "postgresql" if pg_name else "sqlite",
                }
            )
        )
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
        if redis_proc is not None:
            redis_proc.terminate()
        if pg_name:
            import psycopg

            from agent_platform.db import reset_engine

            reset_engine()
            with psycopg.connect(
                "postgresql://postgres@127.0.0.1:5432/test", autocommit=True
            ) as conn:
                conn.execute(f'DROP DATABASE IF EXISTS "{pg_name}" WITH (FORCE)')


if __name__ == "__main__":
    main()
